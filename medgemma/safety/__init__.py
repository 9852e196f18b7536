"""The safety guard: labels a message or an answer (allowed, urgent, emergency, personal_advice, harmful),
writes the audit log and words the fixed responses.

Layers: `text` normalises a message, `patterns` and `harm` hold the rule lexicons (data only),
`red_flags.yaml` is the red-flag catalogue that `catalogue` loads and matches, `rules` reads them all,
`context` reads the recent user turns, `classifier` is the trained layer (fine-tuned MiniLM; `corpus`
assembles its data, `finetune` trains it), `model_guard` runs an optional hub safety model (Llama Guard,
ShieldGemma, Qwen3Guard), `learned` is the former linear probe (a baseline), `responses` words the
answers, `guard` decides. It knows nothing of retrieval, generation or the UI.
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
    "SafetyClassifier": "classifier",
    "ModelGuard": "model_guard",
    "findings": "rules",
    "output_findings": "rules",
    "normalize": "text",
    "emergency_text": "responses",
    "refusal_text": "responses",
    "urgent_text": "responses",
    "RedFlag": "catalogue",
}
__all__ = [
    "LearnedLayer",
    "ModelGuard",
    "RedFlag",
    "SafetyClassifier",
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
    from medgemma.safety.classifier import SafetyClassifier
    from medgemma.safety.guard import SafetyGuard, crisis_line, emergency_number
    from medgemma.safety.learned import LearnedLayer
    from medgemma.safety.model_guard import ModelGuard
    from medgemma.safety.responses import emergency_text, refusal_text, urgent_text
    from medgemma.safety.rules import findings, output_findings
    from medgemma.safety.text import normalize


__getattr__ = lazy_exports(__name__, _EXPORTS)
