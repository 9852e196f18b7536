"""pg_base.py is the knowledge base on PostgreSQL (MEDGEMMA_DATABASE_URL set): KnowledgeBase's API with
the chunks in pg_store.PgStore, searches through pg_search.PgRetriever, the build engine (builder.py) and
its vectors fill-in, rebuild and starter build in their PostgreSQL form. It knows nothing about Gradio.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from medgemma.config import Settings
from medgemma.errors import IndexNotReady, IngestError, UserFacingError
from medgemma.knowledge import corpus, dense
from medgemma.knowledge.base import KnowledgeBase
from medgemma.knowledge.builder import Builder, FileStatus, Source
from medgemma.knowledge.dense import (
    Coverage,
    ProgressFn,
    Rate,
    Reporter,
    Timings,
    embed_chunks,
)
from medgemma.knowledge.pg_search import PgRetriever
from medgemma.knowledge.pg_store import PgStore, PgView
from medgemma.knowledge.state import KnowledgeState
from medgemma.knowledge.store import DocEntry

logger = logging.getLogger(__name__)


def fill(store: PgStore, embedder, report: Reporter, timings: Timings | None = None) -> PgView | None:
    """Embed the chunks that have no vector yet, in growing batches, each saved in its own transaction
    (a restart resumes after the last one)."""
    timings = timings if timings is not None else Timings()
    target, rate = dense.FIRST_BATCH_CHUNKS, Rate()
    view = store.load()
    while view is not None and not view.complete:
        pending = store.pending(target)
        if not pending:
            break
        total, before = view.count, view.dense

        def progress(f: float, total=total, before=before, n=len(pending)) -> None:
            done = before + int(f * n)
            line = Coverage(total, done, True, rate.eta(total - done)).line()
            report(done / max(total, 1), line, dense=done, chunks=total, eta_seconds=rate.eta(total - done))

        t = time.perf_counter()
        vectors = embed_chunks(embedder, [c for _, c in pending], progress)
        timings.encode += time.perf_counter() - t
        rate.done, rate.seconds = rate.done + len(pending), rate.seconds + time.perf_counter() - t
        t = time.perf_counter()
        view = store.set_vectors([r for r, _ in pending], vectors, embedder.name)
        timings.write += time.perf_counter() - t
        timings.embedded, timings.commits = timings.embedded + len(pending), timings.commits + 1
        progress(1.0, total=view.count, before=view.dense, n=0)
        target = min(target * 2, dense.MAX_BATCH_CHUNKS)
    return view


class PgBuilder(Builder):
    """builder.Builder against a PgStore: same batching and change detection (content hashes), the
    vectors of a lexical-first build filled in by `fill` above."""

    def run(self, sources: list[Source]) -> list[FileStatus]:
        statuses = [self._source(src) for src in sources]
        self.flush()
        if self.lexical_first:
            fill(self.store, self.fill_embedder(), self.report, self.timings)  # type: ignore[arg-type]
        self.report.done(f"indexed {sum(s.status == 'indexed' for s in statuses)} of {len(statuses)} files")
        return statuses


class PgKnowledgeBase(KnowledgeBase):
    """KnowledgeBase(settings) becomes one of these when settings.database_url is set. Nothing is cached
    per process: every call reads the committed rows, so replicas on one database see each other's writes."""

    def __init__(
        self, settings: Settings, name: str = "default", state: KnowledgeState | None = None
    ) -> None:
        self.settings = settings
        self.name = name
        self.state = state if state is not None else KnowledgeState()
        self.store = PgStore(settings.database_url, name)  # type: ignore[assignment]

    # ---- reading --------------------------------------------------------------------------
    def warm(self, snap: Any = None) -> PgRetriever:
        """Load the query encoder; searches read the database, so there is nothing else to publish."""
        return self.retriever()

    def retriever(self) -> PgRetriever:
        view = self.store.load()
        if view is None:
            status = self.build_status()
            if status.get("state") == "building":
                raise IndexNotReady(
                    f"The knowledge base is being built ({status.get('message', '')}); "
                    "keyword search answers as soon as its passages are saved (well under a minute)."
                )
            raise IndexNotReady(
                "The knowledge base is empty: add documents or run `python -m medgemma index build`."
            )
        return PgRetriever(self.store, view, self._embedder(view.model))  # type: ignore[arg-type]

    def coverage(self) -> Coverage:
        view = self.store.load()
        status = self.build_status()
        building = status.get("state") == "building"
        eta = status.get("eta_seconds") if building else None
        if view is None:
            return Coverage(int(status.get("chunks", 0)), 0, building, eta)
        return Coverage(view.count, view.dense, building, eta)

    # ---- writing --------------------------------------------------------------------------
    def _stored_chunks(self, snap: Any) -> int:
        return snap.count

    def _builder(self, embedder, chunker, extra, report, lexical_first: bool, filler) -> PgBuilder:
        """No publishing step: searches read the committed rows."""
        return PgBuilder(self.store, embedder, chunker, extra, report, None, lexical_first, filler)  # type: ignore[arg-type]

    def rebuild(self, progress: ProgressFn | None = None) -> dict[str, Any]:
        """Re-chunk and re-embed every stored document with the configured model, in one transaction."""
        started = time.time()
        embedder = self._embedder()
        chunker = self._chunker(embedder)
        report = Reporter(self.store, progress, "rebuild", publish=True)  # type: ignore[arg-type]
        with self.store.writing():
            view = self.store.load()
            if view is None:
                raise IndexNotReady("There is no index to rebuild yet.")
            records = list(view.iter_documents())
            per_doc = [
                [c for part in dense.record_parts(rec) for c in chunker.chunk(part)] for rec in records
            ]
            chunks = [c for cs in per_doc for c in cs]
            vectors = embed_chunks(
                embedder,
                chunks,
                lambda f: report(f, f"re-embedding {len(records)} documents ({int(f * len(chunks))} chunks)"),
            )
            entries, at = [], 0
            for rec, cs in zip(records, per_doc, strict=True):
                entries.append(DocEntry({**rec, "chunks": len(cs)}, cs, vectors[at : at + len(cs)]))
                at += len(cs)
            view = self.store.commit(
                adds=entries,
                removes=set(),
                sources=view.manifest.get("sources", {}),
                model=embedder.name,
                dimension=embedder.dimension,
                replace_all=True,
                extra=self._extra(chunker),
            )
        seconds = round(time.time() - started, 1)
        report.done(f"rebuilt {len(records)} documents, {view.count} chunks in {seconds:.0f} s")
        return {
            "documents": len(records),
            "chunks": view.count,
            "embedding_model": embedder.name,
            "seconds": seconds,
        }

    def ensure_starter_index(self, progress: ProgressFn | None = None) -> dict[str, Any]:
        """starter.ensure for PostgreSQL: one replica builds (an advisory lock), keyword side first, then
        the vectors; a restart resumes the fill. Returns the final state, never raises."""
        if self.settings.starter_corpus == "none":
            return {"state": "skipped", "message": "starter_corpus is none"}
        if not self.state.starter_lock.acquire(blocking=False):
            return {"state": "building", "message": "the starter index is already being built"}
        try:
            with self.store.exclusive("starter") as mine:
                if not mine:
                    return {"state": "building", "message": "another process is building the starter index"}
                return self._starter(progress)
        except Exception as exc:  # reported through the status row and the log; the app keeps running
            logger.exception("building the starter knowledge base failed")
            message = str(exc) if isinstance(exc, UserFacingError) else f"unexpected error: {exc}"
            self.store.write_status(state="failed", message=message)
            return {"state": "failed", "message": message}
        finally:
            self.state.starter_lock.release()

    def _starter(self, progress: ProgressFn | None) -> dict[str, Any]:
        view = self.store.load()
        sources = view.manifest.get("sources", {}) if view else {}
        done = [k for k, v in sources.items() if v.get("starter") and v.get("complete")]
        started = time.time()
        if done and not view.complete:  # the keyword side is whole: resume filling in the vectors
            report = Reporter(self.store, progress, "indexing", publish=True)  # type: ignore[arg-type]
            fill(self.store, self.fill_embedder(view.model), report)
            message = f"starter corpus {done[0]}: vectors filled in in {time.time() - started:.0f} s"
        elif done:
            return {"state": "ready", "message": f"starter corpus {done[0]} is indexed"}
        else:
            self.store.write_status(state="building", message="finding the starter corpus", fraction=0.0)
            src = corpus.find_starter(
                self.settings.starter_corpus, self.settings.data_path, self.settings.path("downloads")
            )
            if src is None:
                return {"state": "skipped", "message": "no starter corpus"}
            source = Source(src.key, src.hash, src.kind, src.load, starter=True)
            [status] = self._index([source], progress, publish=True, lexical_first=True)
            if status.status == "failed":
                raise IngestError(f"{src.key}: {status.message}")
            message = f"{src.key}: {status.label} in {time.time() - started:.0f} s"
        self.store.write_status(state="ready", message=message, fraction=1.0)
        return {"state": "ready", "message": message, "seconds": round(time.time() - started, 1)}
