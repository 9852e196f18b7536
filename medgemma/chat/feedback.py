"""feedback.py stores thumbs up/down (with an optional comment) on chat answers, for later training.

Records are JSONL under the data home; `good_examples` yields the ones rated up.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.storage import append_jsonl, read_jsonl

MAX_COMMENT = 2000


def feedback_path(settings: Settings):
    return settings.path("feedback", "feedback.jsonl")


def record_feedback(
    settings: Settings,
    question: str,
    answer: str,
    rating: str,
    comment: str = "",
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    if rating not in {"up", "down"}:
        raise InputRejected(f"Rating must be 'up' or 'down', got {rating!r}.")
    if not question or not answer:
        raise InputRejected("There is no answer to rate yet.")
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "question": question,
        "answer": answer,
        "rating": rating,
        "comment": (comment or "")[:MAX_COMMENT],
        "citations": (evidence or {}).get("citations", []),
        "passages": [
            {k: p.get(k) for k in ("n", "title", "url", "text")} for p in (evidence or {}).get("passages", [])
        ],
        "model": (evidence or {}).get("model", ""),
        "adapter": (evidence or {}).get("adapter", ""),
    }
    append_jsonl(feedback_path(settings), record)
    return record


def good_examples(settings: Settings) -> Iterator[dict[str, Any]]:
    for rec in read_jsonl(feedback_path(settings)):
        if rec.get("rating") == "up" and rec.get("question") and rec.get("answer"):
            yield rec
