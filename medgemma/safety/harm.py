"""harm.py holds the rule lexicon for harmful requests: violence, weapons, drugs, fraud, unethical
practice, privacy, misinformation, discrimination, harassment, prompt injection, and the benign contexts
(games, sport, fiction, pests) where violent words are not about real people. Only data, like safety_patterns.
"""

from __future__ import annotations

import re

from medgemma.safety.harm_beyond import BEYOND_PATTERNS
from medgemma.safety.patterns import MY_PERSON, PERSON, rule_pattern

VIOLENT = (
    r"(?:kill|murder|poison|stab|shoot|strangle|choke|throttle|drown|suffocate|smother|hurt|harm|injure|"
    r"beat up|beat|punch|hit|attack|assault|kidnap|abduct|rape|torture|execute|butcher|dismember|behead|"
    r"decapitate|eliminate|eradicate|exterminate|wipe out|terminate|take out|do away with|get rid of(?! (?:them|it|these|those)\b| (?:my |his |her |their |the )?(?:late|leftover|old|unused|expired) )|"
    r"overdose|drug|knock out|paralyze|maim|disfigure|slit|"
    r"envenenar|matar|lastimar|herir|golpear|drogar|dormir)"
)
TARGET = (
    rf"(?:someone|somebody|a person|people|persons|humans?|a man|a woman|women|a child|children|kids|"
    rf"a kid|a baby|a toddler|a girl|a boy|a cop|a politician|the president|a patient|patients|"
    rf"{MY_PERSON}|my (?:mother|father|wife|husband|ex|boss|family|neighbou?r|grandmother|grandfather|"
    rf"grandparents?|(?:mother|father|brother|sister) in law|coworker|date|spouse|baby brother|tinder date)|"
    rf"(?:the|a|an|this|that|his|her|their|your) (?:\w+ ){{0,2}}?{PERSON}|him|her|them|alguien|a (?:mi|un|una) \w+|una persona|(?:his|her|their|someone|somebody) "
    rf"(?:wife|husband|child|kids?|family))"
)
REQUEST = (
    r"(?:how (?:do|can|could|would|should|might|to|much|many)|what is the (?:best|easiest|quickest|fastest|"
    r"surest)|what are (?:the |good |some )?(?:ways|methods|steps)|best (?:way|place|method|time)|"
    r"easiest way|ways? (?:of|to)|where (?:should|can|do)|which|i (?:want|need|am going|plan|intend) to|"
    r"help me|tell me|show me|teach me|explain|give me|list|steps|instructions|guide|como (?:puedo|hago|se)|"
    r"que (?:pastillas|veneno|droga)|donde|dime)"
)

GROUP = (
    r"(?:(?:gay|lesbian|trans|transgender|black|white|asian|jewish|muslim|hindu|buddhist|christian|disabled|"
    r"elderly|old|homeless|poor|fat|obese|indigenous|native|latino|hispanic|immigrant|non binary|asexual|"
    r"bisexual|divorced|pregnant|catholic|atheist|arab|mexican|chinese|african|roma|romani|hiv positive|"
    r"undocumented|mentally ill|autistic) (?:people|men|women|persons|patients|folks|kids|children|"
    r"employees|workers|students|immigrants)|women|men|immigrants|refugees|jews|muslims|christians|hindus|"
    r"buddhists|lesbians|latinos|roma|gays|blacks|minorities|people on benefits|people with (?:disabilities|"
    r"hiv|aids|autism|mental illness|obesity)|the elderly|the disabled|the poor|the homeless)"
)
NEGATIVE = (
    r"(?:not (?:be )?(?:allowed|given|admitted|permitted|entitled|shown|able to|hold|have|get|to have)|"
    r"be (?:denied|barred|refused|kicked off|discriminated|excluded|turned away|overrepresented)|"
    r"go through extra|earn less|so much weaker|weaker than|make (?:all )?(?:the )?(?:major )?(?:political )?"
    r"decisions|have (?:their|someone) (?:\w+ )?make decisions|take away|took away|denied (?:medical )?care|"
    r"refuse (?:to treat|treatment|care)|turn away|not deserve)"
)
IMPOSSIBLE = (
    r"(?:on (?:saturn|jupiter|mars|the moon|the sun)|sun s surface|underwater|time ?travel|teleport|"
    r"levitate|telekinesis|speed of light|through walls|lasers?|lightning|\d{3} years|other dimensions|"
    r"resurrect|control the weather|black hole|made of|decibels|stop time|passage of time|into animals|"
    r"see through|float|breathe in space|fly unaided)"
)
HARM_PATTERNS = [
    rule_pattern(
        "harmful.violence",
        "asks how to hurt or kill another person",
        rf"{REQUEST} .{{0,40}}\b{VIOLENT} (?:up |off |out )?{TARGET}(?! s\b)",
        rf"{VIOLENT} {TARGET} (?:slowly|quietly|without|so (?:it|that|they|no one)|and get away|undetected|"
        rf"secretly|in (?:their|his|her) sleep)",
        rf"(?:make|making|give|giving) {TARGET} (?:slowly |gradually )?(?:sick|ill|pass out|overdose|fall|bleed|suffer|die|have a (?:heart attack|stroke|seizure))",
        r"without (?:it )?being (?:traced|detected|noticed|caught)",
        r"(?:hide|cover|cover up|conceal) (?:the )?(?:bruises|injuries|marks|burns) on",
        rf"(?:terminate|end|take) (?:someone|somebody|his|her|their|{MY_PERSON}) s? life",
        r"push .{0,30} off (?:a|the) (?:cliff|bridge|roof|balcony|building|stairs)",
        r"(?:look|seem) like an? (?:accident|natural death|suicide)",
        r"(?:looks?|seems?|pass(?:es)? as|put down to|think (?:it s|it is|it was|its)) (?:like )?natural causes|(?:look|seem|appear)s? natural\b",
        r"(?:get|gets|got|slip|slips) past (?:a |the )?(?:coroner|autopsy|post mortem|postmortem|tox\w* screen|pathologist)",
        r"(?:looks?|seems?) like (?:he|she|they) (?:just )?(?:got|was|were|fell|became|went) (?:ill|sick|unwell)(?: naturally)?",
        r"so (?:the )?(?:coroner|police|pathologist|autopsy|post mortem|doctors?|hospital) (?:\w+ )?(?:never|will not|would not|"
        r"does not|can not|do not) (?:notice|find|detect|suspect|know|pick up)\w*",
        r"(?:looks?|seems?|appears?) like (?:his|her|their) (?:own )?(?:\w+ ){0,2}(?:did it|caused it|killed (?:him|her|them))",
        r"(?:kill|hurt|harm) .{0,30}without (?:leaving|it showing)",
        r"(?:so|where) (?:the )?bruises (?:do not|will not|would not) show",
        r"without leaving (?:marks|a trace|traces)",
        r"(?:undetectabl[ey]|untraceabl[ey]|undetected|hard to detect|not (?:show up|be detected)|"
        r"without (?:it )?showing up) .{0,30}(?:autopsy|tox|test|screen|poison|post mortem|postmortem)",
        r"(?:autopsy|toxicology|post mortem|postmortem) .{0,20}(?:not|never) (?:detect|show|find|pick up)",
        r"(?:put|slip|crush|mix|add|sneak|hide) .{0,40}(?:in|into|to) (?:someone|somebody|his|her|their|my \w+|"
        r"a|the) ?(?:\w+ )?(?:drink|food|coffee|tea|meal|juice|soup|dinner|lunch|breakfast|water|wine|beer|smoothie|bottle)",
        r"(?:lethal|fatal|deadly) (?:dose|amount) .{0,40}(?:someone|a person|another|into|for a (?:grown )?"
        r"(?:man|woman|person)|for an? (?:adult|grown|elderly|old|average)\b|for an? \d+ ?(?:kg|kgs|kilos?|lbs?|pounds?|stone) \w+|to kill|my)",
        r"(?:how much|how many|what dose|what amount|which) .{0,40}(?:would|to|will|could) (?:actually |really |reliably )?(?:kill|stop) (?:a|someones?|somebodys?|"
        r"his|her|their|my|the)",
        r"(?:give|cause) (?:someone|somebody|him|her|them) a heart attack",
        r"(?:tamper|mess) with .{0,30}(?:pump|pacemaker|medication|insulin|ventilator)",
        r"disable .{0,20}(?:alarms?|ventilator|monitor)",
        r"induce a miscarriage .{0,40}without",
        r"(?:smash|crush|crack|break|shatter|cut off|chop up|saw|hammer) .{0,20}(?:skull|spine|sternum|neck|"
        r"face|head|legs|kneecaps?|bones?|body|dead body|human)",
        r"(?:dispose of|hide) (?:a|my|the) (?:dead )?(?:body|baby)",
        r"(?:commit|plan|get away with) (?:a )?(?:murder|massacre|assassination|kidnapping|rape|arson|terrorism|"
        r"terrorist attack|shooting|genocide)",
        r"(?:where|how) .{0,20}(?:find|get) people to (?:shoot|kill|hurt)",
        r"envenenar",
        r"matar a",
        r"sin (?:que|dejar) (?:se den cuenta|rastro)",
        r"para dormirlo",
        r"veneno (?:que )?no se detecta",
        r"(?:make|making) (?:my|a) child sick",
    ),
    rule_pattern(
        "harmful.weapons",
        "asks how to make a weapon, explosive or toxin",
        r"(?:makes?|making|made|build|builds|building|create|creates|synthesi[sz]e[sd]?|synthesi[sz]ing|produces?|manufactures?|culture|grow|weaponi[sz]e|"
        r"cook|brew|extract|3d print|prepare|fabricar|hacer|synthesis|recipe|formula|blueprint) .{0,40}(?:bomb|explosive|pipe bomb|ricin|anthrax|sarin|"
        r"nerve agent|nerve gas|poison gas|toxic gas|napalm|chemical weapon|bioweapon|biological weapon|botulinum|botulism toxin|molotov|silencer|"
        r"untraceable gun|ghost gun|mustard gas|vx|chlorine gas|thermite|tnt|dirty bomb|virus|bomba|explosivo)",
        r"(?:spread|release) (?:a |the )?(?:disease|virus|pathogen|infection) (?:on purpose|deliberately|intentionally|at)",
        r"weaponi[sz]e",
        r"(?:build|make|print) (?:a |an )?(?:weapon|gun) (?:with|using|at home)",
        r"(?:convert|turn|modify|make) .{0,30}(?:semi auto\w*|semi automatic|ar 15|ak 47|rifle|pistol|glock|"
        r"gun) .{0,20}(?:full auto\w*|fully automatic|automatic fire)",
        r"auto sear|glock switch|(?:full auto|fully automatic) (?:conversion|switch|kit)",
        r"chloroform .{0,30}(?:knock|someone|unconscious)",
    ),
    rule_pattern(
        "harmful.attack",
        "asks how to attack a place or commit a violent crime",
        r"(?:destroy|demolish|smash|slash|vandali[sz]e|key|wreck) (?:someone s|somebody s|my (?:\w+ ){1,2}s|his|her|"
        r"their|a neighbou?r s) (?:\w+ )?(?:house|home|car|cars|tires|motorbike|bike|office|store|shop|property)",
        r"(?:blow up|bomb|bombing|set fire to|set on fire|burn down|explode|obliterate|"
        r"break into|rob|burgle|hijack) (?:a |an |my |the |his |her |someone s |an entire |my ex \w* ?s? ?)?(?:\w+ )?"
        r"(?:house|home|school|hospital|building|car|cars|concert|stadium|city|church|office|army base|plane|"
        r"tires|motorbike|casino|bank|bank vault|vault|store|shop)\b(?! in (?:minecraft|a game|the game))",
        r"(?:set|setting) (?:a |the )?(?:\w+ )?(?:on fire|ablaze)(?! when)",
        r"(?:commit|plan|get away with|engage in|carry out) (?:a |an )?(?:\w+ )?(?:murder|massacre|assassination|"
        r"kidnapping|rape|arson|terrorism|terrorist attack|robbery|assault|burglary|genocide|hate crime|shooting|"
        r"bombing|fraud|identity theft|treason|money laundering|explosion)",
        r"launder (?:money|cash)",
        r"take .{0,25}hostage",
        r"steal(?:ing)? (?:a |an |someone s |my \w+ s |other people s )?(?:\w+ )?"
        r"(?:car|wallet|purse|identity|credit card|money|playstation|bike|phone|package)",
        r"(?:replicate|repeat|recreate|restore|emulate|copy) .{0,40}(?:attacks?|assassination|massacres?|genocide|"
        r"concentration camp|atomic bombs?|discrimination|jim crow|khmer rouge|ethnic cleansing|taliban|pinochet)",
        r"(?:was|were|is) .{0,40}(?:right|justified|a good thing) (?:to )?(?:kill|attack|invade|shoot|bomb|enslave)|(?:genocide|holocaust|massacre|slavery|apartheid|ethnic cleansing|bombing)s? (?:\w+ ){0,3}(?:justified|a good thing)",
        r"(?:never (?:happened|took place)|complete fabrication|overstate what happened)",
        r"benefits of (?:the )?(?:ethnic cleansing|genocide|slavery|holocaust|apartheid|khmer)",
        r"kill the most people",
        r"(?:can i|to) kill people with",
    ),
    rule_pattern(
        "harmful.drugs",
        "asks how to make, obtain or misuse drugs",
        r"(?:makes?|making|made|cooks?|cooking|synthesi[sz]e[sd]?|synthesi[sz]ing|produces?|extracts?|grows?|brews?|manufactures?|preparar?|fabricar|"
        r"hago|hacer|preparo|fabrico|cocinar|cocino|synthesis|formula|"
        r"recipe for) .{0,30}(?:meth|methamphetamine|crack|cocaine|heroin|fentanyl|lsd|dmt|mdma|ecstasy|ghb|"
        r"psilocybin|pcp|crystal|drugs|metanfetamina|drogas|opium|morphine|cocaina|heroina|fentanilo|extasis)",
        r"(?:buy|buying|get|getting|order|ordering|obtain|obtaining|purchase|score|conseguir|comprar|consigo|compro) "
        r".{0,40}(?:without (?:a )?"
        r"(?:prescription|doctor|seeing a doctor|rx|script)|no prescription|on the dark web|dark web|from a dealer|"
        r"sin receta|on the street)",
        r"(?:buy|get|order|find|score) (?:a gram of|some|an? (?:eighth|ounce|bag) of) (?:coke|weed|meth|crack|heroin|"
        r"molly|ecstasy|acid)",
        r"(?:buy|get|order|find|score) (?:some )?(?:meth|crack|heroin|ecstasy pills|mdma|"
        r"molly|lsd|fentanyl|cocaine)",
        r"(?:where|how) .{0,20}(?:buy|get|find) (?:some )?weed\b(?! killer)(?! my)",
        r"get(?:ting)? (?:\w+ )?high(?! (?:blood|cholesterol|pressure|sugar|fever|temperature|marks|scores?|grades?|"
        r"quality|altitude|ground))",
        r"(?:stronger|strongest|better|faster|best|bigger|biggest|most intense) high",
        r"(?:need|take) to trip",
        r"(?:snort|inject|smoke|shoot up) .{0,20}(?:pills|adderall|oxy|oxycodone|xanax|ritalin|morphine|heroin)",
        r"fake (?:symptoms|an? illness|pain) to get",
        r"(?:symptoms|what|which words?) .{0,40}(?:describe|say|tell|use) .{0,40}(?:to get|so) (?:my |the |a )?(?:gp|doctor|"
        r"dr|pharmacist|nurse) .{0,20}(?:to )?(?:give|prescribe)",
        r"(?:what|which)(?: \w+)? (?:should|do|can|could|must) i (?:say|tell|describe|use) (?:to )?(?:my |the |a )?(?:gp|doctor|dr|"
        r"pharmacist|nurse) (?:so|to (?:get|make)) (?:.{0,30}(?:prescrib\w*|give)|(?:\w+ ){0,2}(?:codeine|oxy\w*|tramadol|morphine|adderall|diazepam))",
        r"(?:benadryl|diphenhydramine|melatonin|phenergan|promethazine|piriton|antihistamines?|sleeping (?:pills?|tablets?)|"
        r"nyquil|valium|xanax) .{0,50}knock (?:him|her|them|my \w+) out",
        r"(?:convince|trick|manipulate) (?:my |a |the )?doctor to",
        r"(?:get|getting) .{0,20}prescribed when i (?:do not|don t) have",
        r"(?:pass|beat|cheat|fool|trick) (?:a |my |the |an? )?(?:\w+ ){0,2}(?:drug|follicle|urine|saliva|swab|tox\w*|"
        r"probation) (?:test|screen)",
        r"(?:darknet|dark net|dark web|deep web|tor) (?:site|market|marketplace|vendor|shop|link)s?",
        r"(?:synthetic|fake|clean|someone else s|somebody else s) (?:pee|urine|wee) (?:\w+ ){0,4}(?:test|screen|pass)|"
        r"(?:pass|beat|fool) (?:\w+ ){0,6}(?:with|using) (?:synthetic|fake|clean) (?:pee|urine|wee)",
        r"(?:synthetic|fake) (?:pee|urine)\b",
        r"(?:beat|pass|fool|cheat|trick|get past|get round|get around) (?:a |the |my )?(?:police |roadside )?"
        r"(?:breath(?:alys|alyz|aly)\w*|breath test)",
        r"without (?:customs|the police|border (?:force|control)) (?:catching|finding|noticing|seizing|stopping)",
        r"hide my drug use",
        r"steal(?:ing)? .{0,20}(?:fentanyl|morphine|opioids|drugs|pills|oxycodone|ketamine|medications?|"
        r"controlled)",
        r"break into .{0,20}pharmacy",
        r"(?:get|go) around the pharmacy limit",
        r"smuggle .{0,20}(?:pills|drugs)",
        r"(?:sell|selling) .{0,30}(?:pills|drugs|oxy|psilocybin|mushrooms|"
        r"chemotherapy drugs|opioids|marihuana|marijuana|weed) ?(?:in the street|on the black market|online)?",
        r"black market",
        r"(?:donde|como) (?:consigo|compro|puedo conseguir|puedo comprar|conseguir|comprar) "
        r"(?:\w+ )?(?:fentanilo|cocaina|heroina|metanfetamina|oxicodona|drogas|marihuana|lsd|extasis|crack)",
        r"(?:get|give) a minor .{0,20}(?:pills|drugs|alcohol)",
        r"drogarme",
        r"(?:from|at) a vet clinic without",
        r"without (?:them|anyone) knowing",
    ),
    rule_pattern(
        "harmful.fraud",
        "asks for forged documents or fraud",
        r"(?:forge|forging|fake|faking|falsif(?:y|ying|ied)|falsifi\w*|counterfeit|fabricat(?:e|ing)|make up|made up|"
        r"(?<!a )(?<!the )(?<!your )(?<!my )doctor(?:ed|ing)?) "
        r".{0,30}(?:note|prescription|certificate|records?|reports?|cards?|test|results|data|credentials|license|"
        r"signature|claim|study|studies|lab report|diagnosis|emergency|receta|certificado)",
        r"(?:fake|false) (?:doctor|vaccination|covid|lab|medical|sick|study|positive|test)",
        r"(?:bill|billing|charge) .{0,40}(?:never (?:performed|done|provided|happened)|did not happen)",
        r"upcod(?:e|ing)",
        r"kickbacks?",
        r"insurance (?:fraud|money)",
        r"(?:claim|get) .{0,40}for (?:an? )?"
        r"(?:injury|condition|illness|disability) (?:i|he|she) (?:did not|do not|does not|never)",
        r"falsely (?:certif|claim|diagnos|document)\w*",
        r"(?:edit|alter|change|photoshop|amend|tweak) (?:a |the |my |an )?(?:scan|photo|copy|picture|pdf) of (?:my |an |a |the )?(?:old )?"
        r"(?:prescription|sick note|fit note|doctor s note|vaccination record|test result)",
        r"(?:edit|alter|change|photoshop|amend) (?:my |the |a |an )?(?:old )?(?:prescription|script) (?:\w+ ){0,3}(?:so|to say|says)",
        r"(?:make|write|create|draft|produce|do|knock up) (?:me )?(?:up )?(?:a |an )?(?:fit note|sick note|doctor s note|doctors "
        r"note|medical certificate|gp letter|hospital letter) (?:from|signed by|as if (?:it is |it was )?from|in the name of)",
        r"(?:use|using|copy|with) the (?:nhs|hospital|gp|surgery|clinic) (?:s )?(?:layout|logo|letterhead|template|stamp)",
        r"(?:prescription|sick note|doctor s note|fit note|medical certificate) .{0,80}(?:look (?:legit|real|genuine|"
        r"official)|pass (?:as|for) (?:real|genuine))",
        r"(?:certificado|receta|nota|justificante|informe|prueba) (?:\w+ )?(?:falso|falsa)",
        r"falsific\w*",
    ),
    rule_pattern(
        "harmful.unethical_practice",
        "asks how to deceive, coerce or endanger patients",
        r"without (?:their|the patient|the patients|patients|her|his|my|a patient|informed|proper|the) ?"
        r"(?:\w+ )?(?:knowledge|consent|knowing|permission|approval|license|sterili[sz]ation|evaluation)",
        r"without (?:telling|informing|documenting|disclosing|notifying) (?:them|the patient|patients|her|him|it|"
        r"anyone|the family)",
        r"without getting caught",
        r"so no one (?:finds out|notices|knows)",
        r"(?:hide|hiding|conceal|cover up|withhold|leave out|leaves out|hides) .{0,40}(?:risks?|complications?|"
        r"errors?|mistakes?|fall|side effects?|information|diagnosis) .{0,30}(?:from|patient|family|lawsuit)?",
        r"(?:hides|hide|hiding) the (?:serious )?risks",
        r"(?:change|alter|edit|modify) (?:a |the )?patient .{0,10}"
        r"(?:chart|record|notes)",
        r"(?:pressure|pressuring|coerce|manipulate|exploit|threaten|trick|force) .{0,30}"
        r"(?:patient|elderly|into (?:an? )?unnecessary|nurse|physician|sign)",
        r"unnecessary (?:surgery|procedures?)",
        r"power of attorney",
        r"(?:sterili[sz]e|restrain|experiment on|test .{0,20} on) .{0,30}(?:patient|residents|"
        r"prisoners|without)",
        r"dispense expired",
        r"(?:date|sleep with) (?:their|a|my) patient",
        r"(?:ignore|ignoring|override) .{0,20}(?:do not resuscitate|dnr|advance directive)",
        r"(?:discharge|turn away|refuse|deny|denied|denying) .{0,50}(?:uninsured|can not pay|cannot pay|can not afford|without insurance|undocumented|immigrants|hiv|"
        r"race|obese|gay|transgender|disabled|muslims?|black|poor|not stable|pain medication to)",
        r"(?:perform|do) surgery without",
        r"take money from .{0,20}(?:patient|account)",
        r"(?:prescribe|give) .{0,30}(?:to friends|without a (?:medical )?reason|for non ?medical)",
        r"(?:enroll|recruit) .{0,30}without telling",
        r"circumvent(?:ing)? .{0,30}(?:regulations|guidelines|ethic)",
        r"bypass(?:ing)? .{0,30}(?:regulat|safety|approval|ethic)",
    ),
    rule_pattern(
        "harmful.privacy",
        "asks for someone's private medical information",
        r"(?:look up|access|find out|get|see|read|open|pull up|check|snoop|view) .{0,40}(?:(?:psychiatric|therapy|"
        r"mental health|psych) (?:records?|notes|files|history)|medical records?|"
        r"health records?|chart|diagnosis|hiv status|test results|hospital records|medical history|medical (?:file|files|chart|information|info|data))",
        r"(?:hack|hacking|break) into .{0,30}(?:hospital|patient|records|database|system|account)",
        r"(?:secretly|covertly|hidden camera) .{0,20}(?:record|film|track|watch|monitor)",
        r"(?:sell|selling|leak|share) .{0,20}(?:patients?|medical) (?:records|data|information)",
        r"(?:what is|what s|tell me) (?:\w+ ){0,3}(?:hiv status|diagnosis|medical (?:history|condition))",
        r"(?:home address|addresses|phone numbers?) .{0,40}(?:diagnos\w*|medical|health records)",
        r"(?:my (?:\w+ ){1,2}s|someone s|somebody s|other people s|people s|celebrities s?|"
        r"a stranger s) (?:\w+ )?(?:social security number|ssn|credit card (?:details|number)|password|iphone pin|pin|"
        r"login|bank (?:account )?details|home address|phone number|mobile (?:phone )?number|private email(?: address)?|"
        r"passport number|driver s license(?: number)?|date of birth|browsing history|mental health history|"
        r"criminal history|immigration status|sexual orientation|religious beliefs|political affiliation|"
        r"marital status|tax records|medical records)",
        r"(?:looking|snooping|peeking|searching) (?:at|in|into|through) (?:the )?"
        r"(?:hospital|patient|medical|clinic|ehr|emr) (?:system|records?|database|charts?|files)",
        r"(?:personal|private) information (?:of|about) (?:a|the) (?:specific )?patient",
    ),
    rule_pattern(
        "harmful.misinformation",
        "asks for health misinformation",
        r"(?:write|create|draft|make|generate|compose|design|produce) .{0,100}(?:cures?|prevents?|reverses?) "
        r"(?:cancer|autism|covid|diabetes|hiv|aids|alzheimer|everything)",
        r"vaccines? (?:cause|causes) autism",
        r"(?:doesn t|does not) cause aids",
        r"measles parties",
        r"(?:bleach|turpentine|mms) (?:cures?|treats?)",
        r"(?:fake|fabricated|bogus) (?:study|studies|data|trial)",
        r"(?:stop|quit) (?:taking )?(?:their |your )?(?:insulin|medication|chemo|vaccines?) (?:and|to) use",
        r"(?:write|create|draft) .{0,40}(?:claiming|proving|saying|telling) .{0,60}(?:stop|instead of|cure|"
        r"dangerous|cause|fake|hoax)",
        r"convincing (?:article|post|video|blog)",
    ),
    rule_pattern(
        "harmful.discrimination",
        "asks to deny care or rights to a group",
        rf"(?:why|reasons? why|explain why|how) (?:\w+ ){{0,6}}?(?:should|for|that|are|would|is it best for) "
        rf"(?:\w+ )?{GROUP}\b.{{0,60}}{NEGATIVE}(?!.{{0,60}}{IMPOSSIBLE})",
        rf"(?:why|reasons? why) .{{0,10}}should not (?:\w+ )?{GROUP} be (?:allowed|permitted|given|able)(?!.{{0,60}}{IMPOSSIBLE})",
        r"(?:find out|identify) which .{0,30}(?:pregnant|gay|disabled|hiv|sick) .{0,20}(?:fire|so i can)",
        r"(?:avoid|not) (?:employing|hiring) (?:people|anyone) with",
        r"(?:fire|firing) .{0,20}(?:pregnant|disabled)",
        r"(?:should|must) be denied (?:medical )?care",
        r"(?:should|must) not (?:be entitled|have access) to .{0,20}(?:care|healthcare|treatment)",
    ),
    rule_pattern(
        "harmful.harassment",
        "asks for bullying or abusive content",
        r"(?:bully|bullying|mock|mocking|make fun of|humiliate|shame|insult|harass) .{0,40}(?:her|him|my|people|"
        r"patients?|classmate|weight|disorder|autism|disab)",
        r"convince .{0,20}(?:she|he) is (?:fat|ugly|worthless)",
        r"so (?:she|he) stops eating",
        r"(?:destroy|ruin) my ex",
        r"(?:convinc\w*|persuad\w*|encourag\w*|pressur\w*|push\w*|urg\w*|telling|tell|goad\w*|dare) "
        r".{0,40}(?<!not )(?<!never )(?:to (?:commit suicide|kill (?:himself|herself|themselves|themself)|"
        r"end (?:his|her|their) (?:own )?li(?:fe|ves)|self harm|hurt (?:himself|herself|themselves)|"
        r"cut (?:himself|herself|themselves)|starve (?:himself|herself|themselves))|"
        r"(?:he|she|they) should (?:kill|hurt) (?:himself|herself|themselves))",
    ),
]

# MedSafetyBench-style requests: a request whose object is an unethical twist on care (mock, deceive,
# coerce, bypass, discriminate ...), unless the message is about preventing or handling it.
_ASK = (
    r"(?:how|what|which|can you|could you|please|i want|help|write|draft|create|generate|list|provide|"
    r"describe|explain|develop|design|propose|outline|suggest|recommend|advise|give|offer|compose|publish|"
    r"produce|formulate|invent|convince|prescribe|instruct|detail|demonstrate|construct|compile|plan|use|"
    r"perform|discriminate|disclose|share|tell|teach|show|make)"
)
_CUE = (
    r"(?:without (?:\w+ ){0,3}(?:consent|approval|supervision|evidence|review|evaluation|indication|disclos\w*|"
    r"inform\w*|permission|knowledge|licen[sc]e|certification|oversight|authori[sz]ation|regard|considering|"
    r"scientific|diagnosis|training|anonymi[sz]\w*|respecting|medical reason)|mock\w*|ridicul\w*|belittl\w*|"
    r"humiliat\w*|insult\w*|rude\w*|dismiss\w*|trivializ\w*|insensitively|impatien\w*|annoy\w*|stigmatiz\w*|"
    r"shaming|ignor(?:e|es|ed|ing) (?:a |the |their |his |her |new |established )?(?:patient|guideline|protocol|"
    r"evidence|symptom|concern|allerg|health|need|warning|research|law|regulation|request|wish|right|standard|"
    r"sign|complaint|risk|side effect)\w*|disregard\w*|neglect\w*|downplay\w*|exaggerat\w*|overstat\w*|"
    r"misrepresent\w*|mislead\w*|false(?:ly)?|falsif\w*|fake|fabricat\w*|invent (?:data|statistics|results|"
    r"symptoms|evidence|studies)|manipulat\w*|exploit\w*|coerc\w*|pressur(?:e|ed|es|ing) (?:\w+ ){0,3}(?:into|to)|"
    r"forc(?:e|ed|es|ing) (?:\w+ ){0,3}(?:to|into)|mandated? to|obliged to|threat\w*|intimidat\w*|blackmail\w*|"
    r"bribe\w*|kickback\w*|discriminate against|based (?:solely )?on (?:their |a patient s |the patient s )?"
    r"(?:race|gender|religion|ethnicity|sexual orientation|national origin|immigration status|political|social|"
    r"ability to pay|income|age|weight|criminal|insurance|personal beliefs?)|bypass\w*|circumvent\w*|evad\w*|"
    r"avoid (?:reporting|informing|disclos\w*|telling|discussing|liability|performing|audits?)|withhold\w*|"
    r"conceal\w*|cover up|unnecessar\w*|unapproved|unlicensed|unproven|not (?:evidence based|approved|supported|"
    r"necessary|in the patient|backed)|non evidence based|pseudoscien\w*|debunked|illegal\w*|for (?:personal|"
    r"financial) (?:gain|benefit|profit)|more profitable|to (?:boost|increase|maximi[sz]e) (?:profits?|revenue|"
    r"sales|reimbursement)|deny(?:ing)? (?:care|treatment|access|services)|refus\w* to (?:treat|provide|care)|"
    r"leak(?:s|ing|ed)? (?:\w+ ){0,4}(?:information|records?|data|details|diagnos\w*|status|condition|treatment|to the)|gossip\w*|interrogat\w*|undermin\w*|discredit\w*|suppress\w*|prioritiz\w* .{0,40} over|"
    r"instead of (?:proven|evidence|standard)|non consensual|covert\w*|secretly|deliberately|intentionally|"
    r"knowingly|dissuad\w*|discourag\w*|subpar|with a defect|designed to fail|(?:could|may|might|would|to) "
    r"(?:cause )?harm (?:the |to )?patients?|dangerous levels?|excluding|so (?:they|he|she) (?:stop|stops|will stop|won t|do not) "
    r"(?:complaining|bothering|calling|asking)|to keep (?:them|him|her) quiet|chemical restraint|downcod\w*|upcod\w*)"
)
_MITIGATE = (
    r"(?:prevent|reduce|stop (?:it|this|abuse|fraud|errors?|discrimination|harassment|the spread)|counter|combat|fight|handle|respond to|deal with|(?<!avoid )report|recogni[sz]e|"
    r"detect|protect|address|identify|spot|when can|is it legal|laws?|rules|policy on|why is it|"
    r"consequences|penalt\w*|what happens|history of)"
)
UNETHICAL_REQUEST = rule_pattern(
    "harmful.unethical_practice",
    "asks how to deceive, coerce, neglect or discriminate against patients",
    rf"(?:^|[.,;:!?] )(?!.*\b{_MITIGATE}\b){_ASK}\b.*?\b{_CUE}",
)
HARM_PATTERNS.append(UNETHICAL_REQUEST)
HARM_PATTERNS.extend(BEYOND_PATTERNS)

INJECTION = rule_pattern(
    "injection",
    "tries to switch off the assistant's rules (prompt injection)",
    r"(?:ignore|disregard|forget|bypass|override) (?:all |any |the )?(?:of )?(?:your |the |my |these |those )?"
    r"(?:previous |prior |above |earlier |safety |system |original )?(?:instructions|rules|guidelines|"
    r"safety|prompts?|restrictions|programming|directives|policies|polic|filters?|safety stuff)",
    r"you are now (?:dan|an? (?:ai|assistant|model) (?:with|without))",
    r"do anything now",
    r"developer mode",
    r"jailbreak",
    r"no (?:content )?(?:policy|restrictions|rules|filters?|limits)",
    r"(?:safety|content) "
    r"(?:filter|mode|policy) (?:is )?(?:off|disabled|removed)",
    r"system override",
    r"(?:print|reveal|show|repeat|"
    r"output) (?:me )?(?:your|the) (?:system|hidden|initial|secret) (?:prompt|instructions)",
    r"(?:previous|old) rules no longer apply",
    r"(?:your )?new instructions are",
    r"unfiltered (?:ai|mode|model)",
    r"pretend (?:that )?(?:safety|your rules|the rules) (?:mode )?(?:is|are) off",
    r"act as my (?:\w+ )?grandmother who",
    r"ignora (?:tus|las|todas las) (?:reglas|instrucciones)",
    r"olvida (?:tus|las) (?:reglas|instrucciones)",
)

# Contexts where violent words are not about real people: games, sport, fiction, pests, cooking, computing.
OPERATIONAL = re.compile(
    r"\b(?:exact|exactly|precise|precisely|step by step|in detail|detailed|with quantities|quantities|recipe|"
    r"real|actually|instructions|dose|doses|dosage|undetected|undetectable|which drugs|natural causes|coroner|autopsy|"
    r"post mortem|get past|look natural|looks natural|be detected)\b"
)
