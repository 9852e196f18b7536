"""safety_patterns.py holds the rule lexicon: regular expressions over `safety_text.normalize` output.

Emergency signs and events, self-harm, harmful requests, personal-advice questions, prompt injection,
benign contexts, English and Spanish (accents folded). Only data: `safety_rules.py` decides what they mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    rule: str  # e.g. "emergency.stroke"
    reason: str  # shown to the user in the safety panel
    regex: re.Pattern


def _p(rule: str, reason: str, *alternatives: str) -> Pattern:
    return Pattern(rule, reason, re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])"))


PERSON = (r"(?:mom|mum|mommy|mother|dad|daddy|father|husband|wife|son|daughter|child|kid|baby|toddler|infant|"
          r"newborn|brother|sister|friend|boyfriend|girlfriend|partner|grandmother|grandma|grandfather|grandpa|"
          r"granny|nan|nana|uncle|aunt|cousin|neighbor|neighbour|roommate|flatmate|coworker|colleague|boss|"
          r"teacher|student|patient|grandson|granddaughter|niece|nephew|fiance|fiancee|spouse|parent|teen|"
          r"teenager|stepdad|stepmom|stepson|stepdaughter|ex|classmate|mother in law|father in law|guest|"
          r"client|family|children|kids|parents|sibling|twin|man|woman|guy|lady|person|someone|somebody|"
          r"hermano|hermana|hijo|hija|esposo|esposa|marido|mujer|papa|mama|padre|madre|abuelo|abuela|"
          r"bebe|nino|nina|amigo|amiga|novio|novia|tio|tia|vecino|vecina|companero|companera)")
MY_PERSON = rf"(?:my|our|mi|mis|nuestro|nuestra) (?:[a-z0-9]+ ){{0,3}}?{PERSON}s?"
THIRD = r"(?:he|she|they|him|her|his|hers|them|their|el|ella)"
SUBJ = rf"(?:i|we|he|she|they|{MY_PERSON})"
NOW = r"(?:right now|now|just|currently|at the moment|tonight|today|this morning|this minute|ahora|hoy)"

# ---------------------------------------------------------------- emergencies (signs need a person, now)
EMERGENCY_SIGNS = [
    _p("emergency.chest_pain", "chest pain or pressure that can be a heart attack",
       r"chest (?:pain|pains|pressure|tightness|discomfort|hurts?|is hurting|is (?:tight|heavy|crushing)|"
       r"feels (?:tight|heavy|like)|is killing me)",
       r"(?:pain|pressure|tightness|heaviness|squeezing) (?:in|on|across|going into|spreading (?:to|into)|"
       r"in the middle of) (?:my |his |her |the )?chest",
       r"crushing (?:pain|chest|pressure)", r"elephant .{0,40}chest", r"chest .{0,40}elephant",
       r"clutching (?:his|her|my|their) chest", r"chest (?:pain|pressure) .{0,30}(?:left )?(?:arm|jaw|shoulder)",
       r"(?:dolor|presion) (?:muy )?(?:fuerte )?(?:en|de|del) (?:el )?pecho", r"me duele (?:mucho )?el pecho"),
    _p("emergency.breathing", "not breathing or struggling to breathe",
       r"(?:can not|could not|cannot|unable to|struggling to|hard to|trouble|difficulty|problems?) ?"
       r"(?:to )?(?:breathe|breathing|catch (?:my|his|her) breath)",
       r"(?:not|no longer|stopped|is not|isnt|barely) breathing", r"breathing is (?:weird|strange|shallow|gurgling)",
       r"gasping (?:for air)?", r"(?:turning|turned|going|is|are|look) (?:blue|purple|gray|grey)",
       r"lips (?:are )?(?:turning )?(?:blue|purple)", r"choking", r"can not (?:cough|talk) or (?:cough|talk)",
       r"(?:throat|airway) (?:is |feels like it is |feels )?(?:closing|swelling|swelled|tight)",
       r"(?:tongue|throat|face|lips) (?:is |are )?(?:swelling|swelling up|swollen)",
       r"no (?:puedo|puede) respirar", r"(?:me|le) cuesta respirar", r"no respira", r"se (?:esta )?ahogando",
       r"se me cierra la garganta", r"(?:wheezing|short of breath|shortness of breath) .{0,40}"
       r"(?:swell\w*|sting\w*|peanuts?|allergic|chest|blue|lips|getting worse)"),
    _p("emergency.stroke", "sudden signs of a stroke (face, arm, speech)",
       r"face (?:is |looks |feels |went )?(?:drooping|droopy|droops|sagging|numb|lopsided|twisted)",
       r"(?:drooping|droopy|sagging|lopsided|crooked) (?:face|smile|mouth)", r"smile is (?:lopsided|crooked|uneven)",
       r"(?:slurred|slurring|garbled) (?:speech|words|his words|her words|my words)?",
       r"speech is (?:slurred|garbled)", r"words come out wrong",
       r"(?:can not|could not|unable to) (?:lift|move|feel|raise) (?:my|his|her) (?:left |right )?(?:arm|leg|side)",
       r"(?:arm|leg|side) (?:is |feels |went )?(?:weak|numb|paralyzed|limp)",
       r"(?:half|side) of (?:my|his|her) (?:face|body) (?:feels |went |is )?(?:numb|weak)",
       r"(?:suddenly|sudden) (?:can not|could not) (?:speak|talk|see)", r"can not speak properly",
       r"(?:vision went black|lost (?:the )?vision) in one eye", r"can not see out of (?:my|his|her|one)",
       r"(?:cara|boca) (?:torcida|caida)", r"se le (?:cayo|cae) la cara", r"no puede hablar",
       r"brazo (?:debil|dormido)"),
    _p("emergency.unconscious", "someone collapsed, is unresponsive or has no pulse",
       r"collapsed", r"(?:is |was |are )?(?:unconscious|unresponsive)", r"not (?:responding|moving|waking up)",
       r"(?:will not|can not|won t|does not) (?:wake up|respond)", r"(?:we|i) can not wake (?:him|her|them)",
       r"no pulse", r"(?:passed out|fainted|knocked out) .{0,40}(?:breath|vomit|throw|respond|twice|hit)",
       r"(?:barely|hardly) breathing", r"(?:passed out|fainted) twice", r"no (?:heartbeat|heart beat)",
       r"se desmayo", r"no responde", r"inconsciente", r"no despierta"),
    _p("emergency.seizure", "a seizure that is happening now",
       r"(?:having|has) (?:a )?(?:seizure|fit|convulsions?)", r"seizing", r"convulsing", r"convulsions",
       r"convulsionando", r"(?:tiene|tener) convulsiones", r"esta convulsionando"),
    _p("emergency.overdose", "an overdose or a swallowed poison",
       r"overdosed?", r"overdosing",
       r"(?:took|take|swallowed|ate|taken|have taken|drank) (?:about |around |maybe |like )?(?:\d+|a (?:whole|full)|"
       r"all|too many|to many|lots of|a lot of|a bunch of|several|half a|an entire|some of|many) .{0,40}"
       r"(?:pills?|tablets?|capsules?|bottle|medication|medicine|meds|tylenol|pills|of them|packet|pods?)",
       r"(?:swallowed|drank|ate|drinking|ingested|got into|inhaled) .{0,30}(?:bleach|drain cleaner|antifreeze|"
       r"rat poison|poison|battery|batteries|magnet|chemicals?|detergent|pods?|cleaning|pesticide|"
       r"weed killer|lye|iron pills|a lot of smoke|smoke|blood pressure pills)",
       r"(?:mixed|mixing) bleach and ammonia", r"was electrocuted|got electrocuted",
       r"sobredosis", r"(?:tome|tomo|me tome|se tomo|trago|se trago) (?:muchas|todas|un frasco|una pila|"
       r"el frasco|mucho|todo)", r"(?:frasco|botella) de (?:cloro|pastillas|lejia)", r"pila de boton"),
    _p("emergency.bleeding", "severe bleeding",
       r"bleeding (?:a lot|heavily|badly|so much|profusely|everywhere|will not stop|that will not stop|"
       r"does not stop|won t stop|from (?:a|the|my|his|her) (?:knife|gunshot|wound|head))",
       r"(?:bleeding|blood) .{0,20}(?:will not|would not|does not|can not|wont) stop",
       r"blood (?:is )?(?:spurting|pouring|gushing|everywhere|soaking)", r"soaking through",
       r"(?:vomiting|throwing up|coughing up|coughing|spitting up) (?:a lot of )?blood",
       r"(?:bleeding|blood) (?:heavily|a lot)", r"pregnant and bleeding", r"can see (?:the )?bone",
       r"(?:deep|bad|badly) (?:cut|wound|gash).{0,30}(?:bleeding|blood|bone)", r"cut (?:her|his|my) arm badly",
       r"knife wound|gunshot|been shot|was shot|got shot|stabbed",
       r"sangrando mucho", r"no (?:para|deja) de sangrar", r"sangre"),
    _p("emergency.anaphylaxis", "a severe allergic reaction",
       r"(?:allergic reaction|anaphylaxis|anaphylactic).{0,60}(?:swell\w*|breath\w*|throat|lips|tongue|face|dizzy|wheez\w*)",
       r"(?:swell\w*|breath\w*|throat|lips|tongue|face|dizzy).{0,60}(?:allergic reaction|sting|peanuts?|shrimp|"
       r"penicillin|bee|wasp)",
       r"(?:really |very |severe |bad )allergic reaction", r"reaccion alergica"),
    _p("emergency.other", "a symptom that needs emergency care now",
       r"worst headache (?:of my life|i have ever had|ever)", r"(?:can not|could not) feel (?:my|his|her) legs",
       r"hit by a car", r"(?:fell|fallen) (?:off|from|down) .{0,40}(?:head|not moving|throw\w*|confused|can not)",
       r"hit (?:my|his|her) head .{0,60}(?:vomit\w*|throw\w*|confused|knocked|sleepy|drowsy)",
       r"knocked out", r"water broke", r"baby is coming", r"appendix burst",
       r"(?:heart|pulse) (?:is )?(?:racing|pounding|beating) .{0,20}(?:1[5-9]\d|2\d\d)",
       r"(?:sugar|glucose) (?:is |reads |of |at )?(?:[1-4]\d)\b.{0,40}(?:shak\w*|confus\w*|respond\w*|sweat\w*|faint\w*)",
       r"(?:sugar|glucose) (?:is |reads |of |at )?[1-4]\d and (?:she|he|i) (?:will not|can not|is not)",
       r"stiff neck.{0,40}(?:fever|rash)", r"rash that (?:does not|will not) fade",
       r"severe (?:headache|belly pain|abdominal pain|stomach pain).{0,60}(?:pregnant|blurry|vomit\w*|fever|sudden)",
       r"pregnant .{0,40}(?:severe headache|blurry vision|heavy bleeding|bleeding heavily)",
       r"(?:fever|temperature) of (?:3[89]|4\d|10[2-9]).{0,40}(?:floppy|limp|week old|month old|newborn)",
       r"(?:week|weeks|day|days) old .{0,50}(?:fever|floppy|limp|not feeding)",
       r"lying on the floor .{0,30}(?:confused|for hours|can not)", r"hip looks (?:twisted|wrong)",
       r"asthma attack .{0,40}(?:inhaler|not working|can not)", r"inhaler (?:is not|does not) (?:working|help)",
       r"drowsy|very floppy|is floppy", r"(?:something is )?very wrong .{0,30}(?:face|arm|chest|breath)"),
]

# Named events: only an emergency when happening ("is having a stroke"), never as a topic.
EMERGENCY_EVENTS = [
    _p("emergency.event", "a heart attack, stroke, seizure or overdose happening now",
       r"(?:having|suffering|in the middle of|going into|gone into) (?:a |an )?(?:heart attack|stroke|seizure|"
       r"cardiac arrest|overdose|anaphylactic shock|anaphylaxis|asthma attack|allergic reaction|diabetic coma|"
       r"hypo|hypoglycemic (?:episode|attack))",
       r"(?:teniendo|tiene|tengo|da|dando) (?:un |una )?(?:infarto|derrame|ataque al corazon|ataque cerebral|"
       r"convulsion)", r"creo que .{0,20}(?:infarto|derrame)",
       r"(?:heart attack|stroke|seizure) (?:right now|is happening|happening now)",
       r"(?:has|have|having|shows|showing) (?:all )?(?:of )?(?:them|the (?:warning )?(?:signs|symptoms))"
       r"(?: all)? (?:right now|now)",
       r"(?:same|those|the) symptoms are back"),
]

SELF_HARM = [
    _p("emergency.self_harm", "thoughts or plans of suicide or self-harm",
       r"(?:kill|hang|hurt|harm|cut|shoot|drown|poison|burn|stab) (?:myself|himself|herself|themselves|themself)",
       r"(?:end|take|ending|taking) (?:my|his|her|their) (?:own )?life",
       r"end (?:it|it all|everything|things)(?: tonight| today| now| soon)?",
       r"(?:want|wants|wanted|going|planning|plan|ready|decided|about) to (?:die|end it|not be here|disappear forever)",
       r"(?:do not|does not|no longer) want to (?:live|be alive|be here|wake up|exist|go on)",
       r"(?:better off|happier) (?:without me|once i am gone|if i (?:was|were) (?:dead|gone)|when i am gone)",
       r"(?:goodbye|suicide) (?:letters?|notes?|messages?)", r"this is my goodbye", r"no one would miss me",
       r"nobody would miss me", r"no (?:point|reason) (?:in )?(?:living|to live|going on)",
       r"(?:can not|could not) go on", r"never wake up", r"not wake up",
       r"(?:going|about|want) to jump(?: off)?", r"jump off (?:my|the|a) (?:balcony|bridge|roof|building)",
       r"slit (?:my|his|her) wrists?", r"cut too deep", r"(?:i am|i feel|feeling|am) suicidal",
       r"(?:thinking|thought|thoughts) (?:about|of) (?:suicide|killing myself|ending (?:it|my life)|dying)",
       r"commit suicide", r"(?:kill|end) my ?self", r"everything ready", r"tonight is the night",
       r"made up my mind", r"saving up (?:my )?pills", r"bought a (?:rope|gun)", r"gun (?:is )?loaded",
       r"suicid(?:e|arme|arse|ar)", r"quitar(?:me|se|le)? la vida", r"matar(?:me|se)", r"quiero morir(?:me)?",
       r"me quiero morir", r"no quiero (?:seguir )?vivir", r"acabar con (?:mi vida|todo)",
       r"tengo todo (?:preparado|listo)", r"(?:sever|cut|pierce) (?:my|his|her) (?:own )?(?:\w+ )?(?:artery|wrists?)",
       r"carve .{0,20}into my (?:arm|skin|leg)", r"(?:go out|die|end my life) like "
       r"(?:sylvia plath|amy winehouse|kurt cobain|robin williams)"),
    _p("emergency.self_harm_method", "asking for a way to die",
       r"(?:best|easiest|quickest|fastest|painless|surest|least painful|most painless|quietest|quick|simplest) "
       r"(?:way|ways|method|methods) (?:to|of) (?:die|dying|commit suicide|committing suicide|end (?:my|your|one) life|"
       r"(?:kill|hang|drown|shoot|poison|cut|hurt|overdose|suffocate) (?:myself|yourself|oneself))",
       r"(?:how many|how much|what dose|what amount) .{0,60}(?:to die|to not wake up|to never wake up|"
       r"to kill (?:me|myself)|would kill me|be fatal for me|it take to (?:die|not wake up|kill me))",
       r"(?:how|where) (?:do|can|could|should|would) (?:i|you|one) (?:best )?(?:commit suicide|kill myself|"
       r"hang myself|drown myself|end my life|overdose)",
       r"high enough that i (?:will not|would not|won t) survive", r"(?:die|morir) sin dolor"),
]

# ---------------------------------------------------------------- harmful requests
VIOLENT = (r"(?:kill|murder|poison|stab|shoot|strangle|choke|throttle|drown|suffocate|smother|hurt|harm|injure|"
           r"beat up|beat|punch|hit|attack|assault|kidnap|abduct|rape|torture|execute|butcher|dismember|behead|"
           r"decapitate|eliminate|eradicate|exterminate|wipe out|terminate|take out|do away with|get rid of|"
           r"overdose|drug|sedate|knock out|paralyze|maim|disfigure|slit|"
           r"envenenar|matar|lastimar|herir|golpear|drogar|dormir)")
TARGET = (rf"(?:someone|somebody|a person|people|persons|humans?|a man|a woman|women|a child|children|kids|"
          rf"a kid|a baby|a toddler|a girl|a boy|a cop|a politician|the president|a patient|patients|"
          rf"{MY_PERSON}|my (?:mother|father|wife|husband|ex|boss|family|neighbou?r|grandmother|grandfather|"
          rf"grandparents?|mother in law|coworker|date|spouse|baby brother|tinder date)|"
          rf"him|her|them|alguien|a (?:mi|un|una) \w+|una persona|(?:his|her|their|someone|somebody) "
          rf"(?:wife|husband|child|kids?|family))")
REQUEST = (r"(?:how (?:do|can|could|would|should|might|to|much|many)|what is the (?:best|easiest|quickest|fastest|"
           r"surest)|what are (?:the |good |some )?(?:ways|methods|steps)|best (?:way|place|method|time)|"
           r"easiest way|ways? (?:of|to)|where (?:should|can|do)|which|i (?:want|need|am going|plan|intend) to|"
           r"help me|tell me|show me|teach me|explain|give me|list|steps|instructions|guide|como (?:puedo|hago|se)|"
           r"que (?:pastillas|veneno|droga)|donde|dime)")

HARM_PATTERNS = [
    _p("harmful.violence", "asks how to hurt or kill another person",
       rf"{REQUEST} .{{0,40}}\b{VIOLENT} (?:up |off |out )?{TARGET}(?! s\b)",
       rf"{VIOLENT} {TARGET} (?:slowly|quietly|without|so (?:it|that|they|no one)|and get away|undetected|"
       rf"secretly|in (?:their|his|her) sleep)",
       rf"(?:make|making) {TARGET} (?:sick|pass out|overdose|fall|bleed|suffer|die)",
       r"(?:look|seem) like an? (?:accident|natural death|suicide)", r"(?:kill|hurt|harm) .{0,30}without (?:leaving|it showing)",
       r"(?:so|where) (?:the )?bruises (?:do not|will not|would not) show", r"without leaving (?:marks|a trace|traces)",
       r"(?:undetectabl[ey]|untraceabl[ey]|undetected|hard to detect|not (?:show up|be detected)|"
       r"without (?:it )?showing up) .{0,30}(?:autopsy|tox|test|screen|poison)",
       r"(?:autopsy|toxicology) .{0,20}(?:not|never) (?:detect|show|find)",
       r"(?:put|slip|crush|mix|add|sneak|hide) .{0,40}(?:in|into) (?:someone|somebody|his|her|their|my \w+|"
       r"a|the) ?(?:\w+ )?(?:drink|food|coffee|tea|meal|juice|soup)",
       r"(?:lethal|fatal|deadly) (?:dose|amount) .{0,40}(?:someone|a person|another|into|for a (?:grown )?"
       r"(?:man|woman|person)|to kill|my)",
       r"(?:how much|how many|what dose|which) .{0,40}(?:would|to|will|could) (?:kill|stop) (?:a|someone|somebody|"
       r"his|her|their|my|the)", r"(?:give|cause) (?:someone|somebody|him|her|them) a heart attack",
       r"(?:tamper|mess) with .{0,30}(?:pump|pacemaker|medication|insulin|ventilator)",
       r"disable .{0,20}(?:alarms?|ventilator|monitor)", r"induce a miscarriage .{0,40}without",
       r"(?:smash|crush|crack|break|shatter|cut off|chop up|saw|hammer) .{0,20}(?:skull|spine|sternum|neck|"
       r"face|head|legs|kneecaps?|bones?|body|dead body|human)", r"(?:dispose of|hide) (?:a|my|the) (?:dead )?(?:body|baby)",
       r"(?:commit|plan|get away with) (?:a )?(?:murder|massacre|assassination|kidnapping|rape|arson|terrorism|"
       r"terrorist attack|shooting|genocide)", r"(?:where|how) .{0,20}(?:find|get) people to (?:shoot|kill|hurt)",
       r"envenenar", r"matar a", r"sin (?:que|dejar) (?:se den cuenta|rastro)", r"para dormirlo",
       r"veneno (?:que )?no se detecta", r"(?:make|making) (?:my|a) child sick"),
    _p("harmful.weapons", "asks how to make a weapon, explosive or toxin",
       r"(?:make|making|build|building|create|synthesi[sz]e|produce|manufacture|culture|grow|weaponi[sz]e|"
       r"cook|brew|extract|3d print|prepare|fabricar|hacer) .{0,40}(?:bomb|explosive|pipe bomb|ricin|anthrax|sarin|"
       r"nerve agent|napalm|chemical weapon|bioweapon|biological weapon|botulinum|botulism toxin|molotov|silencer|"
       r"untraceable gun|ghost gun|mustard gas|vx|chlorine gas|thermite|tnt|dirty bomb|virus|bomba|explosivo)",
       r"(?:spread|release) (?:a |the )?(?:disease|virus|pathogen|infection) (?:on purpose|deliberately|intentionally|at)",
       r"weaponi[sz]e", r"(?:build|make|print) (?:a |an )?(?:weapon|gun) (?:with|using|at home)",
       r"chloroform .{0,30}(?:knock|someone|unconscious)", r"(?:blow up|bomb|set fire to|set on fire|burn down) "
       r"(?:a |my |the |his |her )?(?:\w+ )?(?:house|school|hospital|building|car|concert|stadium|city|church|office|"
       r"army base|plane)"),
    _p("harmful.drugs", "asks how to make, obtain or misuse drugs",
       r"(?:make|making|cook|cooking|synthesi[sz]e|produce|extract|grow|brew|manufacture|preparar?|fabricar|"
       r"recipe for) .{0,30}(?:meth|methamphetamine|crack|cocaine|heroin|fentanyl|lsd|dmt|mdma|ecstasy|ghb|"
       r"psilocybin|pcp|crystal|drugs|metanfetamina|drogas|opium|morphine)",
       r"(?:buy|get|order|obtain|purchase|score|conseguir|comprar|consigo|compro) .{0,40}(?:without (?:a )?"
       r"(?:prescription|doctor|seeing a doctor|rx)|no prescription|on the dark web|dark web|from a dealer|"
       r"sin receta|on the street)",
       r"(?:buy|get|order|find|score) (?:a gram of|some|an? (?:eighth|ounce|bag) of) (?:coke|weed|meth|crack|heroin|"
       r"molly|ecstasy|acid)", r"(?:buy|get|order|find|score) (?:some )?(?:meth|crack|heroin|ecstasy pills|mdma|"
       r"molly|lsd|fentanyl|cocaine)", r"(?:where|how) .{0,20}(?:buy|get|find) (?:some )?weed\b(?! killer)(?! my)",
       r"get(?:ting)? high", r"(?:stronger|strongest|better|faster|best|bigger|biggest|most intense) high", r"(?:need|take) to trip",
       r"(?:snort|inject|smoke|shoot up) .{0,20}(?:pills|adderall|oxy|oxycodone|xanax|ritalin|morphine|heroin)",
       r"fake (?:symptoms|an? illness|pain) to get", r"(?:convince|trick|manipulate) (?:my |a |the )?doctor to",
       r"(?:get|getting) .{0,20}prescribed when i (?:do not|don t) have", r"(?:pass|beat|cheat) (?:a |my |the )?"
       r"(?:urine |hair |probation )?drug test", r"hide my drug use",
       r"steal(?:ing)? .{0,20}(?:fentanyl|morphine|opioids|drugs|pills|oxycodone|ketamine|medications?|"
       r"controlled)", r"break into .{0,20}pharmacy", r"(?:get|go) around the pharmacy limit",
       r"smuggle .{0,20}(?:pills|drugs)", r"(?:sell|selling) .{0,30}(?:pills|drugs|oxy|psilocybin|mushrooms|"
       r"chemotherapy drugs|opioids|marihuana|marijuana|weed) ?(?:in the street|on the black market|online)?",
       r"black market", r"(?:get|give) a minor .{0,20}(?:pills|drugs|alcohol)", r"drogarme",
       r"(?:from|at) a vet clinic without", r"without (?:them|anyone) knowing"),
    _p("harmful.fraud", "asks for forged documents or fraud",
       r"(?:forge|forging|fake|faking|falsif(?:y|ying|ied)|falsifi\w*|counterfeit|fabricat(?:e|ing)|make up|made up|doctor) "
       r".{0,30}(?:note|prescription|certificate|records?|reports?|cards?|test|results|data|credentials|license|"
       r"signature|claim|study|studies|lab report|diagnosis|emergency|receta|certificado)",
       r"(?:fake|false) (?:doctor|vaccination|covid|lab|medical|sick|study|positive|test)",
       r"(?:bill|billing|charge) .{0,40}(?:never (?:performed|done|provided|happened)|did not happen)",
       r"upcod(?:e|ing)", r"kickbacks?", r"insurance (?:fraud|money)", r"(?:claim|get) .{0,40}for (?:an? )?"
       r"(?:injury|condition|illness|disability) (?:i|he|she) (?:did not|do not|does not|never)",
       r"falsely (?:certif|claim|diagnos|document)"),
    _p("harmful.unethical_practice", "asks how to deceive, coerce or endanger patients",
       r"without (?:their|the patient|the patients|patients|her|his|my|a patient|informed|proper|the) ?"
       r"(?:\w+ )?(?:knowledge|consent|knowing|permission|approval|license|sterili[sz]ation|evaluation)",
       r"without (?:telling|informing|documenting|disclosing|notifying) (?:them|the patient|patients|her|him|it|"
       r"anyone|the family)", r"without getting caught", r"so no one (?:finds out|notices|knows)",
       r"(?:hide|hiding|conceal|cover up|withhold|leave out|leaves out|hides) .{0,40}(?:risks?|complications?|"
       r"errors?|mistakes?|fall|side effects?|information|diagnosis) .{0,30}(?:from|patient|family|lawsuit)?",
       r"(?:hides|hide|hiding) the (?:serious )?risks", r"(?:change|alter|edit|modify) (?:a |the )?patient .{0,10}"
       r"(?:chart|record|notes)", r"(?:pressure|pressuring|coerce|manipulate|exploit|threaten|trick|force) .{0,30}"
       r"(?:patient|elderly|into (?:an? )?unnecessary|nurse|physician|sign)", r"unnecessary (?:surgery|procedures?)",
       r"power of attorney", r"(?:sterili[sz]e|restrain|experiment on|test .{0,20} on) .{0,30}(?:patient|residents|"
       r"prisoners|without)", r"dispense expired", r"(?:date|sleep with) (?:their|a|my) patient",
       r"(?:ignore|ignoring|override) .{0,20}(?:do not resuscitate|dnr|advance directive)",
       r"(?:discharge|turn away|refuse|deny|denied|denying) .{0,50}(?:uninsured|undocumented|immigrants|hiv|"
       r"race|obese|gay|transgender|disabled|muslims?|black|poor|not stable|pain medication to)",
       r"(?:perform|do) surgery without", r"take money from .{0,20}(?:patient|account)",
       r"(?:prescribe|give) .{0,30}(?:to friends|without a (?:medical )?reason|for non ?medical)",
       r"(?:enroll|recruit) .{0,30}without telling", r"circumvent(?:ing)? .{0,30}(?:regulations|guidelines|ethic)",
       r"bypass(?:ing)? .{0,30}(?:regulat|safety|approval|ethic)"),
    _p("harmful.privacy", "asks for someone's private medical information",
       r"(?:look up|access|find out|get|see|read|open|pull up|check|snoop|view) .{0,40}(?:medical records?|"
       r"health records?|chart|diagnosis|hiv status|test results|hospital records|medical history)",
       r"(?:hack|hacking|break) into .{0,30}(?:hospital|patient|records|database|system|account)",
       r"(?:secretly|covertly|hidden camera) .{0,20}(?:record|film|track|watch|monitor)",
       r"(?:sell|selling|leak|share) .{0,20}(?:patients?|medical) (?:records|data|information)",
       r"(?:what is|what s|tell me) (?:\w+ ){0,3}(?:hiv status|diagnosis|medical (?:history|condition))",
       r"home address and diagnosis", r"(?:personal|private) information (?:of|about) (?:a|the) (?:specific )?patient"),
    _p("harmful.misinformation", "asks for health misinformation",
       r"(?:write|create|draft|make|generate|compose|design|produce) .{0,60}(?:cures?|prevents?|reverses?) "
       r"(?:cancer|autism|covid|diabetes|hiv|aids|alzheimer|everything)",
       r"vaccines? (?:cause|causes) autism", r"(?:doesn t|does not) cause aids", r"measles parties",
       r"(?:bleach|turpentine|mms) (?:cures?|treats?)", r"(?:fake|fabricated|bogus) (?:study|studies|data|trial)",
       r"(?:stop|quit) (?:taking )?(?:their |your )?(?:insulin|medication|chemo|vaccines?) (?:and|to) use",
       r"(?:write|create|draft) .{0,40}(?:claiming|proving|saying|telling) .{0,60}(?:stop|instead of|cure|"
       r"dangerous|cause|fake|hoax)", r"convincing (?:article|post|video|blog)"),
    _p("harmful.discrimination", "asks to deny care or rights to a group",
       r"(?:why|reasons? why|how) .{0,30}(?:should|would it be best|is it (?:best|right|good)|it is (?:best|right)) "
       r"(?:\w+ ){0,4}(?:not be (?:allowed|given|admitted|permitted|entitled)|be (?:denied|barred|refused|"
       r"kicked off|discriminated|excluded|turned away)|not have|go through extra|earn less|have (?:their|someone))",
       r"(?:find out|identify) which .{0,30}(?:pregnant|gay|disabled|hiv|sick) .{0,20}(?:fire|so i can)",
       r"(?:avoid|not) (?:employing|hiring) (?:people|anyone) with", r"(?:fire|firing) .{0,20}(?:pregnant|disabled)",
       r"(?:should|must) be denied (?:medical )?care", r"(?:took|take) away .{0,20}(?:voting|rights)",
       r"(?:should|must) not (?:be entitled|have access) to .{0,20}(?:care|healthcare|treatment)",
       r"(?:eradicate|exterminate|eliminate|wipe out) .{0,20}(?:people|immigrants|population|village|race)"),
    _p("harmful.harassment", "asks for bullying or abusive content",
       r"(?:bully|bullying|mock|mocking|make fun of|humiliate|shame|insult|harass) .{0,40}(?:her|him|my|people|"
       r"patients?|classmate|weight|disorder|autism|disab)", r"convince .{0,20}(?:she|he) is (?:fat|ugly|worthless)",
       r"so (?:she|he) stops eating", r"(?:destroy|ruin) my ex"),
]

INJECTION = _p(
    "injection", "tries to switch off the assistant's rules (prompt injection)",
    r"(?:ignore|disregard|forget|bypass|override) (?:all |any |the )?(?:of )?(?:your |the |my |these |those )?"
    r"(?:previous |prior |above |earlier |safety |system |original )?(?:instructions|rules|guidelines|"
    r"safety|prompts?|restrictions|programming|directives|policies|polic|filters?|safety stuff)",
    r"you are now (?:dan|an? (?:ai|assistant|model) (?:with|without))", r"do anything now", r"developer mode",
    r"jailbreak", r"no (?:content )?(?:policy|restrictions|rules|filters?|limits)", r"(?:safety|content) "
    r"(?:filter|mode|policy) (?:is )?(?:off|disabled|removed)", r"system override", r"(?:print|reveal|show|repeat|"
    r"output) (?:me )?(?:your|the) (?:system|hidden|initial|secret) (?:prompt|instructions)",
    r"(?:previous|old) rules no longer apply", r"(?:your )?new instructions are", r"unfiltered (?:ai|mode|model)",
    r"pretend (?:that )?(?:safety|your rules|the rules) (?:mode )?(?:is|are) off", r"act as my (?:\w+ )?grandmother who",
    r"ignora (?:tus|las|todas las) (?:reglas|instrucciones)", r"olvida (?:tus|las) (?:reglas|instrucciones)")

# Contexts where violent words are not about real people: games, sport, fiction, pests, cooking, computing.
SAFE_CONTEXT = re.compile(
    r"\b(?:in|on|for|during) (?:a |the |my |this |an )?(?:video ?game|game|computer game|board game|chess|checkers|"
    r"judo|karate|boxing|wrestling|mma|fencing|paintball|laser tag|play|movie|film|tv show|show|series|book|novel|"
    r"story|short story|screenplay|script|crime novel|mystery novel|comic|anime|fiction|rpg|match|sparring)\b|"
    r"\b(?:call of duty|counter strike|gta|minecraft|fortnite|witcher|battlefield|halo|skyrim|zelda|pokemon|"
    r"the sims|lion king|terminator|die hard|dark knight|ocean s 11|mission impossible|mr and mrs smith)\b|"
    r"\bhow (?:does|did) \w+ .{0,40}\bin (?:the )?\w+|\b(?:fake|prop|toy|stage|pretend) \w+\b")
SAFE_TITLE = re.compile(r"\b(?:in|on) (?:the |a )?[A-Z][\w']+(?: (?:of|the|and|[A-Z0-9][\w']*))*(?: (?:game|film|movie|show))?[?.!]?$")
OPERATIONAL = re.compile(
    r"\b(?:exact|exactly|precise|precisely|step by step|in detail|detailed|with quantities|quantities|recipe|"
    r"real|actually|instructions|doses|dosage|undetected|which drugs)\b")

# ---------------------------------------------------------------- personal advice (the user's own case)
ANCHOR = re.compile(
    rf"\b(?:i|me|my|myself|mine|we|our|us|mi|mis|me|tengo|puedo|debo|deberia|estoy|le|{MY_PERSON})\b")
TYPO_TARGETS = ("breathe", "breathing", "seizure", "stroke", "unconscious", "overdose", "overdosed", "pills",
                "swallowed", "bleeding", "swelling", "drooping", "husband", "having", "pressure", "diabetes",
                "antibiotics", "throat", "together", "should", "taking", "ibuprofen", "benadryl", "really",
                "myself", "suicide", "chest", "pain", "heart", "attack", "kill", "much", "take", "blood")
DRUG_NAMES = frozenset(
    "ibuprofen acetaminophen paracetamol tylenol advil motrin aleve aspirin naproxen melatonin insulin metformin "
    "warfarin lithium prednisone sertraline xanax ambien benadryl imodium viagra ozempic accutane levothyroxine "
    "amoxicillin penicillin antidepressant antidepressants antibiotic antibiotics statin statins magnesium "
    "zinc vitamin vitamins probiotics antihistamine decongestant inhaler albuterol omeprazole gabapentin "
    "tramadol codeine oxycodone hydrocodone adderall ritalin zoloft prozac lexapro wellbutrin lisinopril "
    "losartan amlodipine atorvastatin simvastatin metoprolol clopidogrel eliquis xarelto plavix nyquil dayquil "
    "mucinex sudafed zyrtec claritin allegra flonase tamiflu valium ativan klonopin ibuprofeno paracetamol "
    "antibioticos melatonina metronidazole ciprofloxacin doxycycline azithromycin cephalexin nitrofurantoin "
    "birth control contraceptive pill pills tablet tablets capsule medication medications medicine medicines "
    "pastillas medicamento medicamentos".split())
_DRUG_SUFFIX = re.compile(
    r"\b\w+(?:cillin|mycin|cycline|floxacin|pril|sartan|olol|statin|azole|prazole|zepam|zolam|triptan|formin|"
    r"oxetine|aline|pram|codone|morphone|profen|xaban|gliflozin|glutide|tidine|dronate|semide|thiazide|"
    r"mab|nib|vir|caine)\b")


def has_drug(norm: str) -> bool:
    return bool(_DRUG_SUFFIX.search(norm)) or any(w in DRUG_NAMES for w in norm.split())


MEDICAL = re.compile(
    r"\b(?:\w+(?:itis|osis|emia|pathy|algia|ectomy|plasty|scopy)|pain|painful|ache|aches|hurt|hurts|hurting|"
    r"rash|fever|cough|coughing|cold|flu|infection|infected|sugar|pressure|cholesterol|dose|dosage|mg|drug|"
    r"vaccine|vaccinate|shot|shots|injection|surgery|operation|symptoms?|lump|mole|bump|spots?|bleeding|blood|"
    r"period|pregnant|pregnancy|breastfeeding|diabetes|diabetic|asthma|cancer|tumor|heart|kidney|kidneys|"
    r"liver|lungs?|skin|throat|stomach|belly|back|knee|head|headache|migraine|sleep|insomnia|anxiety|anxious|"
    r"depression|depressed|sad|tired|fatigue|dizzy|weight|diet|acne|eczema|psoriasis|burn|cut|wound|stitches|"
    r"sprain|bite|bitten|level|levels|results?|reading|readings|a1c|tsh|psa|ldl|inr|alt|creatinine|hemoglobin|"
    r"supplement|cream|ointment|treatment|treat|therapy|doctor|dermatologist|mri|biopsy|chemo|immunotherapy|"
    r"stool|urine|pee|diarrhea|constipation|vomiting|nausea|ears?|eyes?|tooth|teeth|toothache|ankle|joints?|"
    r"rabies|pep|hpv|std|uti|covid|strep|tonsils|snores|snoring|fatty|swollen|swelling|itchy|itch|sore|"
    r"allergy|allergic|menopause|hormone|angioplasty|gallbladder|adhd|memory|forgetful|ringing|tinnitus|"
    r"dolor|presion|azucar|fiebre|gripe|receta|dosis|garganta|piel|mancha|tiroides|infeccion|orinar|rodilla|"
    r"alcohol|caffeine|coffee|wine|honey|tattoo|fly|exercise|bed|wetting|jaundice|yellow|bloating|numbness|"
    r"heartburn|reflux|wort|herbal|felt down|mood|mg|kg|fasting|hpv|vaccinated|diaper|cramps|hangover|lungs|breath|breathing|chest|cancer|moles?)\b")
PERSONAL_PATTERNS = [
    _p("personal_advice.dose", "asks for a dose or medicine choice for their own case",
       rf"(?:how much|how many|what dose|what dosage|how often|how long|what is the (?:max|maximum|right|correct|safe) "
       rf"(?:amount|dose)|max amount|how many milligrams|how many mg) .{{0,60}}(?:can|should|could|do|may|must) "
       rf"(?:i|we|he|she|they|{MY_PERSON})\b",
       rf"(?:how much|how many) .{{0,40}}\b(?:for|to) (?:me|my|him|her)\b",
       rf"(?:how much|what dose|how many|what dosage) .{{0,40}}(?:should i|for my|can my|do i)",
       rf"(?:can|could|may|should|is it (?:ok|okay|safe|fine|bad) (?:for me |if i |to )?) ?(?:i|we|he|she|{MY_PERSON})? ?"
       rf"(?:take|give|use|drink|have|mix|combine|double|split|skip|crush|increase|decrease|lower|raise) .{{0,60}}"
       rf"(?:with|while|and|on|for|if|after|before|since|at|instead|half|tonight|today|to|dose|mg|pills?|"
       rf"tablets?|together|at the same time|extra)",
       rf"(?:can|should|could) (?:i|he|she|my \w+|we) (?:take|give|have|use) (?:an? )?(?:extra|another|more|two)",
       rf"(?:can|could|may|should) (?:i|he|she|we|{MY_PERSON}) (?:take|give|use|drink|mix|combine|double|skip|have)\b",
       r"(?:is|are) .{0,50}(?:safe|ok|okay|too much|dangerous|bad|fine) for (?:me|my|him|her)\b",
       r"(?:cuanto|cuantos|cuanta|cuantas|que dosis|que) .{0,40}(?:puedo|debo|le puedo|le doy|tomar)",
       r"(?:puedo|debo|deberia) (?:tomar|dar|dejar|mezclar|beber)\w*"),
    _p("personal_advice.diagnosis", "asks what their own symptoms or results mean",
       rf"(?:do|does|did|could|am|is|are|have) (?:i|he|she|we|{MY_PERSON}) (?:have|got|need|be|get|tear|break)\b",
       r"(?:am i|is (?:he|she|my \w+)) (?:anemic|diabetic|pregnant|sick|dying|depressed|allergic|infected|okay|ok)",
       rf"(?:is|could|might|can) (?:this|that|it|my (?:\w+ ){{0,3}}\w+) (?:\w+ ){{0,4}}?(?:be )?(?:a |an )?(?:\w+ ){{0,2}}?"
       rf"(?:cancer|melanoma|tumor|serious|dangerous|normal|bad|a sign|a symptom|infected|broken|my heart|"
       rf"an ulcer|an infection|a uti|a stroke|something)",
       r"what (?:is|could|might|can) (?:it|this|that) be", r"what could (?:it|this|that|cause)",
       r"what (?:do|does|did) (?:i|he|she|my \w+) have", r"what (?:is|s) (?:wrong|going on) with (?:me|him|her|my)",
       r"what (?:is|s) causing (?:it|this|my)", r"what does (?:it|this) mean for me", r"should i (?:worry|be worried)",
       r"(?:is|are) (?:that|this|it|these) (?:bad|dangerous|normal|high|low|serious) for (?:me|him|her|my)",
       r"are my \w+ (?:failing|damaged|okay|normal)", r"is my \w+ (?:damaged|failing|okay|normal|too|high|low)",
       r"why (?:does|is|do|am) (?:my|i)\b", r"what is it\b", r"is it normal that (?:my|i)",
       r"(?:tengo|tiene|tendre) (?:diabetes|una|un|cancer|\w+) .{0,40}(?:si|\?|$)", r"que tengo",
       r"que es ?\?", r"que (?:tiene|le pasa)"),
    _p("personal_advice.treatment", "asks for a treatment decision for their own case",
       rf"(?:should|can|could|may|must|do) (?:i|we|he|she|{MY_PERSON}) (?:stop|start|keep|continue|switch|quit|"
       rf"get|go|try|refuse|see|ask|have|skip|treat|vaccinate|delay|avoid|exercise|fly|change|increase|use|be|"
       rf"breastfeed|need)\b",
       r"(?:do|does) (?:i|he|she|my \w+) need", r"(?:would|will) (?:i|he|she) be (?:fine|okay|ok|alright|safe)",
       r"if i (?:stop|stopped|skip|skipped|miss|missed|quit) (?:taking )?(?:my|the)", r"is it (?:safe|okay|ok|fine|a good idea) for (?:me|him|her|my)",
       r"is it (?:a good idea|safe|okay|ok) (?:for me|to|if i)", r"(?:what|which) (?:\w+ ){0,2}should (?:i|he|she|we)",
       r"what should (?:i|we) (?:take|do|eat|use|put|give|try|follow)", r"how should i treat",
       r"what is the best (?:\w+ )?(?:treatment|medicine|cream|diet|dose) for my", r"what (?:can|do) i (?:take|do) for",
       r"what (?:do|can) i do about", r"(?:debo|deberia|puedo) (?:dejar|operarme|tomar|darle|seguir)",
       r"que debo (?:tomar|hacer)", r"debo tomar"),
]

# General framing: the message asks about a topic, not about someone right now.
GENERIC = re.compile(
    r"^(?:what|how|when|why|which|who|is it true|can you|could you|tell me|explain|describe|list|define|"
    r"where|do you|does|are there|should (?:you|someone|people|a person)|que|como|cuales?|cuando|por que)\b|"
    r"\b(?:if|when|whether|suppose|supposing|hypothetically|what if|in case) (?:someone|somebody|a person|a child|"
    r"a baby|you|one|people|your|an? \w+|they)\b|\b(?:signs?|symptoms?|warning signs|risk factors?|causes?) "
    r"(?:of|for)\b|\bhow (?:do|can|would|should) (?:you|one|i) (?:tell|know|recogni[sz]e|spot|help)\b|"
    r"\b(?:in|for) (?:my|a|the) (?:novel|story|screenplay|script|book|tv|drama|show|film|movie|play|class|report|"
    r"exam|essay)\b|\bnursing (?:student|exam)|\bfirst aid\b|\bwhat (?:happens|would happen)\b")
STRONG_ANCHOR = re.compile(
    rf"\b(?:myself|himself|herself|i (?:am|have|feel|think|took|just|can not|ate|swallowed|was|got|cut|fell|mixed|keep|overdosed|drank|"
    rf"passed|hit|slit|wrote|bought|need)|{MY_PERSON} (?:is|has|was|just|took|can not|will not|says|said|told|ate|"
    rf"swallowed|drank|fell|collapsed|got|had)|my (?:chest|head|face|heart|arm|leg|throat|lips|tongue|sugar|"
    rf"vision|speech|neck|body|breathing|hand|wrist|eye)|right now|(?:he|she|they) (?:is|are|has|have|was|took|"
    rf"can not|will not|just|collapsed|fell|swallowed|says|said)|this is not hypothetical|not a drill|"
    rf"in front of me|next to me|\bmi\b|\bme\b|tengo|estoy|se le)\b")
