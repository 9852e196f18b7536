"""patterns.py holds the rule lexicon for emergencies, as regular expressions over `text.normalize`
output: signs, events and self-harm that need a person and a now, and the person words they share with
advice.py and harm.py. English and Spanish (accents folded). Only data: `rules.py` decides what they mean.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Pattern:
    rule: str  # e.g. "emergency.stroke"
    reason: str  # shown to the user in the safety panel
    regex: re.Pattern
    alternatives: tuple[str, ...] = ()  # the regex's parts, to tell which one matched

    def spells(self, matched: str, words: str) -> bool:
        """Whether an alternative that matches `matched` has one of `words` (a regex) in its own text: a
        "not" the rule asks for ("not breathing"), not one a wildcard swallowed ("old .{0,50}fever")."""
        return any(
            re.search(rf"(?<![a-z])(?:{words})(?![a-z])", alt) and re.fullmatch(alt, matched)
            for alt in self.alternatives
        )


def rule_pattern(rule: str, reason: str, *alternatives: str) -> Pattern:
    regex = re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])")
    return Pattern(rule, reason, regex, tuple(alternatives))


PERSON = (
    r"(?:mom|mum|mommy|mother|dad|daddy|father|husband|wife|son|daughter|child|kid|baby|toddler|infant|"
    r"newborn|brother|sister|friend|boyfriend|girlfriend|partner|grandmother|grandma|grandfather|grandpa|"
    r"granny|nan|nana|uncle|aunt|cousin|neighbor|neighbour|roommate|flatmate|coworker|colleague|boss|"
    r"teacher|student|patient|grandson|granddaughter|niece|nephew|fiance|fiancee|spouse|parent|teen|"
    r"teenager|stepdad|stepmom|stepson|stepdaughter|ex|classmate|mother in law|father in law|guest|"
    r"client|family|children|kids|parents|sibling|twin|man|woman|guy|lady|person|someone|somebody|mate|"
    r"\d+ (?:year|month|week|day) old|"
    r"hermano|hermana|hijo|hija|esposo|esposa|marido|mujer|papa|mama|padre|madre|abuelo|abuela|"
    r"bebe|nino|nina|amigo|amiga|novio|novia|tio|tia|vecino|vecina|companero|companera)"
)
MY_PERSON = rf"(?:my|our|mi|mis|nuestro|nuestra) (?:[a-z0-9]+ ){{0,3}}?{PERSON}s?"

# ---------------------------------------------------------------- emergencies (signs need a person, now)
EMERGENCY_SIGNS = [
    rule_pattern(
        "emergency.chest_pain",
        "chest pain or pressure that can be a heart attack",
        r"chest (?:pain|pains|pressure|tightness|discomfort|hurts?|is hurting|is (?:tight|heavy|crushing)|"
        r"feels (?:tight|heavy|like)|is killing me)",
        r"(?:pain|pressure|tightness|heaviness|squeezing) (?:in|on|across|going into|spreading (?:to|into)|"
        r"in the middle of) (?:my |his |her |the )?chest",
        r"crushing (?:pain|chest|pressure|ache|feeling|weight)",
        r"(?:pain|pressure|tightness|heaviness|squeezing|ache|aching) (?:behind|in|under|on) (?:my |his |her |the )?"
        r"(?:breastbone|breast bone|sternum)",
        r"(?:breastbone|breast bone|sternum) (?:pain|ache|hurts?|is (?:hurting|aching|crushing))",
        r"elephant .{0,40}chest",
        r"chest .{0,40}elephant",
        r"clutching (?:his|her|my|their) chest",
        r"chest (?:pain|pressure) .{0,30}(?:left )?(?:arm|jaw|shoulder)",
        r"(?:dolor|presion) (?:muy )?(?:fuerte )?(?:en|de|del) (?:el )?pecho",
        r"me duele (?:mucho )?el pecho",
    ),
    rule_pattern(
        "emergency.breathing",
        "not breathing or struggling to breathe",
        r"(?:can not|could not|cannot|unable to|struggling to|hard to|trouble|difficulty|problems?) ?"
        r"(?:to )?(?:breathe|breathing|catch (?:my|his|her) breath)",
        r"(?:not|no longer|stopped|is not|isnt|barely) breathing",
        r"breathing is (?:weird|strange|shallow|gurgling)",
        r"gasping(?: for air)?",
        r"(?:turning|turned|going|gone) (?:blue|purple|gray|grey)",  # "his toe is purple" is not this
        r"(?:lips|face|skin|he|she|baby|they|fingers|tongue|mouth) (?:is|are|looks?) (?:blue|purple|gray|grey)",
        r"lips (?:are )?(?:turning )?(?:blue|purple)",
        r"choking",
        r"can not (?:cough|talk) or (?:cough|talk)",
        r"(?:throat|airway) (?:is |feels like it is |feels )?(?:closing|swelling|swelled|tight)",
        r"(?:tongue|throat|lips) (?:is |are )?(?:swelling|swelling up|swollen)",  # a swollen face alone: red_flags
        r"no (?:puedo|puede) respirar",
        r"(?:me|le) cuesta respirar",
        r"no respira",
        r"se (?:esta )?ahogando",
        r"se me cierra la garganta",
        r"(?:wheezing|short of breathe?|shortness of breathe?) .{0,40}"
        r"(?:swell\w*|sting\w*|peanuts?|allergic|chest|blue|lips|getting worse)",
    ),
    rule_pattern(
        "emergency.stroke",
        "sudden signs of a stroke (face, arm, speech)",
        r"face (?:\w+ ){0,2}?(?:drooping|droopy|droops|drooped|sagging|numb|lopsided|twisted|hanging|uneven|crooked)",
        r"(?:mouth|face|eye|smile|lip) .{0,20}(?:hanging down|drooping|droops|drooped|sagging)",
        r"(?:drooping|droopy|sagging|lopsided|crooked) (?:face|smile|mouth)",
        r"smile is (?:lopsided|crooked|uneven)",
        r"(?:slurred|slurring|slurry|garbled)(?: speech| words| his words| her words| my words)?",
        r"words (?:are )?(?:jumbled|garbled|slurred)",
        r"speech is (?:slurred|garbled)",
        r"words come out wrong",
        r"(?:can not|could not|unable to) (?:lift|move|feel|raise) (?:my|his|her) (?:left |right )?(?:arm|leg|side)",
        r"(?:arm|leg|side) (?:is |feels |went )?(?:weak|numb|paralyzed|limp)",
        r"(?:half|side) of (?:my|his|her) (?:face|body) (?:feels |went |is )?(?:numb|weak)",
        r"(?:suddenly|sudden) (?:can not|could not) (?:speak|talk|see|understand|walk|stand)",
        r"(?:can not|could not) feel (?:the )?(?:left|right) side",
        r"(?:left|right|one) side of (?:my|his|her) body",
        r"can not speak properly",
        r"foaming at the mouth",
        r"(?:on the (?:floor|ground)|collapsed) .{0,30}(?:twitching|jerking|shaking|convulsing)",
        r"(?:vision went black|lost (?:the )?vision) in one eye",
        r"can not see out of (?:my|his|her|one)",
        r"(?:cara|boca) (?:torcida|caida)",
        r"se le (?:cayo|cae) la cara",
        r"no puede hablar",
        r"brazo (?:debil|dormido)",
        r"no puede mover (?:el|la|los|las|su) (?:brazo|pierna|lado|cara|mano)",
        r"no (?:puede|podemos|puedo) (?:levantarse|levantarlo|levantarla|moverse|despertarlo|despertarla|caminar)",
        r"habla (?:raro|mal|arrastrando|sin sentido)",
    ),
    rule_pattern(
        "emergency.unconscious",
        "someone collapsed, is unresponsive or has no pulse",
        r"collapsed",
        r"(?:is |was |are )?(?:unconscious|unresponsive)",
        r"not (?:responding|moving|waking up)",
        r"(?:will not|can not|won t|does not) (?:wake up|respond)",
        r"(?:we|i) can not wake (?:him|her|them)",
        r"no pulse",
        r"(?:passed out|fainted|knocked out) .{0,40}(?:breath\w*|vomit\w*|throw\w*|respond\w*|twice|hit)",
        r"(?:faint|pass out|passing out|passed out|light ?headed).{0,40}(?:short of breathe?|chest|heart|palpitations?)",
        r"(?:short of breathe?|chest pain|heart is (?:racing|pounding|beating irregularly)).{0,40}(?:faint|pass out|passing out)",
        r"(?:barely|hardly) breathing",
        r"(?:passed out|fainted) twice",
        r"no (?:heartbeat|heart beat)",
        r"se desmayo",
        r"no responde",
        r"inconsciente",
        r"no despierta",
    ),
    rule_pattern(
        "emergency.seizure",
        "a seizure that is happening now",
        r"(?:having|has) (?:a )?(?:seizure|fit|convulsions?)",
        r"seizing",
        r"convulsing",
        r"convulsions",
        r"convulsionando",
        r"(?:tiene|tener) convulsiones",
        r"esta convulsionando",
    ),
    rule_pattern(
        "emergency.overdose",
        "an overdose or a swallowed poison",
        r"overdosed?(?! on (?:netflix|tv|telly|chocolate|sugar|sweets|candy|love|work|reality tv|social media|tiktok|youtube|"
        r"gaming|box sets?|christmas|sun|sunshine)\b)",
        r"overdosing(?! on (?:netflix|tv|telly|chocolate|sugar|sweets|candy|love|work|social media|tiktok|youtube|gaming)\b)",
        r"(?:took|take|swallowed|ate|taken|have taken|drank) (?:about |around |maybe |like )?(?:\d+|a (?:whole|full)|"
        r"all|too many|to many|lots of|a lot of|a bunch of|several|half a|an entire|some of|many) .{0,40}"
        r"(?:pills?|tablets?|capsules?|bottle|medication|medicine|meds|tylenol|pills|of them|packet|pods?|"
        r"antidepressants?|painkillers?|opioids?|sleeping pills|benzos?|insulin|xanax|oxy\w*|heroin|fentanyl)",
        r"(?:swallowed|took|taken|downed|overdosed on) (?:a bunch|a handful|a lot|lots|all|most|the rest|too many|"
        r"half) of (?:my|his|her|their|the|our) \w+",
        r"engine running .{0,40}(?:closed|shut|garage)",
        r"(?:closed|shut) garage .{0,40}engine",
        r"(?:swallowed|drank|ate|drinking|ingested|got into|inhaled) .{0,30}(?:bleach|drain cleaner|antifreeze|"
        r"rat poison|poison|battery|batteries|magnet|chemicals?|detergent|pods?|cleaning|pesticide|"
        r"weed killer|lye|iron pills|a lot of smoke|smoke|blood pressure pills)",
        r"(?:mixed|mixing) bleach and ammonia",
        r"was electrocuted|got electrocuted",
        r"sobredosis",
        r"(?:se )?(?:trago|tomo|comio) (?:unas|unos|muchas|muchos|varias|varios|una|un|las|los|todas|todos) (?:\w+ )?(?:pastillas|pilas|pila|tabletas|capsulas|cloro|veneno|lejia)",
        r"(?:tome|tomo|me tome|se tomo|trago|se trago) (?:muchas|todas|un frasco|una pila|"
        r"el frasco|mucho|todo)",
        r"(?:frasco|botella) de (?:cloro|pastillas|lejia)",
        r"pila de boton",
    ),
    rule_pattern(
        "emergency.bleeding",
        "severe bleeding",
        r"bleeding (?:out|a lot|heavily|badly|so much|profusely|everywhere|will not stop|that will not stop|"
        r"does not stop|won t stop|from (?:a|the|my|his|her) (?:knife|gunshot|wound|head))",
        r"(?:bleeding|blood) .{0,20}(?:will not|would not|does not|can not|wont) stop",
        r"blood (?:is )?(?:spurting|pouring|gushing|everywhere|soaking)",
        r"soaking through",
        r"(?:vomiting|throwing up|coughing up|coughing|spitting up) (?:a lot of )?blood(?! (?:streaked|stained|flecked|tinged))",
        r"(?:bleeding|blood) (?:heavily|a lot)",
        r"pregnant and bleeding",
        r"can see (?:the )?bone",
        r"(?:deep|bad|badly) (?:cut|wound|gash).{0,30}(?:bleeding|blood|bone)",
        r"cut (?:her|his|my) arm badly",
        r"knife wound|gunshot|been shot|was shot|got shot|stabbed",
        r"sangrando mucho",
        r"no (?:para|deja) de sangrar",
        r"sangre",
    ),
    rule_pattern(
        "emergency.anaphylaxis",
        "a severe allergic reaction",
        r"(?:allergic reaction|anaphylaxis|anaphylactic).{0,60}(?:swell\w*|breath\w*|throat|lips|tongue|face|dizzy|wheez\w*)",
        r"(?:swell\w*|breath\w*|throat|lips|tongue|face|dizzy).{0,60}(?:allergic reaction|sting|peanuts?|shrimp|"
        r"penicillin|bee|wasp)",
        r"(?:really |very |severe |bad )allergic reaction",
        r"reaccion alergica",
    ),
    rule_pattern(
        "emergency.other",
        "a symptom that needs emergency care now",
        r"worst headache (?:of (?:my|his|her|their) life|(?:i|he|she) (?:has|have) ever had|ever)",
        r"(?:can not|could not) feel (?:my|his|her) legs",
        r"hit by a car",
        r"(?:fell|fallen) (?:off|from|down) .{0,40}(?:head|not moving|throw\w*|confused|can not)",
        r"hit (?:my|his|her) head .{0,60}(?:vomit\w*|throw\w*|confused|knocked|sleepy|drowsy)",
        r"knocked out",
        r"water broke",
        r"baby is coming",
        r"appendix burst",
        r"(?:heart|pulse) (?:is )?(?:racing|pounding|beating) .{0,20}(?:1[5-9]\d|2\d\d)",
        r"(?:sugar|glucose) (?:is |reads |of |at )?(?:[1-4]\d)\b.{0,40}(?:shak\w*|confus\w*|respond\w*|sweat\w*|faint\w*)",
        r"(?:sugar|glucose) (?:is |reads |of |at )?[1-4]\d and (?:she|he|i) (?:will not|can not|is not)",
        r"stiff neck.{0,40}(?:fever|rash)",
        r"rash that (?:does not|will not) fade",
        r"(?:gone|went|is|going) (?:limp|floppy|grey|gray)",
        r"severe (?:headache|belly pain|abdominal pain|stomach pain).{0,60}(?:pregnant|blurry|vomit\w*|fever|sudden)",
        r"pregnant .{0,40}(?:severe headache|blurry vision|heavy bleeding|bleeding heavily)",
        r"(?:fever|temperature) of (?:3[89]|4\d|10[2-9]).{0,40}(?:floppy|limp|week old|month old|newborn)",
        r"(?:week|weeks|day|days) old .{0,50}(?:fever|floppy|limp|not feeding)",
        r"lying on the floor .{0,30}(?:confused|for hours|can not)",
        r"hip looks (?:twisted|wrong)",
        r"asthma attack .{0,40}(?:inhaler|not working|can not)",
        r"inhaler (?:is not|does not) (?:working|help)",
        r"(?<!least )(?<!less )(?<!non )(?<!not )(?<!make me )(?<!makes me )(?<!made me )drowsy(?! (?:antihistamine|"
        r"tablet|pill|formula|side effect|version|kind|one))|very floppy|is floppy",
        r"(?:something is )?very wrong .{0,30}(?:face|arm|chest|breath)",
    ),
]

# Named events: only an emergency when happening ("is having a stroke"), never as a topic.
EMERGENCY_EVENTS = [
    rule_pattern(
        "emergency.event",
        "a heart attack, stroke, seizure or overdose happening now",
        r"(?:having|suffering|in the middle of|going into|gone into) (?:a |an )?(?:heart attack|stroke|seizure|"
        r"cardiac arrest|overdose|anaphylactic shock|anaphylaxis|asthma attack|allergic reaction|diabetic coma|"
        r"hypo|hypoglycemic (?:episode|attack))",
        r"(?:teniendo|tiene|tengo|da|dando) (?:un |una )?(?:infarto|derrame|ataque al corazon|ataque cerebral|"
        r"convulsion)",
        r"creo que .{0,20}(?:infarto|derrame)",
        r"(?:heart attack|stroke|seizure) (?:right now|is happening|happening now)",
        r"(?:has|have|having|shows|showing) (?:all )?(?:of )?(?:them|the (?:warning )?(?:signs|symptoms))"
        r"(?: all)? (?:right now|now)",
        r"(?:same|those|the) symptoms are back",
    ),
]

SELF_HARM = [
    rule_pattern(
        "emergency.self_harm",
        "thoughts or plans of suicide or self-harm",
        r"(?:kill|hang|hurt|harm|cut|shoot|drown|poison|burn|stab|starv|suffocat|overdos)(?:s|ed|ing|ting|ning|bing|e|es)? "
        r"(?:myself|himself|herself|themselves|themself)",
        r"self ?harm(?:ing)?",
        r"(?:rope|noose|gun|pills) .{0,30}i am ready",
        r"(?:end|take|ending|taking) (?:my|his|her|their) (?:own )?life",
        r"end (?:it|it all|everything|things)(?: tonight| today| now| soon)?",
        r"(?:want|wants|wanted|going|planning|plan|ready|decided|about) to (?:die|end it|not be here|disappear forever)",
        r"(?:do not|does not|no longer) want to (?:live|be alive|be here|wake up|exist|go on)",
        r"(?:better off|happier) (?:without me|once i am gone|if i (?:was|were) (?:dead|gone)|when i am gone)",
        r"(?:goodbye|suicide) (?:letters?|notes?|messages?)",
        r"this is my goodbye",
        r"tonight is (?:my|her|his|their) last",
        r"(?:say|says|saying|said) goodbye to "
        r"(?:everyone|everybody|all)",
        r"(?:my|her|his) last (?:night|day) (?:alive|on earth)",
        r"(?:do not|can not|no longer) see the point (?:anymore|of living|in living|of going on)",
        r"no one would miss me",
        r"nobody would miss me",
        r"no (?:point|reason) (?:in )?(?:living|to live|going on)",
        r"(?:can not|could not) go on",
        r"never wake up",
        r"not wake up",
        r"(?:convince|persuade|stop|talk|help|keep|get) (?:\w+ ){0,4}(?:not to|from) (?:kill\w*|commit\w*|"
        r"end\w*|hurt\w*|harm\w*) (?:himself|herself|themselves|suicide|his (?:own )?life|her (?:own )?life|"
        r"their (?:own )?life)",
        r"(?:going|about|want) to jump(?: off)?",
        r"jump off (?:my|the|a) (?:balcony|bridge|roof|building)",
        r"slit (?:my|his|her) wrists?",
        r"cut too deep",
        r"(?:i am|i feel|feeling|am) suicidal",
        r"(?:thinking|thought|thoughts) (?:about|of) (?:suicide|killing myself|ending (?:it|my life)|dying)",
        r"commit suicide",
        r"(?:kill|end) my ?self",
        r"everything ready",
        r"tonight is the night",
        r"made up my mind",
        r"saving up (?:my )?pills",
        r"bought a (?:rope|gun)",
        r"gun (?:is )?loaded",
        r"suicid(?:e|arme|arse|ar)",
        r"quitar(?:me|se|le)? la vida",
        r"matar(?:me|se)",
        r"quiero morir(?:me)?",
        r"me quiero morir",
        r"no quiero (?:seguir )?viv\w*",
        r"acabar con (?:mi vida|todo)",
        r"tengo todo (?:preparado|listo)",
        r"(?:sever|cut|pierce) (?:my|his|her) (?:own )?(?:\w+ )?(?:artery|wrists?)",
        r"carve .{0,20}into my (?:arm|skin|leg)",
        r"(?:go out|die|end my life) like "
        r"(?:sylvia plath|amy winehouse|kurt cobain|robin williams)",
    ),
    rule_pattern(
        "emergency.self_harm_method",
        "asking for a way to die",
        r"(?:best|easiest|quickest|fastest|painless|surest|least painful|most painless|quietest|quick|simplest) "
        r"(?:way|ways|method|methods) (?:for (?:my|a|the|your|his|her) (?:character|protagonist|hero|heroine|villain|friend|"
        r"person) )?(?:to|of) (?:die|dying|commit suicide|committing suicide|end (?:my|your|one s?|his|her|their) life|end it(?: all)?\b(?! (?:with (?:my|his|her|our|their|the|a|an) (?:\w+ )?(?:landlord|contract|gym|boyfriend|"
        r"girlfriend|partner|husband|wife|job|boss|company|provider|phone|subscription|lease|relationship|friend|ex|bank|"
        r"insurer|mortgage|plan|fiance)|between|on good|nicely|politely|early|amicably|properly))|"
        r"(?:kill|hang|drown|shoot|poison|cut|hurt|overdose|suffocate) (?:myself|yourself|oneself|himself|herself|themselves))",
        r"(?:how many|how much|what dose|what amount) .{0,60}(?:to die|to not wake up|to never wake up|"
        r"to kill (?:me|myself)|would kill me|be fatal for me|it take to (?:die|not wake up|kill me))",
        r"(?:way|ways|method) to (?:overdose|od)\b(?! (?:my|his|her|someone|somebody|a|the|an) )",
        r"(?:going to|gonna|about to|will) (?:swallow|take|down) (?:them|it|all|every)(?: \w+)? all",
        r"no reason (?:for me )?to (?:stay alive|live|keep living|go on)",
        r"(?:which|what) (?:veins?|arteries|artery) (?:do|should|would|to) (?:you |i |one )?(?:have to |need to )?cut",
        r"(?:tie|make|knot) (?:a |the )?noose",
        r"(?:which|what) part of (?:the|my|your|a) (?:wrist|arm|neck|thigh|leg) .{0,30}cut|cut .{0,30}(?:go|goes|going) (?:the )?deep(?:er|est)",
        r"(?:lethal|fatal|deadly) (?:dose|amount) of my (?:own )?\w+",
        r"end(?:ing)? things",
        r"(?:how much|how many) \w+ (?:would|will|could) kill me",
        r"(?:how|where) (?:do|can|could|should|would) (?:i|you|one) (?:best )?(?:commit suicide|kill myself|"
        r"hang myself|drown myself|end my life|overdose(?! (?:my|his|her|someone|somebody|a|the|an) ))",
        r"high enough that i (?:will not|would not|won t) survive",
        r"(?:die|morir) sin dolor",
        r"cut(?:ting)? (?:myself |my (?:arms?|wrists?|legs?|thighs?|skin) )?deeper (?:\w+ ){0,5}(?:stitches|bleed\w*|"
        r"scars?|veins?|skin|without)",
    ),
]
