"""The guarded, cited answer to one chat turn: pipeline stages and their typed events, prompts, citations
and their verification, the checks on what a visitor sends (question, rate, stop), the shared Services
(model, knowledge base, embedder, guard), answer feedback, and the cited answer as one typed call (tool.py).

It knows nothing of Gradio: the Chat tab, the CLI and the evaluation runner read the same Events.
Public names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medgemma import lazy_exports

_EXPORTS = {
    "ChatSettings": "pipeline",
    "Turn": "pipeline",
    "answer": "pipeline",
    **{
        name: "events"
        for name in (
            "Answer",
            "Done",
            "Dropped",
            "Emergency",
            "Event",
            "Refusal",
            "Safety",
            "Sentence",
            "Sources",
            "Status",
            "Timings",
        )
    },
    "RateLimiter": "limits",
    "clean_question": "limits",
    "StopSignals": "stops",
    "Prompt": "prompts",
    "build_prompt": ("prompts", "build"),
    "Verification": "citations",
    "verify": "citations",
    "extractive_answer": "citations",
    "Services": "services",
    "record_feedback": "feedback",
    "good_examples": "feedback",
    "CitedAnswer": "tool",
    "CitedAnswerTool": "tool",
}
__all__ = [
    "Answer",
    "ChatSettings",
    "CitedAnswer",
    "CitedAnswerTool",
    "Done",
    "Dropped",
    "Emergency",
    "Event",
    "Prompt",
    "RateLimiter",
    "Refusal",
    "Safety",
    "Sentence",
    "Services",
    "Sources",
    "Status",
    "StopSignals",
    "Timings",
    "Turn",
    "Verification",
    "answer",
    "build_prompt",
    "clean_question",
    "extractive_answer",
    "good_examples",
    "record_feedback",
    "verify",
]

if TYPE_CHECKING:
    from medgemma.chat.citations import Verification, extractive_answer, verify
    from medgemma.chat.events import (
        Answer,
        Done,
        Dropped,
        Emergency,
        Event,
        Refusal,
        Safety,
        Sentence,
        Sources,
        Status,
        Timings,
    )
    from medgemma.chat.feedback import good_examples, record_feedback
    from medgemma.chat.limits import RateLimiter, clean_question
    from medgemma.chat.pipeline import ChatSettings, Turn, answer
    from medgemma.chat.prompts import Prompt
    from medgemma.chat.prompts import build as build_prompt
    from medgemma.chat.services import Services
    from medgemma.chat.stops import StopSignals
    from medgemma.chat.tool import CitedAnswer, CitedAnswerTool


__getattr__ = lazy_exports(__name__, _EXPORTS)
