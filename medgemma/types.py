"""types.py holds the small dataclasses that flow between modules.

Build: Document -> Chunk -> (index). Ask: Verdict, Hit, Citation, Passage; the chat's Events are in
medgemma/chat/events.py. Nothing here does work; modules own behaviour.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Document:
    """One citable unit from a source: a file page, an NIH web page, a PubMed abstract."""

    doc_id: str
    text: str
    title: str = ""
    source: str = ""  # file name or corpus name
    url: str = ""
    page: int | None = None  # 1-based page for PDFs
    section: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Chunk:
    """A retrievable passage of a Document with a content-stable id."""

    chunk_id: str
    doc_id: str
    text: str
    title: str = ""
    source: str = ""
    url: str = ""
    page: int | None = None
    section: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with the scores of each retrieval leg (None where a leg missed it)."""

    chunk: Chunk
    score: float  # fused score used for ranking
    dense: float | None = None
    bm25: float | None = None
    rank: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "chunk": self.chunk.to_dict(),
            "score": self.score,
            "dense": self.dense,
            "bm25": self.bm25,
            "rank": self.rank,
        }


@dataclass(frozen=True)
class Citation:
    """A numbered source [n] as shown to the user."""

    n: int
    doc_id: str
    chunk_id: str
    title: str
    url: str = ""
    source: str = ""
    page: int | None = None
    publisher: str = ""  # where it came from ("NIH Genetic and Rare Diseases Information Center (GARD)")
    date: str = ""  # as of when ("2017", "2014-08-21"); "" when unknown

    def link(self) -> str:
        """Where the user can open the source: the URL, else 'file, page N' (the one place this is built)."""
        if self.url:
            return self.url
        return f"{self.source}, page {self.page}" if self.page else self.source

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Passage(Citation):
    """A retrieved passage numbered [n] for one answer, with its scores (the Sources panel, the evidence)."""

    section: str = ""
    score: float = 0.0
    dense: float | None = None
    bm25: float | None = None
    snippet: str = ""
    text: str = ""

    @classmethod
    def from_hit(cls, n: int, hit: Hit) -> Passage:
        c = hit.chunk
        return cls(
            n=n,
            doc_id=c.doc_id,
            chunk_id=c.chunk_id,
            title=c.title or c.source,
            url=c.url,
            source=c.source,
            page=c.page,
            section=c.section,
            score=round(hit.score, 4),
            dense=None if hit.dense is None else round(hit.dense, 4),
            bm25=None if hit.bm25 is None else round(hit.bm25, 4),
            snippet=c.text[:300],
            text=c.text,
        )


VerdictLabel = Literal["allowed", "urgent", "emergency", "personal_advice", "harmful"]
# The guard's labels in one order that the rules, the learned layer, the evaluation and the UI share:
# urgent = see a clinician today (same-day GP, urgent care, NHS 111 / nurse line), not an ambulance.
LABELS: tuple[str, ...] = ("allowed", "urgent", "emergency", "personal_advice", "harmful")


@dataclass(frozen=True)
class Verdict:
    """The safety guard's decision on a message or an answer."""

    label: VerdictLabel
    reasons: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    score: float = 0.0  # confidence of the deciding layer, 0..1

    @property
    def allowed(self) -> bool:
        return self.label == "allowed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "reasons": list(self.reasons),
            "rules": list(self.rules),
            "score": self.score,
        }


@dataclass(frozen=True)
class GenerationParams:
    """Per-request decoding parameters."""

    max_new_tokens: int = 200
    temperature: float = 0.2
    top_p: float = 0.9
    repetition_penalty: float = 1.1
    seed: int | None = None
    stop: tuple[str, ...] = ()


@dataclass
class GenerationStats:
    """Timings of one generation, filled by the backend while it streams."""

    ttft_s: float = 0.0
    total_s: float = 0.0
    tokens: int = 0
    prompt_tokens: int = 0

    @property
    def tok_per_s(self) -> float:
        decode = self.total_s - self.ttft_s
        return (self.tokens - 1) / decode if self.tokens > 1 and decode > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ttft_s": round(self.ttft_s, 4),
            "total_s": round(self.total_s, 4),
            "tokens": self.tokens,
            "prompt_tokens": self.prompt_tokens,
            "tok_per_s": round(self.tok_per_s, 2),
        }
