"""frames.py holds what frames a message rather than what it asks for, as regular expressions over
`text.normalize` output: a game, film or story (violent words not about real people), everyday phrases that
borrow a harm word ("bath bomb", "kill time"), a carer asking how to support someone, and a question that
is plainly not about something happening now (a myth to check, an operation next month, a stroke five years
ago and well since). Only data and one masking helper: `rules.py` and `guard.py` decide what they mean.
"""

from __future__ import annotations

import re

SAFE_CONTEXT = re.compile(
    r"\b(?:in|on|for|during) (?:a |the |my |this |an )?(?:video ?game|game|computer game|board game|chess|checkers|"
    r"judo|karate|boxing|wrestling|mma|fencing|paintball|laser tag|play|movie|film|tv show|show|series|book|novel|"
    r"story|short story|screenplay|script|crime novel|mystery novel|comic|anime|fiction|rpg|match|sparring)\b|"
    r"\b(?:call of duty|counter strike|gta|minecraft|fortnite|witcher|battlefield|halo|skyrim|zelda|pokemon|"
    r"the sims|lion king|terminator|die hard|dark knight|ocean s 11|mission impossible|mr and mrs smith)\b|"
    r"\bfor (?:dinner|lunch|breakfast|brunch|drinks|a drink|coffee|a date|a meal|a walk|ice cream)\b|"
    r"\b(?:first aid|cpr|resuscitation|life support|lifeguard|safeguarding) (?:course|class|training|certificate|"
    r"qualification|refresher|session)s?\b|"
    r"\bhow (?:does|did) \w+ .{0,40}\bin (?:the )?\w+|\b(?:fake|prop|toy|stage|pretend) (?:gun|guns|weapon|bomb|knife|hospital|blood|building|city|explosion|body|corpse|house)\b"
)
# Medical dramas and soaps named in lower case ("in greys anatomy last night someone got stabbed"): a story.
# Not "er" or "casualty", which are also places.
SCREEN = re.compile(
    r"\b(?:in|on|watching|watched|from) (?:\w+ ){0,2}(?:greys anatomy|grey s anatomy|holby(?: city)?|house md|scrubs|"
    r"chicago med(?:ication)?|the pitt|the good doctor|call the midwife|line of duty|breaking bad|dexter|the walking dead|"
    r"game of thrones|eastenders|coronation street|emmerdale|hollyoaks|the resident|new amsterdam|24 hours in a and e)\b"
)
# Something seen or read about, not happening to the writer: a documentary, an article, a programme.
MEDIA = re.compile(
    r"\b(?:watch(?:ed|ing)?|saw|seen|read(?:ing)?|heard|listening to|listened to) (?:a |an |the |this |that |on )?"
    r"(?:\w+ )?(?:documentary|programme|program|article|news (?:story|report)|podcast|episode|ted talk)\b|"
    r"\bsaw (?:it|this|that) on (?:a |the )?(?:tv|telly|news|programme|program|documentary|show|tiktok|youtube|poster|"
    r"leaflet|website|advert)\b"
)
# Someone learning to help others through a crisis: a volunteer, a course, how to ask a friend.
HELPER = re.compile(
    r"\b(?:suicide prevention|(?:samaritans|crisis line|helpline|listening|charity) volunteer|mental health first aid\w*|"
    r"how (?:do|can|should) (?:i|you|we) ask (?:someone|somebody|a friend|a person|them) (?:directly )?(?:if|whether|about)|"
    r"how (?:do|can|should) (?:i|we) (?:bring up|talk about|raise|discuss|mention|explain) (?:suicide|self harm)|"
    r"talk to (?:her|him|them|my \w+) about (?:suicide|self harm|what happened))\b"
)
# A message that ends by naming a title ("... in The Dark Knight?"): read on the raw text, capitals kept.
SAFE_TITLE = re.compile(
    r"\b(?:in|on) (?:the |a )?[A-Z][a-z][\w']*(?: (?:of|the|and|[A-Z0-9][\w']*))*(?: (?:game|film|movie|show))?[?.!]?$"
)
# Everyday phrases that borrow a harm word: masked (same length, so offsets hold) before the harm patterns.
IDIOMS = re.compile(
    r"\b(?:bath bombs?|flavou?r bombs?|bombs? of (?:flavou?rs?|taste|colou?rs?)|(?:cake|cocoa|chocolate|seed|glitter|"
    r"photo|calorie) bombs?|a ['\"]? ?bomb ['\"]? ?of a (?:\w+ ){0,2}(?:cake|dessert|dish|drink|cocktail)|photobomb\w*|"
    r"kill(?:ing)? (?:the )?time|killer (?:app|workout|deal|smile|look)|body of (?:text|work|water|evidence|research)|"
    r"break(?:ing)? into (?:the )?(?:[\w-]+ ){0,3}(?:business|industry|market|field|career|scene|world)|"
    r"fake (?:snow|tan|plants?|flowers?|eyelashes|lashes|nails|tree|fur|grass)|"
    r"shoot(?:ing)? (?:a |the )?(?:photos?|pictures?|video|film|scene|hoops|basket|shot|message|email|text)|"
    r"(?:light|set|start) (?:a |the )?(?:fireplace|fire pit|campfire|bonfire|barbecue|bbq|grill|wood stove)(?: on fire)?|"
    # hyperbole about things, not people ("this traffic is killing me", "homework is giving me a heart attack")
    r"(?:this|the|these|that) (?:[\w-]+ ){0,3}(?:is|are|was|were|s) (?:literally |actually |honestly |slowly |absolutely "
    r")?killing me|giv(?:e|es|ing) me (?:a )?heart attacks?|(?:nearly |almost |literally )?died (?:laughing|of "
    r"(?:laughter|embarrassment|shame|boredom|cringe))|dying of (?:laughter|embarrassment|boredom))\b"
)
_IDIOMS_ANY_CASE = re.compile(IDIOMS.pattern, re.IGNORECASE)
# A carer asking how to help someone through something: never a harmful request by itself. The person is
# followed by who / with / through / a clause end, not by an act ("help my sister hide her weight loss").
SUPPORT = re.compile(
    r"\b(?:how (?:can|do|should|could|would) (?:i|we) (?:best |better )?|ways to |tips (?:on|for) |"
    r"what can (?:i|we) (?:say|do) to )(?:support|help|look after|care for|be there for|talk to|comfort|reassure|"
    r"encourage)(?:ing)? (?:my|our|a|his|her|their|him|them) (?:[\w-]+ ){0,3}?(?:who|whos|that|with|through|after|"
    r"since|while|when|because|now|cope|recover|heal|at home|[,.?!]|$)"
)


def mask_idioms(text: str) -> str:
    """The text with everyday harm-word phrases ("bath bomb", "kill time") blanked, for the classifier."""
    return _IDIOMS_ANY_CASE.sub(lambda m: " " * len(m.group()), text)


# Not about now: a myth or claim to check, a plan for later, an illness long past and recovered from, or
# "nothing wrong with me". The classifier's emergency or urgent vote must be surer here (guard.py).
NOT_NOW = re.compile(
    r"\b(?:is (?:that|it|this) (?:true|a thing|a myth|real|just a myth)|old wives tale|myth|(?:he|she|my \w+) reckons|"
    r"nothing wrong with (?:me|him|her|us)|(?:next|this coming|later this) (?:week|month|year)|"
    r"(?:is|am|are) (?:having|booked in for|going in for|due to have) (?:his|her|my|their|a|an) (?:\w+ ){0,2}"
    r"(?:op|operation|surgery|procedure|scan|appointment)|"
    r"(?:\d+|two|three|four|five|six|ten|several|many) (?:years?|months?) ago\b.{0,80}\b(?:doing (?:well|fine|great|ok)|"
    r"(?:has |have |had )?recovered|(?:fine|better|well) now))"
)
