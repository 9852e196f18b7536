"""builder.py is the build engine: sources -> Documents -> chunks -> vectors -> committed generations.

Work is committed in growing batches (a long build becomes searchable early and a crash loses at most
one batch); unchanged documents (content hash) and unchanged chunks (chunk id) are never re-embedded.
It knows nothing about Gradio, the CLI or how searches rank.
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
from medgemma.knowledge.chunking import Chunker, embedding_text
from medgemma.knowledge.store import DocEntry, Snapshot, Store
from medgemma.types import Chunk, Document

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
FIRST_BATCH_CHUNKS = 128  # the first commit comes quickly so the chat can answer early
MAX_BATCH_CHUNKS = 2048
EMBED_GROUP = 64  # texts per embedder call; the embedder lock is released between calls


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


class Reporter:
    """Sends progress to the caller's callback and, when publishing, (throttled) to build.json."""

    def __init__(self, store: Store, progress: ProgressFn | None, phase: str, publish: bool) -> None:
        self.store, self.progress, self.phase, self.publish = store, progress, phase, publish
        self._last = 0.0

    def __call__(self, fraction: float, message: str) -> None:
        fraction = max(0.0, min(1.0, fraction))
        if self.progress:
            self.progress(fraction, message)
        now = time.time()
        if self.publish and now - self._last >= 1.0:
            self._last = now
            self.store.write_status(
                state="building", phase=self.phase, fraction=round(fraction, 4), message=message
            )

    def done(self, message: str) -> None:
        if self.progress:
            self.progress(1.0, message)
        if self.publish:
            self.store.write_status(state="ready", phase=self.phase, fraction=1.0, message=message)


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
        if progress:
            progress(min(start + EMBED_GROUP, len(order)) / len(order))
    return out


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
    ) -> None:
        """`on_commit(snapshot)` runs after each saved batch (the knowledge base preloads it for searches)."""
        self.store, self.embedder, self.chunker, self.extra, self.report = (
            store,
            embedder,
            chunker,
            extra,
            report,
        )
        self.on_commit = on_commit
        snap = store.load()
        if snap is not None and snap.chunks and snap.model != embedder.name:
            raise IndexNotReady(f"The index was built with {snap.model}; rebuild it before adding documents.")
        self.table = dict(snap.doc_table()) if snap else {}
        self.known = dict(snap.manifest.get("sources", {})) if snap else {}
        self.by_content = {r.get("content_hash"): d for d, r in self.table.items()}
        self.cached = {c.chunk_id: row for row, c in enumerate(snap.chunks)} if snap else {}
        self.cache_vecs = snap.vectors if snap else None
        self.target = FIRST_BATCH_CHUNKS
        self.done_docs = self.total_docs = 0
        self.batch = _Batch()

    def _fraction(self, extra_docs: float = 0.0) -> float:
        return (self.done_docs + extra_docs) / max(self.total_docs, 1)

    def flush(self) -> None:
        batch = self.batch
        if not batch.entries and not batch.removes and not batch.sources:
            return
        chunks = [c for _, cs in batch.entries for c in cs]
        vectors = np.zeros((len(chunks), self.embedder.dimension), dtype=np.float32)
        todo = []
        for i, c in enumerate(chunks):
            if c.chunk_id in self.cached:
                vectors[i] = self.cache_vecs[self.cached[c.chunk_id]]
            else:
                todo.append(i)
        n_docs = len(batch.entries)
        vectors[todo] = embed_chunks(
            self.embedder,
            [chunks[i] for i in todo],
            lambda f: self.report(
                self._fraction(f * n_docs),
                f"embedding {self.done_docs + int(f * n_docs)} of {self.total_docs} documents",
            ),
        )
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
        if self.on_commit is not None:
            self.on_commit(snap)
        self.done_docs += n_docs
        self.report(
            self._fraction(),
            f"saved {snap.manifest['documents']} documents, {snap.manifest['chunks']} chunks",
        )
        self.batch = _Batch()
        self.target = min(self.target * 2, MAX_BATCH_CHUNKS)

    def run(self, sources: list[Source]) -> list[FileStatus]:
        statuses = [self._source(src) for src in sources]
        self.flush()
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
            chunks = [c for part in parts for c in self.chunker.chunk(part)]
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
        per_doc = []
        for rec in records:
            parts = [
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
            per_doc.append([c for part in parts for c in chunker.chunk(part)])
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
