"""knowledge.py is the knowledge-base facade: add files, remove, list, stats, search, rebuild, starter build.

It drives ingest -> chunking -> embeddings -> index in batches that are each committed (so a long
build becomes searchable early and a crash loses at most one batch), and serves searches from the
newest complete index generation. It knows nothing about Gradio, prompts or the chat.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Literal

import numpy as np

from medgemma import corpus, ingest
from medgemma.chunking import OVERLAP_TOKENS, Chunker, embedding_text, tokenizer_counter
from medgemma.config import Settings
from medgemma.errors import IndexNotReady, IngestError, InputRejected, UserFacingError
from medgemma.index import DocEntry, Snapshot, Store
from medgemma.retrieve import Mode, Retriever
from medgemma.types import Document, Hit

logger = logging.getLogger(__name__)

ProgressFn = Callable[[float, str], None]
FIRST_BATCH_CHUNKS = 128  # the first commit comes quickly so the chat can answer early
MAX_BATCH_CHUNKS = 2048
EMBED_GROUP = 64
_STARTER_LOCK = threading.Lock()


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


@dataclass(frozen=True)
class DocumentInfo:
    doc_id: str
    title: str
    source: str
    url: str
    chunks: int
    source_key: str
    added_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Source:
    key: str
    hash: str
    kind: str
    load: Callable[[], list[Document]]
    starter: bool = False


@dataclass
class _Batch:
    entries: list[tuple[dict[str, Any], list]] = field(default_factory=list)  # (record, chunks)
    removes: set[str] = field(default_factory=set)
    sources: dict[str, dict[str, Any] | None] = field(default_factory=dict)

    @property
    def chunks(self) -> int:
        return sum(len(c) for _, c in self.entries)


def doc_hash(parts: list[Document], content_only: bool = False) -> str:
    """Change detection hashes title, URL and text; duplicate detection (content_only) the text alone."""
    h = hashlib.sha256()
    for p in parts:
        fields = [str(p.page or ""), p.section, p.text] if content_only else [p.title, p.url, str(p.page or ""),
                                                                               p.section, p.text]
        h.update("\x1f".join(fields).encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


class KnowledgeBase:
    """One named index under the data home. Cheap to construct: loaded indexes are cached per process."""

    def __init__(self, settings: Settings, name: str = "default") -> None:
        self.settings = settings
        self.name = name
        self.store = Store(settings.path("index", name))

    # ---- models ---------------------------------------------------------------------------
    def _device(self) -> str:
        from medgemma.devices import pick_device

        return pick_device(self.settings.device)

    def embedding_model(self) -> str:
        from medgemma.embeddings import default_embedding_model

        return default_embedding_model(self.settings.embedding_model, self._device())

    def _embedder(self, name: str | None = None):
        from medgemma.embeddings import get_embedder

        return get_embedder(name or self.embedding_model(), self.settings.path("models"), self._device())

    def _chunker(self, embedder) -> Chunker:
        max_tokens = max(64, min(200, int(embedder.max_seq_length) - 40))
        return Chunker(count=tokenizer_counter(embedder.tokenizer), max_tokens=max_tokens,
                       overlap_tokens=min(OVERLAP_TOKENS, max_tokens // 4))

    # ---- reading --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot | None:
        return self.store.load()

    def retriever(self) -> Retriever:
        """The retriever of the newest complete index; IndexNotReady when none exists yet."""
        snap = self.store.load()
        if snap is None:
            status = self.build_status()
            if status.get("state") == "building":
                raise IndexNotReady(f"The knowledge base is being built ({status.get('message', '')}); "
                                    "it answers as soon as the first batch is saved.")
            raise IndexNotReady("The knowledge base is empty: add documents or run `python -m medgemma index build`.")
        with snap.lock:
            retriever = snap.cache.get("retriever")
        if retriever is None:
            retriever = Retriever(snap, self._embedder(snap.model))
            retriever.bm25()
            with snap.lock:
                retriever = snap.cache.setdefault("retriever", retriever)
        return retriever

    def search(self, query: str, k: int | None = None, min_score: float | None = None,
               mode: Mode = "hybrid") -> list[Hit]:
        """Top-k hits (default settings.retrieval_k) with dense cosine >= min_score (default
        settings.retrieval_min_score; pass -1 for no threshold)."""
        k = self.settings.retrieval_k if k is None else k
        min_score = self.settings.retrieval_min_score if min_score is None else min_score
        return self.retriever().search(query, k=k, min_score=min_score, mode=mode)

    def list_documents(self) -> list[DocumentInfo]:
        snap = self.store.load()
        if snap is None:
            return []
        rows = [DocumentInfo(d, r.get("title", ""), r.get("source", ""), r.get("url", ""), int(r.get("chunks", 0)),
                             r.get("source_key", ""), r.get("added_at", "")) for d, r in snap.doc_table().items()]
        return sorted(rows, key=lambda r: (r.source_key, r.title.lower(), r.doc_id))

    def build_status(self) -> dict[str, Any]:
        return self.store.read_status()

    def stats(self) -> dict[str, Any]:
        snap = self.store.load()
        out: dict[str, Any] = {"name": self.name, "path": str(self.store.root), "ready": snap is not None,
                               "build": self.build_status()}
        if snap is not None:
            m = snap.manifest
            out.update({k: m.get(k) for k in ("generation", "embedding_model", "dimension", "index_type",
                                              "documents", "chunks", "built_at", "corpus_hash")})
            out["sources"] = {k: {f: v.get(f) for f in ("kind", "documents", "chunks", "complete", "added_at")}
                              for k, v in m.get("sources", {}).items()}
            wanted = self.embedding_model()
            if wanted != snap.model:
                out["warning"] = (f"The index was built with {snap.model} but the embedding model is now "
                                  f"{wanted}: the next add or rebuild re-embeds everything.")
        return out

    # ---- writing --------------------------------------------------------------------------
    def add_files(self, paths: Iterable[str | Path], progress: ProgressFn | None = None, *,
                  columns: ingest.ColumnMap | None = None, limits: bool = True) -> list[FileStatus]:
        """Index files and folders; each gets a FileStatus and one bad file never stops the batch.
        With `limits`, settings.max_upload_files and max_upload_mb apply (uploads)."""
        paths = [Path(p) for p in paths]
        sources: list[_Source] = []
        statuses: dict[str, FileStatus] = {}
        expanded: list[tuple[Path, str]] = []
        for p in paths:
            pack = corpus.medquad_folder_source(p) if p.is_dir() else None
            if pack is not None:
                sources.append(_Source(pack.key, pack.hash, pack.kind, pack.load))
            else:
                expanded.extend(ingest.expand_paths([p]))
        if limits and len(expanded) + len(sources) > self.settings.max_upload_files:
            raise InputRejected(f"{len(expanded) + len(sources)} files given; at most "
                                f"{self.settings.max_upload_files} per upload.")
        for path, name in expanded:
            try:
                size_mb = path.stat().st_size / 1e6
            except OSError:
                statuses[name] = FileStatus(name, "failed", message="file not found")
                continue
            if limits and size_mb > self.settings.max_upload_mb:
                statuses[name] = FileStatus(name, "failed", message=(
                    f"too large ({size_mb:.1f} MB; the limit is {self.settings.max_upload_mb} MB)"))
                continue
            if not ingest.is_supported(path):
                statuses[name] = FileStatus(name, "failed", message=(
                    f"unsupported file type (use {', '.join(sorted(ingest.SUPPORTED_SUFFIXES))})"))
                continue
            sources.append(_Source(name, ingest.file_hash(path), "file",
                                   lambda path=path, name=name: ingest.read_documents(path, columns, name)))
        statuses.update({s.name: s for s in self._index(sources, progress)})
        order = [name for _, name in expanded] + [s.key for s in sources]
        return [statuses[n] for n in dict.fromkeys(order) if n in statuses]

    def remove(self, doc_id: str) -> int:
        """Delete one document, or every document of a source (a file name); returns how many."""
        with self.store.writing():
            snap = self.store.load()
            table = snap.doc_table() if snap else {}
            sources = dict(snap.manifest.get("sources", {})) if snap else {}
            if doc_id in table:
                ids = {doc_id}
            elif doc_id in sources:
                ids = {d for d, r in table.items() if r.get("source_key") == doc_id}
            else:
                raise UserFacingError(f"No document or source named '{doc_id}' in the knowledge base.")
            updates: dict[str, dict[str, Any] | None] = {}
            for key in {table[d].get("source_key", "") for d in ids} | ({doc_id} & set(sources)):
                left = [d for d, r in table.items() if r.get("source_key") == key and d not in ids]
                src = sources.get(key)
                if src is not None:
                    updates[key] = None if not left else {**src, "documents": len(left),
                                                          "hash": src["hash"] if src.get("starter") else ""}
            self.store.commit(adds=[], removes=ids, sources=updates, model=snap.model,
                              dimension=int(snap.manifest["dimension"]), extra={"name": self.name})
        logger.info("removed %d document(s) for '%s'", len(ids), doc_id)
        return len(ids)

    def rebuild(self, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Re-chunk and re-embed every stored document with the configured model, then swap atomically."""
        report = _Reporter(self.store, progress, "rebuild", publish=True)
        embedder = self._embedder()
        chunker = self._chunker(embedder)
        with self.store.writing():
            snap = self.store.load()
            if snap is None:
                raise IndexNotReady("There is no index to rebuild yet.")
            records = list(snap.iter_documents())
            started = time.time()
            per_doc = []
            for rec in records:
                parts = [Document(doc_id=rec["doc_id"], text=p["text"], title=rec.get("title", ""),
                                  source=rec.get("source", ""), url=rec.get("url", ""), page=p.get("page"),
                                  section=p.get("section", ""), meta=p.get("meta") or {}) for p in rec["parts"]]
                per_doc.append([c for part in parts for c in chunker.chunk(part)])
            all_chunks = [c for cs in per_doc for c in cs]
            vectors = self._embed(embedder, all_chunks, lambda f: report(
                f, f"re-embedding {len(records)} documents ({int(f * len(all_chunks))} of {len(all_chunks)} chunks)"))
            entries: list[DocEntry] = []
            at = 0
            for rec, cs in zip(records, per_doc):
                entries.append(DocEntry({**rec, "chunks": len(cs)}, cs, vectors[at:at + len(cs)]))
                at += len(cs)
            snap = self.store.commit(adds=entries, removes=set(), sources=snap.manifest.get("sources", {}),
                                     model=embedder.name, dimension=embedder.dimension, replace_all=True,
                                     extra=self._extra(chunker))
        report.done(f"rebuilt {len(records)} documents, {len(snap.chunks)} chunks in {time.time() - started:.0f} s")
        return {"documents": len(records), "chunks": len(snap.chunks), "embedding_model": embedder.name,
                "seconds": round(time.time() - started, 1)}

    def ensure_starter_index(self, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Build the starter corpus into this index unless it is there already (resumes after a crash).
        Meant for a background thread on first start; returns the final state, never raises."""
        if self.settings.starter_corpus == "none":
            return {"state": "skipped", "message": "starter_corpus is none"}
        if not _STARTER_LOCK.acquire(blocking=False):
            return {"state": "building", "message": "the starter index is already being built"}
        try:
            snap = self.store.load()
            done = [k for k, v in (snap.manifest.get("sources", {}) if snap else {}).items()
                    if v.get("starter") and v.get("complete")]
            if done:
                return {"state": "ready", "message": f"starter corpus {done[0]} is indexed"}
            self.store.write_status(state="building", message="finding the starter corpus", done=0, total=0)
            src = corpus.find_starter(self.settings.starter_corpus, self.settings.data_path,
                                      self.settings.path("downloads"))
            if src is None:
                return {"state": "skipped", "message": "no starter corpus"}
            started = time.time()
            [status] = self._index([_Source(src.key, src.hash, src.kind, src.load, starter=True)], progress,
                                   publish=True)
            if status.status == "failed":
                raise IngestError(f"{src.key}: {status.message}")
            message = f"{src.key}: {status.label} in {time.time() - started:.0f} s"
            self.store.write_status(state="ready", message=message, done=1, total=1)
            return {"state": "ready", "message": message, "seconds": round(time.time() - started, 1)}
        except Exception as exc:  # reported through build.json and the log; the app keeps running
            logger.exception("building the starter knowledge base failed")
            message = str(exc) if isinstance(exc, UserFacingError) else f"unexpected error: {exc}"
            self.store.write_status(state="failed", message=message)
            return {"state": "failed", "message": message}
        finally:
            _STARTER_LOCK.release()

    # ---- the build engine -----------------------------------------------------------------
    def _extra(self, chunker: Chunker) -> dict[str, Any]:
        return {"name": self.name, "chunk_tokens": chunker.max_tokens, "overlap_tokens": chunker.overlap_tokens}

    def _embed(self, embedder, chunks: list, progress: Callable[[float], None] | None = None) -> np.ndarray:
        """Embed chunk texts longest-first in small groups (the embedder lock is released between groups)."""
        texts = [embedding_text(c) for c in chunks]
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        out = np.zeros((len(texts), embedder.dimension), dtype=np.float32)
        for start in range(0, len(order), EMBED_GROUP):
            rows = order[start:start + EMBED_GROUP]
            out[rows] = embedder.encode([texts[i] for i in rows], batch_size=32)
            if progress:
                progress(min(start + EMBED_GROUP, len(order)) / len(order))
        return out

    def _check_model(self, embedder, progress: ProgressFn | None) -> None:
        snap = self.store.load()
        if snap is not None and snap.chunks and snap.model != embedder.name:
            message = (f"The index was built with {snap.model} but the embedding model is now {embedder.name}: "
                       f"rebuilding all {snap.manifest.get('documents', 0)} documents first.")
            logger.warning(message)
            if progress:
                progress(0.0, message)
            self.rebuild(progress)

    def _index(self, sources: list[_Source], progress: ProgressFn | None, publish: bool = False
               ) -> list[FileStatus]:
        """The engine behind add_files and the starter build; `publish` mirrors progress to build.json."""
        if not sources:
            return []
        report = _Reporter(self.store, progress, "indexing", publish)
        embedder = self._embedder()
        self._check_model(embedder, progress)
        chunker = self._chunker(embedder)
        snap = self.store.load()
        table = dict(snap.doc_table()) if snap else {}
        known = dict(snap.manifest.get("sources", {})) if snap else {}
        by_content = {r.get("content_hash"): d for d, r in table.items()}
        cached = {c.chunk_id: row for row, c in enumerate(snap.chunks)} if snap else {}
        cache_vecs = snap.vectors if snap else None
        state = {"target": FIRST_BATCH_CHUNKS, "done_docs": 0, "total_docs": 0, "chunks": 0}
        batch = _Batch()

        def flush() -> None:
            if not batch.entries and not batch.removes and not batch.sources:
                return
            chunks = [c for _, cs in batch.entries for c in cs]
            todo = [i for i, c in enumerate(chunks) if c.chunk_id not in cached]
            vectors = np.zeros((len(chunks), embedder.dimension), dtype=np.float32)
            for i, c in enumerate(chunks):
                if c.chunk_id in cached:
                    vectors[i] = cache_vecs[cached[c.chunk_id]]
            n_docs = len(batch.entries)
            vectors[todo] = self._embed(embedder, [chunks[i] for i in todo], lambda f: report(
                (state["done_docs"] + f * n_docs) / max(state["total_docs"], 1),
                f"embedding {state['done_docs'] + int(f * n_docs)} of {state['total_docs']} documents"))
            entries, at = [], 0
            for record, cs in batch.entries:
                entries.append(DocEntry(record, cs, vectors[at:at + len(cs)]))
                at += len(cs)
            with self.store.writing():
                committed = self.store.commit(adds=entries, removes=batch.removes, sources=batch.sources,
                                              model=embedder.name, dimension=embedder.dimension,
                                              extra=self._extra(chunker))
            state["done_docs"] += n_docs
            report(state["done_docs"] / max(state["total_docs"], 1),
                   f"saved {committed.manifest['documents']} documents, {committed.manifest['chunks']} chunks")
            batch.entries, batch.removes, batch.sources = [], set(), {}
            state["target"] = min(state["target"] * 2, MAX_BATCH_CHUNKS)

        statuses = []
        for src in sources:
            prior = known.get(src.key)
            if prior and prior.get("hash") == src.hash and prior.get("complete"):
                statuses.append(FileStatus(src.key, "unchanged", prior.get("documents", 0), prior.get("chunks", 0),
                                           "already indexed"))
                continue
            twin = next((k for k, v in known.items() if k != src.key and v.get("hash") == src.hash
                         and v.get("complete")), None)
            if twin:
                statuses.append(FileStatus(src.key, "duplicate", message=f"same content as {twin}"))
                continue
            report(state["done_docs"] / max(state["total_docs"], 1), f"reading {src.key}")
            try:
                docs = src.load()
            except IngestError as exc:
                statuses.append(FileStatus(src.key, "failed", message=str(exc)))
                continue
            except Exception as exc:  # a parser bug must not stop the other files
                logger.exception("reading %s failed", src.key)
                statuses.append(FileStatus(src.key, "failed", message=f"unexpected error: {type(exc).__name__}: {exc}"))
                continue
            groups: dict[str, list[Document]] = {}
            for d in docs:
                groups.setdefault(d.doc_id, []).append(d)
            state["total_docs"] += len(groups)
            old_ids = {d for d, r in table.items() if r.get("source_key") == src.key}
            record = {"kind": src.kind, "hash": src.hash, "starter": src.starter, "complete": False,
                      "added_at": _now(), "documents": 0, "chunks": 0}
            counts = {"new": 0, "chunks": 0, "same": 0, "dups": 0}
            for doc_id, parts in groups.items():
                h = doc_hash(parts)
                if doc_id in table and table[doc_id].get("hash") == h:
                    counts["same"] += 1
                    counts["chunks"] += int(table[doc_id].get("chunks", 0))
                    state["done_docs"] += 1
                    continue
                content = doc_hash(parts, content_only=True)
                twin_doc = by_content.get(content)
                if twin_doc and twin_doc != doc_id and twin_doc not in old_ids:
                    counts["dups"] += 1
                    state["done_docs"] += 1
                    continue
                by_content[content] = doc_id
                chunks = [c for part in parts for c in chunker.chunk(part)]
                first = parts[0]
                batch.entries.append(({
                    "doc_id": doc_id, "source_key": src.key, "title": first.title, "source": first.source,
                    "url": first.url, "hash": h, "content_hash": content, "chunks": len(chunks), "added_at": _now(),
                    "parts": [{"text": p.text, "page": p.page, "section": p.section, "meta": p.meta} for p in parts],
                }, chunks))
                counts["new"] += 1
                counts["chunks"] += len(chunks)
                batch.sources[src.key] = {**record, "documents": counts["new"] + counts["same"],
                                          "chunks": counts["chunks"]}
                if batch.chunks >= state["target"]:
                    flush()
            gone = old_ids - set(groups)
            batch.removes |= gone
            batch.sources[src.key] = {**record, "complete": True, "documents": counts["new"] + counts["same"],
                                      "chunks": counts["chunks"]}
            note = f"{counts['dups']} duplicate documents skipped" if counts["dups"] else ""
            if counts["new"] == 0 and counts["dups"] and not counts["same"]:
                statuses.append(FileStatus(src.key, "duplicate", message="every document is already indexed "
                                           "from another file"))
                batch.sources[src.key] = None
            elif counts["new"] == 0 and not gone and prior and prior.get("complete"):
                statuses.append(FileStatus(src.key, "unchanged", counts["same"], counts["chunks"],
                                           "no document changed"))
            else:
                statuses.append(FileStatus(src.key, "indexed", counts["new"] + counts["same"],
                                           counts["chunks"], note))
        flush()
        report.done(f"indexed {sum(s.status == 'indexed' for s in statuses)} of {len(statuses)} files")
        return statuses


class _Reporter:
    """Sends progress to the caller's callback and (throttled) to build.json for other readers."""

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
            self.store.write_status(state="building", phase=self.phase, fraction=round(fraction, 4),
                                    message=message)

    def done(self, message: str) -> None:
        if self.progress:
            self.progress(1.0, message)
        if self.publish:
            self.store.write_status(state="ready", phase=self.phase, fraction=1.0, message=message)
