"""events.py holds what `pipeline.answer` streams: one small frozen dataclass per kind of step.

The Chat tab, the CLI, the evaluation predictor and the benchmarks match on the class and read typed
fields. Nothing here does work, and nothing here knows who reads the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from medgemma.types import Citation, GenerationStats, Passage, Verdict

if TYPE_CHECKING:
    from medgemma.chat.citations import SentenceCheck


@dataclass(frozen=True)
class Status:
    """Progress worth showing while the answer is written ("Searching the knowledge base ...")."""

    text: str
    kind: ClassVar[str] = "status"


@dataclass(frozen=True)
class Safety:
    """A safety note next to the answer: general information only, or the answer was adjusted."""

    text: str
    verdict: Verdict
    kind: ClassVar[str] = "safety"


@dataclass(frozen=True)
class Emergency:
    """The guard answered at once (call your emergency number); nothing else runs."""

    text: str
    verdict: Verdict
    kind: ClassVar[str] = "emergency"


@dataclass(frozen=True)
class Refusal:
    """The guard refused the request; nothing else runs."""

    text: str
    verdict: Verdict
    kind: ClassVar[str] = "refusal"


@dataclass(frozen=True)
class Sources:
    """The passages the answer may cite, numbered [1]..[k]."""

    passages: tuple[Passage, ...]
    kind: ClassVar[str] = "sources"


@dataclass(frozen=True)
class Sentence:
    """One sentence of the answer, shown as soon as it is complete, supported by a passage and passed by
    the output check (the model's draft itself never leaves the pipeline)."""

    check: SentenceCheck  # its text without markers, the [n] it keeps and how well it is supported
    citations: tuple[Citation, ...]  # the passages its [n] point at
    mode: str  # generative (from the draft) | extractive (quoted from a passage)
    kind: ClassVar[str] = "sentence"

    @property
    def text(self) -> str:
        """The sentence with its markers, as the answer prints it ("Gout is ... [1]")."""
        marks = "".join(f"[{n}]" for n in self.check.cited)
        return f"{self.check.text} {marks}" if marks else self.check.text


@dataclass(frozen=True)
class Dropped:
    """A sentence of the draft that no passage supports: left out of the answer, listed for the curious."""

    check: SentenceCheck
    kind: ClassVar[str] = "dropped"


@dataclass(frozen=True)
class Answer:
    """The verified answer: its sentences with their support, the citations it keeps, and how it was made."""

    text: str
    sentences: tuple[SentenceCheck, ...]
    citations: tuple[Citation, ...]
    support: float
    mode: str  # generative | extractive
    dropped_markers: tuple[int, ...] = ()
    draft: str = ""
    kind: ClassVar[str] = "answer"


@dataclass
class Timings:
    """Seconds per stage of one turn; a stage that did not run stays None."""

    safety_s: float | None = None
    retrieval_s: float | None = None
    generation: GenerationStats | None = None
    verification_s: float | None = None
    first_token_s: float | None = None  # from the question to the draft's first token
    first_sentence_s: float | None = None  # from the question to the first verified sentence shown
    total_s: float | None = None

    def stats(self) -> dict[str, Any]:
        """The generation's figures (TTFT, tokens, tok/s), rounded; empty when nothing was generated."""
        return self.generation.to_dict() if self.generation is not None else {}

    def to_dict(self) -> dict[str, Any]:
        out = {
            "safety_s": self.safety_s,
            "retrieval_s": self.retrieval_s,
            "generation": self.stats() if self.generation is not None else None,
            "verification_s": self.verification_s,
            "first_token_s": self.first_token_s,
            "first_sentence_s": self.first_sentence_s,
            "total_s": self.total_s,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class Done:
    """The end of a turn: the final text and everything measured about it (always the last event)."""

    text: str
    mode: str  # generative | extractive | no_source | stopped | none (the guard answered)
    safety: str  # the input verdict's label
    timings: Timings
    evidence: dict[str, Any]  # the downloadable evidence record (JSON-ready)
    citations: tuple[Citation, ...] = ()
    sentences: tuple[SentenceCheck, ...] = ()  # the answer's sentences, as shown
    dropped: tuple[SentenceCheck, ...] = ()  # the sentences checked and not shown: no passage supports them
    support: float = 0.0
    passages: tuple[Passage, ...] = ()
    draft: str = ""
    model: str | None = None  # None when no model was needed
    backend: str | None = None
    adapter: str = ""
    kind: ClassVar[str] = "done"


Event = Status | Safety | Emergency | Refusal | Sources | Sentence | Dropped | Answer | Done

__all__ = [
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
]
