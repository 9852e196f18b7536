"""advice.py holds the rule lexicon for personal advice, as regular expressions over `text.normalize` output:
the user's own medical questions (dosing, diagnosis, treatment decisions), drug names and general framing.
English and Spanish (accents folded). Only data: `rules.py` decides what they mean.
"""

from __future__ import annotations

import re

from medgemma.safety.patterns import MY_PERSON, rule_pattern

ANCHOR = re.compile(
    rf"\b(?:i|me|my|myself|mine|we|our|us|mi|mis|me|tengo|puedo|debo|deberia|estoy|le|{MY_PERSON})\b"
)
TYPO_TARGETS = (
    "breathe",
    "breathing",
    "seizure",
    "stroke",
    "unconscious",
    "overdose",
    "overdosed",
    "pills",
    "swallowed",
    "bleeding",
    "swelling",
    "drooping",
    "husband",
    "having",
    "pressure",
    "diabetes",
    "antibiotics",
    "throat",
    "together",
    "should",
    "taking",
    "ibuprofen",
    "benadryl",
    "really",
    "myself",
    "suicide",
    "chest",
    "pain",
    "heart",
    "attack",
    "kill",
    "much",
    "take",
    "blood",
    "darknet",
)
DRUG_NAMES = frozenset(
    "ibuprofen acetaminophen paracetamol tylenol advil motrin aleve aspirin naproxen melatonin insulin metformin "
    "warfarin lithium prednisone sertraline xanax ambien benadryl imodium viagra ozempic accutane levothyroxine "
    "amoxicillin penicillin antidepressant antidepressants antibiotic antibiotics statin statins magnesium "
    "zinc vitamin vitamins probiotics antihistamine decongestant inhaler albuterol omeprazole gabapentin "
    "tramadol codeine oxycodone hydrocodone adderall ritalin zoloft prozac lexapro wellbutrin lisinopril "
    "losartan amlodipine atorvastatin simvastatin metoprolol clopidogrel eliquis xarelto plavix nyquil dayquil "
    "mucinex sudafed zyrtec claritin allegra flonase tamiflu valium ativan klonopin ibuprofeno paracetamol "
    "antibioticos melatonina metronidazole ciprofloxacin doxycycline azithromycin cephalexin nitrofurantoin "
    "contraceptive contraceptives pill pills tablet tablets capsule medication medications medicine medicines "
    "pastillas medicamento medicamentos calpol nurofen calprofen piriton gaviscon rennie lemsip strepsils "
    "dioralyte sudocrem bonjela co-codamol cocodamol naproxeno".split()
)
_DRUG_SUFFIX = re.compile(
    r"\b\w+(?:cillin|mycin|cycline|floxacin|pril|sartan|olol|statin|azole|prazole|zepam|zolam|triptan|formin|"
    r"oxetine|aline|pram|codone|morphone|profen|xaban|gliflozin|glutide|tidine|dronate|semide|thiazide|"
    r"mab|nib|vir|caine)\b"
)


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
    r"dolor|duele|duela|cabeza|muela|estomago|pecho|tos|mareo|mareos|sangre|embarazada|presion|azucar|fiebre|gripe|receta|dosis|garganta|piel|mancha|tiroides|infeccion|orinar|rodilla|"
    r"alcohol|caffeine|coffee|wine|honey|tattoo|fly|exercise|bed|wetting|jaundice|yellow|bloating|numbness|"
    r"heartburn|reflux|wort|herbal|felt down|mood|mg|kg|fasting|hpv|vaccinated|diaper|cramps|hangover|lungs|breath|breathing|chest|cancer|moles?)(?:s|es)?\b"
)


PERSONAL_PATTERNS = [
    rule_pattern(
        "personal_advice.dose",
        "asks for a dose or medicine choice for their own case",
        rf"(?:how much|how many|what dose|what dosage|how often|how long|what is the (?:max|maximum|right|correct|safe) "
        rf"(?:amount|dose)|max amount|how many milligrams|how many mg) .{{0,60}}(?:can|should|could|do|may|must) "
        rf"(?:i|we|he|she|they|{MY_PERSON})\b",
        r"(?:how much|how many) .{0,40}\b(?:for|to) (?:me|my|him|her)\b",
        r"(?:how much|what dose|how many|what dosage) .{0,40}(?:should i|for my|can my|do i)",
        rf"(?:can|could|may|should|is it (?:ok|okay|safe|fine|bad) (?:for me |if i |to )?) ?(?:i|we|he|she|{MY_PERSON})? ?"
        rf"(?:take|give|use|drink|have|mix|combine|double|split|skip|crush|increase|decrease|lower|raise) .{{0,60}}"
        rf"(?:with|while|and|on|for|if|after|before|since|at|instead|half|tonight|today|to|dose|mg|pills?|"
        rf"tablets?|together|at the same time|extra)",
        r"(?:can|should|could) (?:i|he|she|my \w+|we) (?:take|give|have|use) (?:an? )?(?:extra|another|more|two)",
        rf"(?:can|could|may|should) (?:i|he|she|we|{MY_PERSON}) (?:take|give|use|drink|mix|combine|double|skip|have)\b",
        r"(?:is|are) .{0,50}(?:safe|ok|okay|too much|dangerous|bad|fine) for (?:me|my|him|her)\b",
        r"(?:dose|dosage|amount|how much|how many) (?:of )?.{0,30} for (?:me|my|him|her)\b",
        r"(?:cuanto|cuantos|cuanta|cuantas|que dosis|que) .{0,40}(?:puedo|debo|le puedo|le doy|tomar)",
        r"(?:puedo|debo|deberia) (?:tomar|dar|dejar|mezclar|beber)\w*",
    ),
    rule_pattern(
        "personal_advice.diagnosis",
        "asks what their own symptoms or results mean",
        # not "how do i get mine renewed", "what vaccines does my baby get"
        rf"(?<!how )(?<!where )(?<!vaccines )(?<!jabs )(?<!shots )(?<!immuni[sz]ations )(?:do|does|did|could|am|is|are|"
        rf"have) (?:i|he|she|we|{MY_PERSON}) (?:have|got|need|be|get|tear|break)\b",
        r"(?:am i|is (?:he|she|my \w+)) (?:anemic|diabetic|pregnant|sick|dying|depressed|allergic|infected|okay|ok)",
        r"(?:is|could|might|can) (?:this|that|it|my (?:\w+ ){0,3}\w+) (?:\w+ ){0,4}?(?:be )?(?:a |an )?(?:\w+ ){0,2}?"
        r"(?:cancer|melanoma|tumor|serious|dangerous|normal|bad|a sign|a symptom|infected|broken|my heart|"
        r"an ulcer|an infection|a uti|a stroke|something)",
        r"what (?:is|could|might|can) (?:it|this|that) be",
        r"what could (?:it|this|that|cause)",
        r"what (?:do|does|did) (?:i|he|she|my \w+) have",
        r"what (?:is|s) (?:wrong|going on) with (?:me|him|her|my)",
        r"what (?:is|s) causing (?:it|this|(?:\w+ ){0,4}?(?:my|me))",
        r"what (?:could|might|can) be causing",
        r"what does (?:it|this) mean for me",
        r"should i (?:worry|be worried)",
        r"(?:is|are) (?:that|this|it|these) (?:bad|dangerous|normal|high|low|serious) for (?:me|him|her|my)",
        r"are my \w+ (?:failing|damaged|okay|normal)",
        r"is my (?:\w+ ){1,6}?(?:damaged|failing|okay|normal|too \w+|high|low|dangerous|bad)",
        r"why (?:does|is|do|am) (?:my|i)\b",
        r"what is it\b",
        r"is it normal that (?:my|i)",
        r"(?:tengo|tiene|tendre) (?:diabetes|una|un|cancer|\w+) .{0,40}(?:si|\?|$)",
        r"que tengo",
        r"que es ?\?",
        r"que (?:tiene|le pasa)",
    ),
    rule_pattern(
        "personal_advice.treatment",
        "asks for a treatment decision for their own case",
        rf"(?<!how )(?<!where )(?:should|can|could|may|must|do) (?:i|we|he|she|{MY_PERSON}) (?:stop|start|keep|continue|"
        rf"switch|quit|"
        rf"get|go|try|refuse|see|have|skip|treat|vaccinate|delay|avoid|exercise|fly|change|increase|use|be|"
        rf"breastfeed|need|ask (?:for|about))\b",
        r"(?:do|does) (?:i|he|she|my \w+) need",
        r"(?:would|will) (?:i|he|she) be (?:fine|okay|ok|alright|safe)",
        r"if i (?:stop|stopped|skip|skipped|miss|missed|quit) (?:taking )?(?:my|the)",
        r"is it (?:safe|okay|ok|fine|a good idea) for (?:me|him|her|my)",
        r"is it (?:a good idea|safe|okay|ok) (?:for me|to|if i)",
        r"(?:what|which) (?:\w+ ){1,2}should (?:i|he|she|we)(?! (?:teach|tell|show|know|learn|look|watch|remember|avoid|eat|"
        r"drink|cook|buy|expect|bring|pack))",
        r"what should (?:i|we) (?:take|do|eat|use|put|give|try|follow)",
        r"how should i treat",
        r"what is the best (?:\w+ )?(?:treatment|medicine|cream|diet|dose) for my",
        r"what (?:can|do) i (?:take|do) for",
        r"what (?:do|can) i do about",
        r"(?:debo|deberia|puedo) (?:dejar|operarme|tomar|darle|seguir)",
        r"que debo (?:tomar|hacer)",
        r"que (?:\w+ )?(?:me tomo|tomo|le doy|debo tomar)",
        r"es normal que (?:me|mi|le)",
        r"(?:necesito|necesita) (?:\w+ )?(?:pastillas|medicamento|medicina|antibioticos|tratamiento|operarme|ir al medico)",
        r"debo tomar",
    ),
]

PERSONAL_STRONG = [
    rule_pattern(
        "personal_advice.diagnosis",
        "asks what their own symptoms or results mean",
        r"what (?:is|s) (?:wrong|going on) with (?:me|him|her|my \w+)",
        r"is (?:there )?something wrong(?: with (?:me|him|her|my))?",
        r"what (?:do|does) (?:i|he|she) have",
        r"what (?:could|might|can) be causing (?:it|this|that|them|these|my)",
        r"(?:are|is) (?:my|these|his|her) symptoms",
        r"(?:is|could) (?:it|this|that) (?!(?:\w+ )?(?:true|a myth|myth|a thing|real|right|correct|legit) )(?:be )?"
        r"(?:a |an |my )?(?:\w+ ){0,2}\w+ \?",
        r"what could (?:it|this|that) be",
    ),
]

# A dose question is about a medicine, or something given to someone ("can I give my baby honey"): "how much
# water should I drink", "what can I drink to prevent kidney stones" ask what any consumer guide answers.
DOSE_WORD = re.compile(
    r"\b(?:dose|doses|dosage|mg|mcg|milligrams?|ml|units|puffs|dosis|overdose|double|give|giving)\b"
)
# Exercising with a cold is a question any consumer guide answers, not a treatment decision. (Whether *my*
# medicine goes with food or alcohol stays personal advice, as data/safety_dev.jsonl labels it: the answer is
# general information with a note to ask the pharmacist.)
EVERYDAY = re.compile(
    r"\b(?:go(?:ing)? (?:to )?(?:the )?(?:gym|for a run|running|swimming|exercise)|exercis\w*|work(?:ing)? out|"
    r"train(?:ing)?) (?:with|while|when|if) (?:i have |i have got |having |got )?(?:a |the )?(?:mild |slight |bad |"
    r"head |chest )?(?:cold|flu|cough|sniffles?|sore throat|runny nose|blocked nose|hangover)\b"
)
# A question about the normal range of a reading asks a fact about people in general, not a diagnosis.
NORMAL_RANGE = re.compile(
    r"\b(?:(?:in|within|out of|outside) (?:the )?normal range|normal range (?:for|of)|(?:normal|ok|okay|fine|healthy) for "
    r"(?:a|an|someone|my age|his age|her age)\b|(?:what is|whats|what s) (?:a )?(?:normal|healthy|good) "
    r"(?:resting )?(?:heart rate|blood pressure|pulse|oxygen|temperature|reading|level|range))"
)

# General framing: the message asks about a topic, not about someone right now.
GENERIC = re.compile(
    r"^(?:what|how|when|why|which|who|is it true|can you|could you|tell me|explain|describe|list|define|write|create|"
    r"draft|compose|generate|summari[sz]e|translate|"
    r"where|do you|does|are there|should (?:you|someone|people|a person)|que|como|cuales?|cuando|por que)\b|"
    r"\b(?:if|when|whether|suppose|supposing|hypothetically|what if|in case) (?:someone|somebody|a person|a child|"
    r"a baby|you|one|people|your|an? \w+|they)\b|\b(?:signs?|symptoms?|warning signs|risk factors?|causes?) "
    r"(?:of|for)\b|\bhow (?:do|can|would|should) (?:you|one|i) (?:tell|know|recogni[sz]e|spot|help)\b|"
    r"\b(?:in|for) (?:my|a|the) (?:novel|story|screenplay|script|book|tv|drama|show|film|movie|play|class|report|"
    r"exam|essay)\b|\bnursing (?:student|exam)|\bfirst aid\b|\bwhat (?:happens|would happen)\b|"
    r"\b(?:teaching|practice|exam|quiz|training) (?:case|question|scenario)\b|\bcase (?:study|scenario)\b|"
    r"\b(?:usual|standard|current|first line|recommended|initial|evidence based) (?:management|treatment|approach|"
    r"work ?up|antidote) (?:of|for|to)\b|\bantidote (?:they |do they |you |doctors )?(?:give|use)\b|"
    r"\bwriting (?:a|an|my) (?:\w+ )?(?:essay|assignment|report|dissertation|presentation|revision notes|leaflet)\b|"
    r"\bsuicide prevention\b|\b(?:samaritans|crisis line|helpline|listening) volunteer\b|\bmental health first aid\b"
)
STRONG_ANCHOR = re.compile(
    rf"\b(?:myself|himself|herself|i (?:am|have|feel|think|took|just|can not|ate|swallowed|was|got|cut|fell|mixed|keep|overdosed|drank|"
    rf"passed|hit|slit|wrote|bought|need)|{MY_PERSON} (?:is|has|was|just|took|can not|will not|says|said|told|ate|"
    rf"swallowed|drank|fell|collapsed|got|had)|my (?:chest|head|face|heart|arm|leg|throat|lips|tongue|sugar|"
    rf"vision|speech|neck|body|breathing|hand|wrist|eye)|right now|(?:he|she|they) (?:is|are|has|have|was|took|"
    rf"can not|will not|just|collapsed|fell|swallowed|says|said)|this is not hypothetical|not a drill|"
    rf"in front of me|next to me|\bmi\b|\bme\b|tengo|estoy|se le)\b"
)
