"""The safety guard: labels a message or an answer (allowed, urgent, emergency, personal_advice, harmful),
writes the audit log and words the fixed responses.

Layers: `text` normalises a message, `patterns` and `harm` hold the rule lexicons (data only),
`red_flags.yaml` is the red-flag catalogue that `catalogue` loads and matches, `rules` reads them all,
`context` reads the recent user turns, `learned` is the trained layer and the optional classifier-model
hook, `responses` words the answers, `guard` decides. It knows nothing of retrieval, generation or the UI.
Public names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medgemma import lazy_exports

_EXPORTS = {
    "SafetyGuard": "guard",
    "emergency_number": "guard",
    "crisis_line": "guard",
    "LearnedLayer": "learned",
    "ClassifierHook": "learned",
    "findings": "rules",
    "output_findings": "rules",
    "normalize": "text",
    "emergency_text": "responses",
    "refusal_text": "responses",
    "urgent_text": "responses",
    "RedFlag": "catalogue",
}
__all__ = [
    "ClassifierHook",
    "LearnedLayer",
    "RedFlag",
    "SafetyGuard",
    "crisis_line",
    "emergency_number",
    "emergency_text",
    "findings",
    "normalize",
    "output_findings",
    "refusal_text",
    "urgent_text",
]

if TYPE_CHECKING:
    from medgemma.safety.catalogue import RedFlag
    from medgemma.safety.guard import SafetyGuard, crisis_line, emergency_number
    from medgemma.safety.learned import ClassifierHook, LearnedLayer
    from medgemma.safety.responses import emergency_text, refusal_text, urgent_text
    from medgemma.safety.rules import findings, output_findings
    from medgemma.safety.text import normalize


__getattr__ = lazy_exports(__name__, _EXPORTS)
