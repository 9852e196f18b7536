"""feedback.py stores thumbs up/down (with an optional comment) on chat answers, for later training.

Records go to a FeedbackStore: JSONL under the data home (FileFeedback, the default) or PostgreSQL when
MEDGEMMA_DATABASE_URL is set (medgemma/db/state.py picks); `good_examples` yields the ones rated up.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from medgemma.config import Settings
from medgemma.db.state import feedback_store
from medgemma.errors import InputRejected
from medgemma.storage import append_jsonl, read_jsonl

MAX_COMMENT = 2000


class FeedbackStore(Protocol):
    """Where feedback records live. `add` stores a record once: a record whose "id" is already stored is
    not stored again (so a retried write cannot double it); `records` yields them oldest first."""

    def add(self, record: dict[str, Any]) -> None: ...

    def records(self) -> Iterator[dict[str, Any]]: ...


class FileFeedback:
    """feedback/feedback.jsonl under the data home: one JSON line per record, appended."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def add(self, record: dict[str, Any]) -> None:
        append_jsonl(self.path, record)

    def records(self) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.path)


def feedback_path(settings: Settings) -> Path:
    return settings.path("feedback", "feedback.jsonl")


def record_feedback(
    settings: Settings,
    question: str,
    answer: str,
    rating: str,
    comment: str = "",
    evidence: dict[str, Any] | None = None,
    feedback_id: str = "",
) -> dict[str, Any]:
    """Store one rating; `feedback_id` (made here when not given) keys it, so storing it again is a no-op."""
    if rating not in {"up", "down"}:
        raise InputRejected(f"Rating must be 'up' or 'down', got {rating!r}.")
    if not question or not answer:
        raise InputRejected("There is no answer to rate yet.")
    record = {
        "id": feedback_id or uuid.uuid4().hex,
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
    feedback_store(settings).add(record)
    return record


def good_examples(settings: Settings) -> Iterator[dict[str, Any]]:
    for rec in feedback_store(settings).records():
        if rec.get("rating") == "up" and rec.get("question") and rec.get("answer"):
            yield rec
