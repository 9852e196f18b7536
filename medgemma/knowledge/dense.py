"""dense.py is the meaning side of a build: embedding chunks, filling in the vectors a generation lacks
(resumable: each batch is appended as it is done), re-embedding everything, and the progress line.

The keyword side of an index is complete from its first commit; this module makes the dense side catch
up. It knows nothing about Gradio, the CLI or how searches rank.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from medgemma.errors import IndexNotReady
from medgemma.knowledge.chunking import Chunker, embedding_text
from medgemma.knowledge.store import DocEntry, Snapshot, Store
from medgemma.types import Chunk, Document

ProgressFn = Callable[[float, str], None]
FIRST_BATCH_CHUNKS = 128  # the first commit comes quickly so the chat can answer early
MAX_BATCH_CHUNKS = 2048
EMBED_GROUP = 32  # texts per embedder call (one batch); the embedder lock is released between calls
YIELD_SECONDS = 0.005  # after each call, so a waiting search gets the encoder (a lock is not fair)


@dataclass
class Timings:
    """Where a build spent its time (seconds) and how many chunks it embedded."""

    chunk: float = 0.0
    encode: float = 0.0
    write: float = 0.0
    serve: float = 0.0  # making each commit searchable (BM25 once, then the dense index)
    embedded: int = 0
    commits: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {k: round(v, 3) if isinstance(v, float) else v for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Coverage:
    """How much of an index each search side covers, and when the dense side will be done."""

    chunks: int
    dense: int
    building: bool = False
    eta_seconds: float | None = None

    @property
    def complete(self) -> bool:
        return self.dense >= self.chunks

    def _eta(self) -> str:
        if not self.building or self.eta_seconds is None:
            return ""
        minutes = self.eta_seconds / 60
        return ", about a minute left" if minutes < 1.5 else f", about {minutes:.0f} min left"

    def line(self) -> str:
        """'Keyword search: 33,278 chunks ready · Meaning search: 4,120 of 33,278 (12%), about 40 min left';
        '' when both sides are complete."""
        if self.complete or not self.chunks:
            return ""
        share = self.dense / self.chunks
        return (
            f"Keyword search: {self.chunks:,} chunks ready · Meaning search: {self.dense:,} of "
            f"{self.chunks:,} ({share:.0%}){self._eta()}"
        )

    def note(self) -> str:
        """A sentence for an answer that found no source while the knowledge base is still being built."""
        if not self.chunks and self.building:
            return (
                "The knowledge base is still being built: keyword search over all of it is ready within about "
                "a minute of the start. Please ask again then."
            )
        if self.complete or not self.chunks:
            return ""
        when = f" It will be done in about {self.eta_seconds / 60:.0f} min." if self._eta() else ""
        return (
            f"The knowledge base is still being built: keyword search covers all {self.chunks:,} passages, "
            f"meaning search {self.dense / self.chunks:.0%} of them so far.{when} Asking again later may "
            "find more."
        )


class Reporter:
    """Sends progress to the caller's callback and, when publishing, (throttled) to build.json."""

    def __init__(self, store: Store, progress: ProgressFn | None, phase: str, publish: bool) -> None:
        self.store, self.progress, self.phase, self.publish = store, progress, phase, publish
        self._last = 0.0

    def __call__(self, fraction: float, message: str, **fields: Any) -> None:
        """`fields` (e.g. dense, chunks, eta_seconds) go into build.json with the message."""
        fraction = max(0.0, min(1.0, fraction))
        if self.progress:
            self.progress(fraction, message)
        now = time.time()
        if self.publish and now - self._last >= 1.0:
            self._last = now
            self.store.write_status(
                state="building", phase=self.phase, fraction=round(fraction, 4), message=message, **fields
            )

    def done(self, message: str) -> None:
        if self.progress:
            self.progress(1.0, message)
        if self.publish:
            self.store.write_status(state="ready", phase=self.phase, fraction=1.0, message=message)


@dataclass
class Rate:
    """Chunks per second of this run's dense fill, for the time-left estimate."""

    done: int = 0
    seconds: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def eta(self, left: int) -> float | None:
        return left * self.seconds / self.done if self.done else None


def fill(
    store: Store,
    embedder,
    report: Reporter,
    on_commit: Callable[[Snapshot], Any] | None = None,
    timings: Timings | None = None,
) -> Snapshot | None:
    """Embed the chunks of the newest generation that have no vectors yet, in growing batches, appending
    each batch as one small commit (a restart resumes from the last one)."""
    timings = timings if timings is not None else Timings()
    snap, target, rate = store.load(), FIRST_BATCH_CHUNKS, Rate()
    while snap is not None and not snap.complete:
        rows = snap.chunks[snap.dense : snap.dense + target]
        total, before = len(snap.chunks), snap.dense

        def progress(f: float, total=total, before=before, n=len(rows)) -> None:
            done = before + int(f * n)
            line = Coverage(total, done, True, rate.eta(total - done)).line()
            report(done / total, line, dense=done, chunks=total, eta_seconds=rate.eta(total - done))

        t = time.perf_counter()
        vectors = embed_chunks(embedder, rows, progress)
        timings.encode += time.perf_counter() - t
        rate.done, rate.seconds = rate.done + len(rows), rate.seconds + time.perf_counter() - t
        t = time.perf_counter()
        with store.writing():
            snap = store.append([c.chunk_id for c in rows], vectors, embedder.name)
        timings.write += time.perf_counter() - t
        timings.embedded, timings.commits = timings.embedded + len(rows), timings.commits + 1
        if on_commit is not None:
            t = time.perf_counter()
            on_commit(snap)
            timings.serve += time.perf_counter() - t
        progress(1.0, total=len(snap.chunks), before=snap.dense, n=0)
        target = min(target * 2, MAX_BATCH_CHUNKS)
    return snap


def embed_chunks(
    embedder, chunks: list[Chunk], progress: Callable[[float], None] | None = None
) -> np.ndarray:
    """Unit vectors for chunks, embedded longest-first in small groups (less padding, lock released often)."""
    texts = [embedding_text(c) for c in chunks]
    order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
    out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
    for start in range(0, len(order), EMBED_GROUP):
        rows = order[start : start + EMBED_GROUP]
        out[rows] = embedder.encode([texts[i] for i in rows], batch_size=32)
        time.sleep(YIELD_SECONDS)
        if progress:
            progress(min(start + EMBED_GROUP, len(order)) / len(order))
    return out


def rebuild_store(
    store: Store, embedder, chunker: Chunker, extra: dict[str, Any], report: Reporter
) -> dict[str, Any]:
    """Re-chunk and re-embed every stored document, then swap in one commit (holds the writer lock)."""
    started = time.time()
    with store.writing():
        snap = store.load()
        if snap is None:
            raise IndexNotReady("There is no index to rebuild yet.")
        records = list(snap.iter_documents())
        per_doc = [[c for part in record_parts(rec) for c in chunker.chunk(part)] for rec in records]
        all_chunks = [c for cs in per_doc for c in cs]
        vectors = embed_chunks(
            embedder,
            all_chunks,
            lambda f: report(
                f,
                f"re-embedding {len(records)} documents ({int(f * len(all_chunks))} of {len(all_chunks)} chunks)",
            ),
        )
        entries, at = [], 0
        for rec, cs in zip(records, per_doc, strict=False):
            entries.append(DocEntry({**rec, "chunks": len(cs)}, cs, vectors[at : at + len(cs)]))
            at += len(cs)
        snap = store.commit(
            adds=entries,
            removes=set(),
            sources=snap.manifest.get("sources", {}),
            model=embedder.name,
            dimension=embedder.dimension,
            replace_all=True,
            extra=extra,
        )
    seconds = round(time.time() - started, 1)
    report.done(f"rebuilt {len(records)} documents, {len(snap.chunks)} chunks in {seconds:.0f} s")
    return {
        "documents": len(records),
        "chunks": len(snap.chunks),
        "embedding_model": embedder.name,
        "seconds": seconds,
    }


def record_parts(rec: dict[str, Any]) -> list[Document]:
    """A stored document record back as the Documents it was chunked from (for a rebuild)."""
    return [
        Document(
            doc_id=rec["doc_id"],
            text=p["text"],
            title=rec.get("title", ""),
            source=rec.get("source", ""),
            url=rec.get("url", ""),
            page=p.get("page"),
            section=p.get("section", ""),
            meta=p.get("meta") or {},
        )
        for p in rec["parts"]
    ]
