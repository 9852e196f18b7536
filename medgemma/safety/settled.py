"""settled.py says when a message tells its problem as settled: gone by itself, checked and cleared by a
clinician, or a child back to playing and eating; and when something in it says it is not over.

The guard uses it so that a chest pain that came and went (NHS: 111, not 999) and the learned layer's
emergency or urgent votes do not escalate a message like that. It knows no labels and no verdicts.
"""

from __future__ import annotations

import re

_SETTLED = re.compile(
    r"(?<![a-z0-9])(?:"
    r"(?:went|goes|has gone|had gone|was gone|is gone) away|"
    r"goes (?:within|after|in) (?:a |about )?(?:few |couple of )?(?:seconds?|minutes?|a minute)|"
    r"(?:went|passed|settled|stopped|eased|cleared) (?:off |down |up )?(?:by itself|on its own|"
    r"after (?:a|about|\d+)|within)|"
    r"eas(?:ed|ing) off|"
    r"ruled out|"
    r"(?:gp|doctor|dr|nurse|paramedics?|they|hospital) (?:checked|examined) (?:me|him|her|them|it)|"
    r"(?:ecg|ekg|tests?|bloods|blood tests?|scans?|x rays?) (?:was|were|came back|is|are) (?:normal|fine|clear|ok)|"
    r"(?:playing|eating|drinking|feeding|acting|behaving|talking|walking)(?: and (?:eating|drinking|playing|"
    r"feeding|talking|walking))? (?:normally|fine|well|as usual|like (?:normal|usual)|happily)|"
    r"back to (?:normal|(?:his|her|their|my) (?:usual|normal) self)|"
    r"cried (?:straight away|immediately|right away|at once)|"
    r"bleeding (?:has |is |was )?(?:stopped|controlled|under control)|(?:has|s|it s|it has) stopped bleeding|"
    r"(?:i|he|she|they|we) (?:can|could) still (?:drink|swallow|eat)"
    r")(?![a-z0-9])"
)
# Whatever says it is not over: it came back, it is worse, something new happened after.
_NOT_OVER = re.compile(
    r"(?<![a-z0-9])(?:but now|now (?:he|she|they|it|i) (?:is|are|am|has|have|keeps?|will not|can not|seems?)|"
    r"again|came back|comes back|coming back|keeps? coming|returned|is back|"
    r"(?:not|is not|has not|did not|does not) (?:\w+ )?(?:eas(?:ing|ed)|settl\w*|going away|gone away|stopp\w*|helping|working)|"
    r"still (?:there|going|bleeding|hurting|hurts|painful|getting)|worse|worsening|suddenly|"
    r"then (?:he|she|they|it|i) (?:started|began|collapsed|went|was|became))(?![a-z0-9])"
)
# Signs that, once gone and checked, are a same-day or routine question rather than an ambulance.
TRANSIENT_RULES = frozenset(
    {
        "emergency.chest_pain",
        "redflag.cardiac.chest_pain_spreading",
        "redflag.cardiac.chest_pain_at_rest",
        "redflag.bleeding.nosebleed_long",
    }
)


def settled(norm: str) -> bool:
    """The normalised message says its problem has settled and nothing in it says it is not over."""
    return bool(_SETTLED.search(norm)) and not _NOT_OVER.search(norm)
