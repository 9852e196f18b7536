"""harm_beyond.py holds the rule lexicon for harmful requests that harm.py's medical lexicon does not cover:
attack code and intrusion, graphic violence and sexual content, edits that smear a named person, stolen
goods, bullying, eating-disorder and self-harm coaching, stalking a person, drugging or gassing someone,
home-made or smuggled weapons and toxins. Only data; harm.py appends these.
"""

from __future__ import annotations

from medgemma.safety.patterns import rule_pattern

_MAKE = (
    r"(?:write|generate|create|give|provide|build|develop|code|modify|make|design|craft|explain how to use)"
)
_ATTACK = (
    r"(?:sql injection|csrf|xss|cross site scripting|syn flood|dns amplification|ddos|denial of service|"
    r"ransomware|keylogger|key logger|botnet|rootkit|spyware|stalkerware|credential stuffing|"
    r"brute forc\w*|privilege escalation|reverse shell|backdoor|zero day|exploit\w*|phishing|"
    r"man in the middle|packet sniff\w*|skimm\w*|malware|computer virus)"
)
BEYOND_PATTERNS = [
    rule_pattern(
        "harmful.cyber",
        "asks for attack code, intrusion or fraud tooling",
        rf"{_MAKE} .{{0,60}}(?:code|script|program|tool|payload|attack|device|steps|instructions) .{{0,40}}{_ATTACK}",
        rf"{_MAKE} (?:me |us )?(?:a |an |the )?(?:\w+ )?{_ATTACK}",
        rf"{_ATTACK} (?:code|script|attack|payload|kit) ",
        r"(?:using|use|exploit) the \w+ vulnerability",
        r"(?:hide|conceal) the requests from .{0,20}logs",
        r"(?:scrap(?:e|ing)) (?:email addresses|personal data|phone numbers)",
        r"(?:hack|break) into (?:a |an |the |someone s |my \w+ s )?(?:\w+ )?(?:account|server|network|wifi|phone|"
        r"computer|database|email|system)",
        r"enabling (?:office )?macros is safe",
    ),
    rule_pattern(
        "harmful.graphic",
        "asks for graphic violence or sexual content",
        r"in (?:graphic|gory|vivid|explicit|gruesome) detail",
        r"(?:flayed|flaying|skinned) alive|drawn and quartered|being dismembered|snuff (?:film|video|movie)",
        r"(?:explicit|pornographic|porn|erotic|x rated|sexually explicit) (?:\w+ )?(?:story|scene|content|film|"
        r"video|script|fan ?fic\w*|novel|poem|text|description)",
    ),
    rule_pattern(
        "harmful.smear",
        "asks to edit a text so it smears a named person or spreads a false claim",
        r"(?:modify|edit|change|rewrite|alter|tweak) (?:this|the|these|that) (?:\w+ ){0,4}?(?:to|so (?:that )?it) "
        r"(?:suggest|make it (?:seem|look|appear)|imply|claim|persuade|argue|be more pro)",
        r"(?:make it|to) seem (?:more )?(?:likely )?(?:like )?(?:that )?.{0,40}(?:criminal|bribe\w*|illegal|fraud\w*|"
        r"nazi|terroris\w*|corrupt\w*)",
        r"(?:cigarettes|smoking|vaping) (?:is|are) good for you",
    ),
    rule_pattern(
        "harmful.stolen_goods",
        "asks where to sell or buy stolen goods or how to run an illegal trade",
        r"chop shops?",
        r"(?:sell|selling|buy|buying|fence|fencing) (?:\w+ )?stolen (?:cars?|goods|credit cards?|cards|phones|"
        r"identities|data)",
        r"(?:child|underage) (?:labou?rer|worker)s? (?:from )?(?:talking|speaking|reporting)",
        r"rolling coal",
    ),
    rule_pattern(
        "harmful.eating_disorder",
        "asks for help to starve, purge or hide an eating disorder",
        r"pro ?(?:ana|mia)|thinspo\w*|meanspo\w*|\b(?:ana|mia) (?:coach|buddy|mentor|tips)\b",
        r"(?:mad|angry|cross|shout\w*|yell\w*|punish\w*) (?:at )?me (?:whenever|when|every time|if) i eat",
        r"(?:hide|hiding|conceal\w*|cover up) (?:\w+ ){0,6}(?:not eating|skipping meals|my purging|throwing up after|"
        r"making myself (?:sick|throw up)|my weight loss|i do not eat)",
        r"(?:hide|hiding|conceal\w*|cover up|cover for) (?:\w+ ){0,3}(?:weight loss|not eating|purging|throwing up|skipping "
        r"meals|self harm\w*|cuts|scars) (?:\w+ ){0,6}from (?:\w+ ){0,2}(?:parents|mum|mom|dad|doctors?|gp|family|teachers?|"
        r"school|therapist|nurse|dietitian|everyone|coach)",
        r"(?:get|go|drop|reach) (?:down )?(?:to|under|below|less than) [2-4]\d ?(?:kg|kgs|kilos?)\b",
        r"starv(?:e|ing) myself|make myself (?:throw up|sick) after (?:eating|meals)",
        r"(?:quiet(?:est)?|silent|discreet) (?:way|ways|method) to (?:throw up|vomit|be sick|purge|make myself sick)",
        r"(?:throw(?:ing)? up|make myself sick|purg\w*) after (?:meals|eating|food|dinner|i eat) (?:quietly|silently|"
        r"without (?:anyone|my \w+|them) (?:hearing|noticing|knowing))",
        r"(?:laxatives?|diuretics?|water pills?) .{0,50}(?:get rid of (?:the |my )?(?:food|calories|meal|it)|after (?:a |the |"
        r"my )?binge|purg\w*|lose weight fast)",
        r"how many (?:laxatives?|diuretics?|water pills?) (?:can|should|do|could) i take",
        r"(?:laxatives?|diuretics?|water pills?) .{0,40}(?:drop|lose|shed|cut) (?:weight|\d+ ?(?:kg|kgs|kilos?|lbs?|pounds))",
        r"(?:stay|keep|eat|get) (?:under|below|less than) [1-8]\d\d ?(?:cals?|calories|kcal)\b|(?:see|show|feel) my (?:ribs|hip ?bones|"
        r"collar ?bones|spine)\b",
        r"make(?:s|ing)? (?:herself|himself|myself|themselves) (?:sick|throw up|vomit) .{0,60}(?:tricks|tips|without (?:anyone|"
        r"anybody|people|them|her parents|his parents|my parents) (?:finding out|noticing|knowing|hearing))",
        r"ignor(?:e|ing) (?:the |my )?(?:hunger|hunger pangs)(?! (?:cues|signals) (?:is|are) (?:bad|unhealthy))",
        r"(?:drop|lose) \d+ ?(?:kg|kgs|kilos?|lbs?|pounds|stone) in (?:\d+|a|one|two|three) (?:days?|weeks?).{0,60}(?:zero food|"
        r"no food|without (?:food|eating)|not eating|stop eating)",
        r"(?:motivation|tips|tricks|ways) (?:\w+ ){0,4}(?:to )?(?:not eat|stop (?:myself )?eating|keep (?:me|myself) "
        r"from eating|ignore (?:my )?hunger)",
        # someone else starved for weight ("get my 15 year old to stop eating so she makes weight"), not "eating sweets"
        r"(?:get|make|force|convince|pressure|push) (?:my|her|his|their|a|our) (?:\w+ ){0,3}(?:to )?(?:stop eating|starve|"
        r"skip meals|not eat)(?! (?:so much|as much|junk|sweets|sugar|snacks|fast food|between|late|at night|meat|"
        r"dairy|gluten|sand|dirt|crisps|chocolate))\b.{0,60}(?:weight|thin|thinner|skinny|model\w*|size|calories|diet)",
    ),
    rule_pattern(
        "harmful.self_harm_coaching",
        "asks how to self-harm or hide it",
        r"(?:cut|cuts|cutting|burn|burns|burning|hurt|hurts|hurting|harm|harms|harming)(?: myself| yourself| herself| "
        r"himself| themselves)?(?: deeper| more)? without (?:anyone|anybody|people|my \w+|them|him|her)(?: at (?:school|"
        r"work|home))? (?:noticing|knowing|seeing|finding out)",
        r"where (?:on|of) (?:the|my|your) body .{0,30}(?:no|not|never) (?:leave |show |see )?(?:visible )?(?:marks|scars|cuts)",
        r"where (?:to|can i|should i) (?:cut|burn) (?:myself )?so (?:no one|nobody|people|my \w+) (?:will not|can not|"
        r"would not|does not|do not) (?:see|notice)",
        r"(?:cut|burn|hurt|harm)(?: myself)? so (?:it |they )?(?:does not|do not|will not|would not) (?:scar|leave (?:a |any )?"
        r"(?:scars?|marks?))",
        r"where on (?:the|my|your) body .{0,30}cut .{0,30}(?:not|never) (?:show|be seen|be noticed)",
        r"cut so (?:it|that it) .{0,40}(?:does not|do not|will not|would not) need (?:stitches|a hospital|a doctor)",
        r"(?:cut|cutting|burn|burning)(?: myself)? .{0,40}(?:nobody|no one) (?:at (?:school|work|home) )?(?:notices|will "
        r"notice|sees|finds out)",
        r"(?:go|cut|cutting|going) deeper (?:\w+ ){0,3}(?:without|so|and not) (?:needing |need |getting )?(?:stitches|a hospital|a doctor|"
        r"anyone noticing)",
        r"(?:burn|cut|hurt|harm) myself (?:again )?.{0,40}(?:will not|would not|does not|do not) (?:end up )?"
        r"(?:need\w* (?:a |the )?(?:hospital|stitches|doctor|a and e))",
    ),
    rule_pattern(
        "harmful.stalking",
        "asks to locate, follow or track a person without their knowledge",
        r"(?:find|get|give|tell) (?:me )?(?:the )?(?:home address|daily routine|whereabouts|schedule) (?:and (?:\w+ ){1,2})?"
        r"(?:of|for) (?:this|that|a|an|the|my|her|his)",
        r"(?:track|follow|tracker on|locate) (?:\w+ ){0,3}(?:without (?:her|him|them) (?:knowing|knowledge)|secretly)",
    ),
    rule_pattern(
        "harmful.drugging",
        "asks how to drug or gas a person without their knowledge",
        r"spik(?:e|es|ed|ing) (?:someone s|somebody s|her|his|their|a girl s|a guy s|people s|my \w+ s|a|a woman s|a man s) "
        r"(?:\w+ )?drinks?",
        r"(?:meds?|medication|medicines?|pills|drugs|something) (?:that|to|which) (?:would |will |could )?make (?:people|him|her|"
        r"them|someone|my \w+) (?:more )?(?:agreeable|docile|compliant|confused|drowsy)",
        r"(?:how many|how much) .{0,50}(?:would|to|will|could) (?:make (?:him|her|them) (?:go peacefully|pass away|not wake up)|"
        r"knock (?:\w+ ){0,3}out|put (?:him|her|them) to sleep for good)",
        r"(?:ghb|rohypnol|roofies?|ketamine|benzos?|xanax) .{0,60}(?:so|without) (?:the )?(?:police|cops|hospital|doctors?|she|he|"
        r"they) (?:can not|will not|would not|do not) (?:test|detect|find|know|tell)",
        r"(?:give|giving) (?:my |our |the |a )?(?:\d+ (?:month|week|year) old|baby|toddler|son|daughter|kid|child)\b.{0,60}(?:stays? "
        r"quiet|keep (?:her|him|them) quiet|knock (?:her|him|them) out|shut (?:her|him|them) up)",
        r"(?:make|get|keep) (?:him|her|them|my \w+) (?:more )?(?:confused|drowsy|sleepy|sedated|out of it|compliant) so "
        r"(?:he|she|they) (?:will |ll |would |can )?(?:sign|agree|give|leave|stop)",
        r"(?:which|what) (?:of (?:his|her|their) )?(?:meds|medication|pills|tablets)? ?(?:\w+ ){0,3}(?:could|can|should|would) "
        r"i (?:double|crush|add|increase|give) .{0,60}(?:make|so) (?:him|her|them)\b",
        r"(?:poisonous|toxic|deadly|lethal|noxious) (?:fumes?|gas|gases|vapou?rs?) .{0,60}(?:leave|put|pour|release|"
        r"spray|fill) .{0,20}(?:my \w+ s|his|her|their|someone s|somebody s|the neighbou?r s) (?:\w+ )?(?:room|"
        r"bedroom|car|house|flat|office)",
        r"(?:poisonous|toxic|deadly|lethal|noxious) (?:fumes?|gas|gases|vapou?rs?) .{0,60}fill (?:a|an|the|his|her|"
        r"their|my) (?:\w+ )?(?:room|bedroom|car|house|flat|office|space)",
    ),
    rule_pattern(
        "harmful.weapons_diy",
        "asks how to print, grow or smuggle a weapon or toxin",
        r"(?:how (?:do|can|to)|guide|instructions|steps|help me) .{0,20}3d print(?:ed|ing)? (?:a |an |my own )?(?:\w+ )?"
        r"(?:gun|pistol|rifle|firearm)",
        r"(?:gun|knife|weapon|blade|firearm|pistol|explosive|bomb)s? .{0,40}(?:past|through|by) (?:the )?(?:airport )?"
        r"(?:security|scanners?|metal detectors?|x ray)",
        r"(?:extract\w*|mak(?:e|es|ing)|purif\w*|produc\w*|isolat\w*) (?:the )?ricin|ricin from (?:castor|the beans)",
        r"(?<!avoid )(?<!prevent )(?:grow|growing|culture|culturing|cultivat\w*|breed\w*) (?:my own |your own |some |a )?"
        r"(?:botulinum|botulism|anthrax|plague|smallpox|ebola)(?: bacteria| toxin| spores)? (?:at home|in (?:my|a|the) "
        r"(?:kitchen|garage|lab|house|flat|shed))",
    ),
    rule_pattern(
        "harmful.device_tampering",
        "asks how to override the safety limits of a medical device",
        r"(?:override|bypass|get (?:round|around|past)|disable|unlock|hack|turn off|switch off) (?:the )?(?:lock ?out|lock|"
        r"limits?|safety "
        r"(?:limit|lock|setting)s?|dose limits?|max(?:imum)? (?:dose|bolus)(?: limits?)?|bolus limits?) (?:\w+ ){0,3}(?:on|of|in) "
        r"(?:a |an |the |my |his |her )?(?:hospital |ward )?(?:pca|morphine|insulin|infusion|pain|syringe|opioid|fentanyl|omnipod|"
        r"tandem|"
        r"t slim|minimed|medtronic)(?: pump| driver)?",
        r"(?:(?:pca|morphine|insulin|infusion|syringe|opioid) (?:pump|driver)|omnipod|t slim|minimed) .{0,60}(?:override|"
        r"bypass|unlock|hack|"
        r"get (?:round|around) (?:the )?(?:lock ?out|limit))",
    ),
    rule_pattern(
        "harmful.cover_up",
        "asks how to harm a person or an animal without it being found out",
        r"(?:poison|kill|hurt|harm|drug|sedat)(?:e|ed|ing)? (?:it|him|her|them|someone|somebody|(?:a|the|my|his|her|"
        r"their|our|next door s|neighbou?r(?: s)?|the neighbou?r(?: s)?) (?:\w+ )?(?:dog|cat|pets?|horse|wife|husband|partner|boss|"
        r"kid|child|baby|mum|mom|dad|father|mother|neighbou?r|patient|nan|gran|grandma|friend|roommate|flatmate|sister|"
        r"brother))\b.{0,60}without (?:a |the |any |my |his |her )?(?:vet|coroner|"
        r"pathologist|police|doctors?|anyone|anybody|owners?|neighbou?rs?|them) (?:\w+ ){0,2}(?:working out|finding out|"
        r"figuring out|knowing|noticing|detecting|suspecting|realis\w*|realiz\w*|tracing|catching on)",
    ),
    rule_pattern(
        "harmful.animal_cruelty",
        "asks how to poison or sicken an animal",
        r"(?:make|get) (?:it|him|her|them|(?:the|my|our|their|next door s|neighbou?r(?: s)?|the neighbou?r(?: s)?) (?:\w+ )?(?:dog|"
        r"cat|pets?|horse|puppy|kitten)) (?:\w+ )?(?:sick|ill|poorly|vomit|die) enough",
        r"make (?:my |the |our )?(?:neighbou?r(?: s)?|next door s) (?:\w+ )?(?:dog|cat|pets?|horse) (?:really |very |so )?(?:sick|ill)",
    ),
    rule_pattern(
        "harmful.claim_fraud",
        "asks how to fake an illness or disability to get benefits or a payout",
        r"(?:what|how) (?:should|can|do|could) i (?:say|tell them|claim|pretend|act) .{0,50}(?:pip|disability|benefits?|"
        r"esa|universal credit|dwp|ssdi|ssi|capability|work capability|insurance|compensation|payout) (?:assessment|claim|"
        r"interview|review|form|tribunal|medical)",
        r"claim (?:it|that it) happened (?:abroad|on holiday|at work|over there|while i was away)",
        r"(?:what|how) (?:should|do|can) i (?:tell|say to) (?:the|my) (?:doctor|gp|dr) so (?:it|that it) (?:sounds|looks|seems) "
        r"(?:legit|real|genuine|believable|worse)",
        r"(?:what|how) (?:do|should|can) i say (?:in|at) (?:an? |my |the )?(?:\w+ )?(?:assessment|appointment|consultation) to "
        r"(?:make sure|get|guarantee) (?:they|he|she|i)",
        r"(?:i am|i m|im) (?:actually|really|perfectly) (?:fine|ok|okay|healthy|well)\b.{0,40}(?:need|want) (?:the )?"
        r"(?:money|cash|payout|benefits?|higher rate)",
        r"(?:fake|exaggerate|pretend to have|put on|act out) (?:\w+ ){0,3}(?:symptoms|disability|injury|illness|condition|"
        r"limp|pain) .{0,40}(?:pip|disability|benefits?|assessment|insurance|claim|compensation|payout)",
        r"(?:make it (?:look|seem) like|pretend|convince (?:them|the assessor|the doctor) (?:that )?) i (?:have|ve got|have got) "
        r".{0,40}(?:so (?:i|that i) (?:get|can get|qualify)|for (?:my )?(?:pip|benefits?|disability|compensation|claim))",
    ),
    rule_pattern(
        "harmful.lethal_amount",
        "asks for an amount that is sure to kill",
        r"(?:what|which|how much) (?:amount|dose|quantity|number) (?:of )?(?:\w+ ){0,3}(?:is|would be|will be) (?:reliably|"
        r"definitely|certainly|guaranteed to be|always) (?:fatal|lethal|deadly)",
        r"(?:fatal|lethal|deadly) for an? \d+ ?(?:kg|kgs|kilos?|lbs?|pounds|stone)\b",
    ),
    rule_pattern(
        "harmful.drug_buying",
        "asks who sells or where to get a street drug",
        r"(?:who|where) (?:sells?|deals?|can i (?:buy|get|score)|to (?:buy|get|score)) (?:\w+ )?(?:ket|ketamine|coke|cocaine|mdma|"
        r"molly|heroin|crack|xans?|lsd|acid|shrooms|spice|oxy\w*|fentanyl|meth|pingers|pills)\b",
    ),
    rule_pattern(
        "harmful.diversion",
        "asks how to take controlled drugs from a ward or pharmacy without it being recorded",
        r"cold water extraction|\bcwe\b.{0,30}(?:codeine|co ?codamol|oxy|opioid|tramadol)|(?:get|extract|separate) the codeine "
        r"(?:out|from)",
        r"(?:get into|open|access|take from|get round|get around|bypass) (?:the )?(?:cd|controlled drugs?|drugs?) (?:cupboard|"
        r"cabinet|safe|register|book|fridge) .{0,40}without",
        r"without (?:the )?(?:second |2nd )?(?:signature|witness|countersign\w*|co ?signature) (?:showing|being|getting|"
        r"appearing)",
    ),
    rule_pattern(
        "harmful.bullying",
        "asks how to bully or groom a child or another person",
        r"(?:bully|bullying|harass|intimidate|groom|grooming|torment) (?:a |the |this |that |my )?(?:\w+ )?(?:child|"
        r"kid|minor|teen\w*|student|pupil|coworker|colleague|person|girl|boy)",
    ),
]
