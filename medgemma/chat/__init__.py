"""The guarded, cited answer to one chat turn: pipeline stages, prompts, citations and their
verification, the shared Services (model, knowledge base, embedder, guard) and answer feedback.

It knows nothing of Gradio: the Chat tab, the CLI and the evaluation runner read the same Events.
Public names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medgemma import lazy_exports

_EXPORTS = {
    "ChatSettings": "pipeline", "answer": "pipeline",
    "Prompt": "prompts", "build_prompt": ("prompts", "build"),
    "Verification": "citations", "verify": "citations", "extractive_answer": "citations",
    "Services": "services",
    "record_feedback": "feedback", "good_examples": "feedback",
}
__all__ = [
    "ChatSettings", "Prompt", "Services", "Verification", "answer", "build_prompt", "extractive_answer",
    "good_examples", "record_feedback", "verify",
]

if TYPE_CHECKING:
    from medgemma.chat.citations import Verification, extractive_answer, verify
    from medgemma.chat.feedback import good_examples, record_feedback
    from medgemma.chat.pipeline import ChatSettings, answer
    from medgemma.chat.prompts import Prompt
    from medgemma.chat.prompts import build as build_prompt
    from medgemma.chat.services import Services


__getattr__ = lazy_exports(__name__, _EXPORTS)
