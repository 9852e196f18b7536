"""builder.py is the build engine: sources -> Documents -> chunks -> vectors -> committed generations.

Lexical first (the starter build): every chunk is committed at once without vectors, so keyword search
covers the whole corpus within seconds, then dense.fill embeds the rest batch by batch. Otherwise
(uploads) work is embedded and committed in growing batches. Unchanged documents (content hash) and
unchanged chunks (chunk id) are never re-embedded. It knows nothing about Gradio, the CLI or ranking.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from medgemma.errors import IndexNotReady, IngestError
from medgemma.knowledge import dense
from medgemma.knowledge.chunking import Chunker
from medgemma.knowledge.dense import ProgressFn, Reporter, Timings, embed_chunks
from medgemma.knowledge.store import DocEntry, Snapshot, Store
from medgemma.types import Chunk, Document

logger = logging.getLogger(__name__)

__all__ = ["Builder", "FileStatus", "ProgressFn", "Reporter", "Source", "doc_hash"]


@dataclass(frozen=True)
class FileStatus:
    """What happened to one file: indexed (n chunks), unchanged, duplicate, or failed with the reason."""

    name: str
    status: Literal["indexed", "unchanged", "duplicate", "failed"]
    documents: int = 0
    chunks: int = 0
    message: str = ""

    @property
    def label(self) -> str:
        if self.status == "indexed":
            return f"indexed ({self.chunks} chunks)" + (f"; {self.message}" if self.message else "")
        return f"{self.status}: {self.message}" if self.message else self.status

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "label": self.label}


@dataclass
class Source:
    """One thing to index (a file, a MedQuAD folder, the starter corpus): key, content hash, loader."""

    key: str
    hash: str
    kind: str
    load: Callable[[], list[Document]]
    starter: bool = False


def doc_hash(parts: list[Document], content_only: bool = False) -> str:
    """Change detection hashes title, URL and text; duplicate detection (content_only) the text alone."""
    h = hashlib.sha256()
    for p in parts:
        fields = [str(p.page or ""), p.section, p.text]
        if not content_only:
            fields = [p.title, p.url, *fields]
        h.update("\x1f".join(fields).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def _record(
    doc_id: str, key: str, parts: list[Document], h: str, content: str, n_chunks: int
) -> dict[str, Any]:
    first = parts[0]
    return {
        "doc_id": doc_id,
        "source_key": key,
        "title": first.title,
        "source": first.source,
        "url": first.url,
        "hash": h,
        "content_hash": content,
        "chunks": n_chunks,
        "added_at": _now(),
        "meta": {k: v for k, v in first.meta.items() if k in ("publisher", "date")},  # shown as the origin
        "parts": [{"text": p.text, "page": p.page, "section": p.section, "meta": p.meta} for p in parts],
    }


@dataclass
class _Batch:
    entries: list[tuple[dict[str, Any], list[Chunk]]] = field(default_factory=list)
    removes: set[str] = field(default_factory=set)
    sources: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    @property
    def chunks(self) -> int:
        return sum(len(c) for _, c in self.entries)


class Builder:
    """One indexing run against a store: `run(sources)` returns one FileStatus per source."""

    def __init__(
        self,
        store: Store,
        embedder,
        chunker: Chunker,
        extra: dict[str, Any],
        report: Reporter,
        on_commit: Callable[[Snapshot], Any] | None = None,
        lexical_first: bool = False,
        fill_embedder=None,
    ) -> None:
        """`on_commit(snapshot)` runs after each saved batch (the knowledge base preloads it for searches);
        `lexical_first` commits all chunks before embedding any, then the encoder `fill_embedder()` makes
        (default `embedder`; a copy of its own lets searches skip waiting behind a build batch) fills the
        vectors in behind."""
        self.store, self.embedder, self.chunker, self.extra, self.report = (
            store,
            embedder,
            chunker,
            extra,
            report,
        )
        self.on_commit, self.lexical_first = on_commit, lexical_first
        self.fill_embedder = fill_embedder or (lambda: embedder)
        self.timings = Timings()
        snap = store.load()
        if snap is not None and snap.chunks and snap.model != embedder.name:
            raise IndexNotReady(f"The index was built with {snap.model}; rebuild it before adding documents.")
        self.table = dict(snap.doc_table()) if snap else {}
        self.known = dict(snap.manifest.get("sources", {})) if snap else {}
        self.by_content = {r.get("content_hash"): d for d, r in self.table.items()}
        self.cached = {c.chunk_id: row for row, c in enumerate(snap.chunks[: snap.dense])} if snap else {}
        self.cache_vecs = snap.vectors if snap else None
        self.target = float("inf") if lexical_first else dense.FIRST_BATCH_CHUNKS
        self.done_docs = self.total_docs = 0
        self.batch = _Batch()

    def _fraction(self, extra_docs: float = 0.0) -> float:
        return (self.done_docs + extra_docs) / max(self.total_docs, 1)

    def flush(self) -> None:
        batch = self.batch
        if not batch.entries and not batch.removes and not batch.sources:
            return
        chunks = [c for _, cs in batch.entries for c in cs]
        fill = np.nan if self.lexical_first else 0.0  # NaN: no vector yet (dense.fill computes it)
        vectors = np.full((len(chunks), self.embedder.dimension), fill, dtype=np.float32)
        todo = []
        for i, c in enumerate(chunks):
            if c.chunk_id in self.cached:
                vectors[i] = self.cache_vecs[self.cached[c.chunk_id]]
            else:
                todo.append(i)
        n_docs = len(batch.entries)
        t = time.perf_counter()
        if not self.lexical_first:
            vectors[todo] = embed_chunks(
                self.embedder,
                [chunks[i] for i in todo],
                lambda f: self.report(
                    self._fraction(f * n_docs),
                    f"embedding {self.done_docs + int(f * n_docs)} of {self.total_docs} documents",
                ),
            )
            self.timings.embedded += len(todo)
        self.timings.encode += time.perf_counter() - t
        t = time.perf_counter()
        entries, at = [], 0
        for record, cs in batch.entries:
            entries.append(DocEntry(record, cs, vectors[at : at + len(cs)]))
            at += len(cs)
        with self.store.writing():
            snap = self.store.commit(
                adds=entries,
                removes=batch.removes,
                sources=batch.sources,
                model=self.embedder.name,
                dimension=self.embedder.dimension,
                extra=self.extra,
            )
        self.timings.write += time.perf_counter() - t
        self.timings.commits += 1
        if self.on_commit is not None:
            t = time.perf_counter()
            self.on_commit(snap)
            self.timings.serve += time.perf_counter() - t
        self.done_docs += n_docs
        self.report(
            self._fraction(),
            f"saved {snap.manifest['documents']} documents, {snap.manifest['chunks']} chunks",
        )
        self.batch = _Batch()
        self.target = min(self.target * 2, dense.MAX_BATCH_CHUNKS)

    def run(self, sources: list[Source]) -> list[FileStatus]:
        statuses = [self._source(src) for src in sources]
        self.flush()
        if self.lexical_first:
            dense.fill(self.store, self.fill_embedder(), self.report, self.on_commit, self.timings)
        self.report.done(f"indexed {sum(s.status == 'indexed' for s in statuses)} of {len(statuses)} files")
        return statuses

    def _source(self, src: Source) -> FileStatus:
        prior = self.known.get(src.key)
        if prior and prior.get("hash") == src.hash and prior.get("complete"):
            return FileStatus(
                src.key, "unchanged", prior.get("documents", 0), prior.get("chunks", 0), "already indexed"
            )
        twin = next(
            (
                k
                for k, v in self.known.items()
                if k != src.key and v.get("hash") == src.hash and v.get("complete")
            ),
            None,
        )
        if twin:
            return FileStatus(src.key, "duplicate", message=f"same content as {twin}")
        self.report(self._fraction(), f"reading {src.key}")
        try:
            docs = src.load()
        except IngestError as exc:
            return FileStatus(src.key, "failed", message=str(exc))
        except Exception as exc:  # a parser bug must not stop the other files; logged with its traceback
            logger.exception("reading %s failed", src.key)
            return FileStatus(src.key, "failed", message=f"unexpected error: {type(exc).__name__}: {exc}")
        groups: dict[str, list[Document]] = {}
        for d in docs:
            groups.setdefault(d.doc_id, []).append(d)
        self.total_docs += len(groups)
        old_ids = {d for d, r in self.table.items() if r.get("source_key") == src.key}
        record = {
            "kind": src.kind,
            "hash": src.hash,
            "starter": src.starter,
            "complete": False,
            "added_at": _now(),
            "documents": 0,
            "chunks": 0,
        }
        new = same = dups = n_chunks = 0
        for doc_id, parts in groups.items():
            h = doc_hash(parts)
            if doc_id in self.table and self.table[doc_id].get("hash") == h:
                same += 1
                n_chunks += int(self.table[doc_id].get("chunks", 0))
                self.done_docs += 1
                continue
            content = doc_hash(parts, content_only=True)
            twin_doc = self.by_content.get(content)
            if twin_doc and twin_doc != doc_id and twin_doc not in old_ids:
                dups += 1
                self.done_docs += 1
                continue
            self.by_content[content] = doc_id
            t = time.perf_counter()
            chunks = [c for part in parts for c in self.chunker.chunk(part)]
            self.timings.chunk += time.perf_counter() - t
            self.batch.entries.append((_record(doc_id, src.key, parts, h, content, len(chunks)), chunks))
            new += 1
            n_chunks += len(chunks)
            self.batch.sources[src.key] = {**record, "documents": new + same, "chunks": n_chunks}
            if self.batch.chunks >= self.target:
                self.flush()
        gone = old_ids - set(groups)
        self.batch.removes |= gone
        self.batch.sources[src.key] = {
            **record,
            "complete": True,
            "documents": new + same,
            "chunks": n_chunks,
        }
        if new == 0 and dups and not same:
            self.batch.sources[src.key] = None
            return FileStatus(
                src.key, "duplicate", message="every document is already indexed from another file"
            )
        if new == 0 and not gone and prior and prior.get("complete"):
            return FileStatus(src.key, "unchanged", same, n_chunks, "no document changed")
        return FileStatus(
            src.key, "indexed", new + same, n_chunks, f"{dups} duplicate documents skipped" if dups else ""
        )
