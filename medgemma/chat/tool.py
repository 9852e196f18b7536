"""tool.py owns the cited answer as one typed call for machine clients: a question in; the answer text, its
numbered sources and the safety verdict out, through the chat's own checks and guarded pipeline.

It knows no transport: medgemma/chat/mcp_server.py serves it as the one MCP tool.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from medgemma.chat.events import Done, Emergency, Refusal
from medgemma.chat.limits import RateLimiter, clean_question
from medgemma.chat.pipeline import ChatSettings, answer
from medgemma.chat.services import Services
from medgemma.config import Settings

ResponseKind = Literal["answer", "no_source", "stopped", "emergency", "refusal"]
MODE_KIND: dict[str, ResponseKind] = {
    "generative": "answer",
    "extractive": "answer",
    "no_source": "no_source",
    "stopped": "stopped",
}


@dataclass(frozen=True)
class ToolSource:
    """One numbered source [n] the answer cites: where it is and the passage it was given."""

    n: int
    title: str
    url: str  # the page's URL; empty for an uploaded file, which `location` names
    location: str  # the URL, else "file, page N"
    passage: str


@dataclass(frozen=True)
class ToolVerdict:
    """The guard's decision on the question and which kind of response it led to."""

    label: str  # allowed | urgent | personal_advice | emergency | harmful
    kind: ResponseKind  # emergency and refusal are the guard's fixed responses; nothing was retrieved


@dataclass(frozen=True)
class CitedAnswer:
    """What the tool returns: the answer as the chat shows it ([n] markers into `sources`), and the verdict."""

    answer: str
    safety: ToolVerdict
    sources: list[ToolSource] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def cited_answer(done: Done, guard_answered: Literal["emergency", "refusal"] | None = None) -> CitedAnswer:
    """The pipeline's Done as a CitedAnswer: only the passages the answer cites, numbered as in its text."""
    cited = {c.n for c in done.citations}
    sources = [
        ToolSource(p.n, p.title, p.url, p.link(), p.text or p.snippet) for p in done.passages if p.n in cited
    ]
    kind: ResponseKind = guard_answered or MODE_KIND.get(done.mode, "answer")
    return CitedAnswer(done.text, ToolVerdict(done.safety, kind), sources)


class CitedAnswerTool:
    """Asks one question the way the Chat tab does: the same question checks (clean, at most
    max_question_chars), the same per-minute budget (chat_rate_per_minute, here per client address), the
    admin's chat defaults (no model, adapter or other option can be chosen by the caller), the same pipeline."""

    def __init__(self, settings: Settings, services: Services) -> None:
        self.settings, self.services = settings, services
        self.limiter = RateLimiter(settings.chat_rate_per_minute)

    def ask(self, question: object, client: str, stop: threading.Event | None = None) -> CitedAnswer:
        """Answer `question` for `client` (its rate key); raises InputRejected on an empty, too long or
        too frequent question. Setting `stop` ends generation with what was written."""
        text = clean_question(question, self.settings)
        self.limiter.take(f"tool:{client}")
        chat = ChatSettings.from_settings(self.settings, session_id=f"tool:{client}")
        guard_answered: Literal["emergency", "refusal"] | None = None
        for event in answer(text, [], chat, self.services, stop):
            if isinstance(event, Emergency):
                guard_answered = "emergency"
            elif isinstance(event, Refusal):
                guard_answered = "refusal"
            elif isinstance(event, Done):
                return cited_answer(event, guard_answered)
        raise RuntimeError("the pipeline ended without its Done event")  # answer() always ends with Done
