"""base.py is the knowledge-base facade: add files, remove, list, stats, search, rebuild, starter build.

It picks the models, hands builds to builder.py and serves searches from the newest complete index
generation (kept in a KnowledgeState shared by the process, safe during a background build); jobs.py runs
uploads, rebuilds and the starter build as index jobs. It knows nothing about Gradio or prompts.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from medgemma.config import Settings
from medgemma.errors import IndexNotReady, UserFacingError
from medgemma.knowledge import corpus, ingest, starter, uploads
from medgemma.knowledge.builder import Builder, FileStatus, Source
from medgemma.knowledge.chunking import OVERLAP_TOKENS, Chunker
from medgemma.knowledge.dense import Coverage, ProgressFn, Reporter, rebuild_store
from medgemma.knowledge.embeddings import Embedder, default_embedding_model, vector_space
from medgemma.knowledge.lexical import token_counter
from medgemma.knowledge.retrieve import Mode, Retriever
from medgemma.knowledge.state import KnowledgeState
from medgemma.knowledge.store import Snapshot, Store
from medgemma.models.devices import pick_device
from medgemma.types import Hit

__all__ = ["DocumentInfo", "FileStatus", "KnowledgeBase", "ProgressFn"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DocumentInfo:
    """One row of the documents list: a citable document and how many chunks it has."""

    doc_id: str
    title: str
    source: str
    url: str
    chunks: int
    source_key: str
    added_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class KnowledgeBase:
    """One named index under the data home. Cheap to construct: loaded indexes and models live in the
    `state` it is given (Services passes the process's one), or in a state of its own."""

    def __new__(cls, settings: Settings, *args: Any, **kwargs: Any) -> KnowledgeBase:
        """The one place the store is chosen: with settings.database_url the knowledge base lives in
        PostgreSQL (pg_base.PgKnowledgeBase, same API), else in files under the data home."""
        if cls is KnowledgeBase and settings.database_url:
            from medgemma.knowledge.pg_base import PgKnowledgeBase

            cls = PgKnowledgeBase
        return super().__new__(cls)

    def __init__(
        self, settings: Settings, name: str = "default", state: KnowledgeState | None = None
    ) -> None:
        self.settings = settings
        self.name = name
        self.state = state if state is not None else KnowledgeState()
        self.store = Store(settings.path("index", name), self.state.snapshots)

    # ---- models ---------------------------------------------------------------------------
    def _device(self) -> str:

        return pick_device(self.settings.device)

    def embedding_model(self) -> str:

        return default_embedding_model(
            self.settings.embedding_model, self._device(), self.settings.embedding_backend
        )

    def _embedder(self, name: str | None = None):
        return self.state.embedders.get(
            name or self.embedding_model(), self.settings.path("models"), self._device()
        )

    def fill_embedder(self, name: str) -> Embedder:
        """A copy of the encoder of its own for a background vectors fill-in: the chat's searches use the
        shared one and never wait behind a build batch (they share only the CPU)."""
        return Embedder(name, self.settings.path("models"), self._device())

    def _chunker(self, embedder) -> Chunker:
        max_tokens = max(64, min(200, int(embedder.max_seq_length) - 40))
        return Chunker(
            count=token_counter(embedder.tokenizer),
            max_tokens=max_tokens,
            overlap_tokens=min(OVERLAP_TOKENS, max_tokens // 4),
        )

    # ---- reading --------------------------------------------------------------------------
    def snapshot(self) -> Snapshot | None:
        return self.store.load()

    def warm(self, snap: Snapshot) -> Retriever:
        """Make the snapshot searchable (query embedder + BM25) and publish it as the ready retriever."""
        with snap.lock:
            retriever = snap.cache.get("retriever")
        if retriever is None:
            retriever = Retriever(snap, self._embedder(snap.model))
            retriever.bm25()
            with snap.lock:
                retriever = snap.cache.setdefault("retriever", retriever)
        self.state.publish(self.store.root.resolve(), retriever)
        return retriever

    def retriever(self) -> Retriever:
        """The retriever of the newest complete index. While a newer generation (committed by another
        process) is being loaded, the previous one keeps serving. IndexNotReady when none exists yet."""
        snap = self.store.load()
        if snap is None:
            status = self.build_status()
            if status.get("state") == "building":
                raise IndexNotReady(
                    f"The knowledge base is being built ({status.get('message', '')}); "
                    "keyword search answers as soon as its passages are saved (well under a minute)."
                )
            raise IndexNotReady(
                "The knowledge base is empty: add documents or run `python -m medgemma index build`."
            )
        if "retriever" in snap.cache:
            return snap.cache["retriever"]
        key = self.store.root.resolve()
        ready, load_newer = self.state.ready(key)
        if ready is None:
            return self.warm(snap)
        if load_newer:
            threading.Thread(
                target=self._warm_in_background, args=(snap, key), daemon=True, name="kb-reload"
            ).start()
        return ready

    def _warm_in_background(self, snap: Snapshot, key: Path) -> None:
        try:
            self.warm(snap)
        except Exception:  # the previous index keeps serving; the next search retries
            logger.exception("loading index generation %d failed", snap.generation)
        finally:
            self.state.loaded(key)

    def search(
        self, query: str, k: int | None = None, min_score: float | None = None, mode: Mode = "hybrid"
    ) -> list[Hit]:
        """Top-k hits (default settings.retrieval_k) with dense cosine >= min_score (default
        settings.retrieval_min_score; pass -1 for no threshold)."""
        k = self.settings.retrieval_k if k is None else k
        min_score = self.settings.retrieval_min_score if min_score is None else min_score
        return self.retriever().search(query, k=k, min_score=min_score, mode=mode)

    def list_documents(self) -> list[DocumentInfo]:
        snap = self.store.load()
        if snap is None:
            return []
        rows = [
            DocumentInfo(
                d,
                r.get("title", ""),
                r.get("source", ""),
                r.get("url", ""),
                int(r.get("chunks", 0)),
                r.get("source_key", ""),
                r.get("added_at", ""),
            )
            for d, r in snap.doc_table().items()
        ]
        return sorted(rows, key=lambda r: (r.source_key, r.title.lower(), r.doc_id))

    def find_documents(self, query: str = "", limit: int = 200) -> tuple[list[DocumentInfo], int]:
        """Documents whose id, title, source or file contains `query` (any case): the first `limit`
        and how many matched."""
        q = query.strip().lower()
        rows = [
            d
            for d in self.list_documents()
            if not q or q in f"{d.doc_id} {d.title} {d.source} {d.source_key}".lower()
        ]
        return rows[:limit], len(rows)

    def build_status(self) -> dict[str, Any]:
        """The last published build state (starter or rebuild): state, fraction, message."""
        return self.store.read_status()

    def coverage(self) -> Coverage:
        """How many chunks keyword and meaning search cover now, and the time left while a build runs."""
        snap = self.store.load()
        status = self.build_status()
        building = status.get("state") == "building"
        eta = status.get("eta_seconds") if building else None
        if snap is None:
            return Coverage(int(status.get("chunks", 0)), 0, building, eta)
        return Coverage(len(snap.chunks), snap.dense, building, eta)

    def stats(self) -> dict[str, Any]:
        snap = self.store.load()
        out: dict[str, Any] = {
            "name": self.name,
            "path": str(self.store.root),
            "ready": snap is not None,
            "build": self.build_status(),
        }
        if snap is not None:
            m = snap.manifest
            out.update(
                {
                    k: m.get(k)
                    for k in (
                        "generation",
                        "embedding_model",
                        "dimension",
                        "index_type",
                        "documents",
                        "chunks",
                        "built_at",
                        "corpus_hash",
                    )
                }
            )
            out["dense_chunks"] = snap.dense
            out["coverage"] = self.coverage().line()
            out["sources"] = {
                k: {f: v.get(f) for f in ("kind", "documents", "chunks", "complete", "added_at")}
                for k, v in m.get("sources", {}).items()
            }
            wanted = vector_space(self.embedding_model())
            if wanted != snap.model:
                out["warning"] = (
                    f"The index was built with {snap.model} but the embedding model is now "
                    f"{wanted}: the next add or rebuild re-embeds everything."
                )
        return out

    # ---- writing --------------------------------------------------------------------------
    def add_files(
        self,
        paths: Iterable[str | Path],
        progress: ProgressFn | None = None,
        *,
        columns: ingest.ColumnMap | None = None,
        limits: bool = True,
    ) -> list[FileStatus]:
        """Index files and folders; each gets a FileStatus and one bad file never stops the batch.
        With `limits`, settings.max_upload_files and max_upload_mb apply (uploads)."""
        paths = [Path(p) for p in paths]
        sources: list[Source] = []
        statuses: dict[str, FileStatus] = {}
        expanded: list[tuple[Path, str]] = []
        for p in paths:
            pack = corpus.medquad_folder_source(p) if p.is_dir() else None
            if pack is not None:
                sources.append(Source(pack.key, pack.hash, pack.kind, pack.load))
            else:
                expanded.extend(ingest.expand_paths([p]))
        if limits:
            uploads.check_count(len(expanded) + len(sources), self.settings)
        for path, name in expanded:
            if limits:  # caps, then the type judged by content
                problem = uploads.file_problem(path, self.settings, name)
            else:
                problem = uploads.type_problem(name) if path.exists() else "file not found"
            if problem:
                statuses[name] = FileStatus(name, "failed", message=problem)
                continue
            sources.append(
                Source(
                    name,
                    ingest.file_hash(path),
                    "file",
                    lambda path=path, name=name: ingest.read_documents(path, columns, name),
                )
            )
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
                    updates[key] = (
                        None
                        if not left
                        else {
                            **src,
                            "documents": len(left),
                            "hash": src["hash"] if src.get("starter") else "",
                        }
                    )
            snap = self.store.commit(
                adds=[],
                removes=ids,
                sources=updates,
                model=snap.model,
                dimension=int(snap.manifest["dimension"]),
                extra={"name": self.name},
            )
        self.warm(snap)
        logger.info("removed %d document(s) for '%s'", len(ids), doc_id)
        return len(ids)

    def rebuild(self, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Re-chunk and re-embed every stored document with the configured model, then swap atomically."""
        embedder = self._embedder()
        chunker = self._chunker(embedder)
        result = rebuild_store(
            self.store,
            embedder,
            chunker,
            self._extra(chunker),
            Reporter(self.store, progress, "rebuild", publish=True),
        )
        self.warm(self.store.load())
        return result

    def ensure_starter_index(self, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Build the starter corpus into this index unless it is there already (resumes after a crash):
        keyword search over all of it first, then the vectors. Meant for a background thread on first
        start; returns the final state, never raises."""
        return starter.ensure(self, progress)

    # ---- the build engine (medgemma/knowledge/builder.py) -------------------------------------------
    def _extra(self, chunker: Chunker) -> dict[str, Any]:
        return {
            "name": self.name,
            "embedding_backend": self.settings.embedding_backend,
            "chunk_tokens": chunker.max_tokens,
            "overlap_tokens": chunker.overlap_tokens,
        }

    def _index(
        self,
        sources: list[Source],
        progress: ProgressFn | None,
        publish: bool = False,
        lexical_first: bool = False,
    ) -> list[FileStatus]:
        """add_files and the starter build (`lexical_first`: all chunks first, then their vectors); a
        changed embedding model first rebuilds everything."""
        if not sources:
            return []
        embedder = self._embedder()
        snap = self.store.load()
        if snap is not None and self._stored_chunks(snap) and snap.model != embedder.name:
            message = (
                f"The index was built with {snap.model} but the embedding model is now {embedder.name}: "
                f"rebuilding all {snap.manifest.get('documents', 0)} documents first."
            )
            logger.warning(message)
            if progress:
                progress(0.0, message)
            self.rebuild(progress)
        chunker = self._chunker(embedder)
        report = Reporter(self.store, progress, "indexing", publish)
        extra = self._extra(chunker)
        filler = (lambda: self.fill_embedder(embedder.name)) if lexical_first else None
        builder = self._builder(embedder, chunker, extra, report, lexical_first, filler)
        statuses = builder.run(sources)
        logger.info("index build timings: %s", builder.timings.to_dict())
        return statuses

    def _stored_chunks(self, snap: Snapshot) -> int:
        return len(snap.chunks)

    def _builder(self, embedder, chunker, extra, report, lexical_first: bool, filler) -> Builder:
        """The file store's Builder publishes each generation to this process's searches (`warm`)."""
        return Builder(self.store, embedder, chunker, extra, report, self.warm, lexical_first, filler)
