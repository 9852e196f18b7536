"""starter.py builds the starter corpus into a knowledge base on first start, lexical first: every chunk
is committed (keyword search covers the whole corpus within seconds), then the vectors fill in behind
it; a restart resumes whichever part is unfinished. It knows nothing about Gradio or the chat.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from medgemma.errors import IngestError, UserFacingError
from medgemma.knowledge import corpus
from medgemma.knowledge.builder import Source
from medgemma.knowledge.dense import ProgressFn, Reporter, fill

if TYPE_CHECKING:
    from medgemma.knowledge.base import KnowledgeBase

logger = logging.getLogger(__name__)


def ensure(kb: KnowledgeBase, progress: ProgressFn | None = None) -> dict[str, Any]:
    """Build the starter corpus into this index unless it is there already (resumes after a crash).
    Meant for a background thread on first start; returns the final state, never raises."""
    if kb.settings.starter_corpus == "none":
        return {"state": "skipped", "message": "starter_corpus is none"}
    if not kb.state.starter_lock.acquire(blocking=False):
        return {"state": "building", "message": "the starter index is already being built"}
    try:
        with kb.store.exclusive("starter") as mine:
            if not mine:
                return {"state": "building", "message": "another process is building the starter index"}
            return _build(kb, progress)
    except Exception as exc:  # reported through build.json and the log; the app keeps running
        logger.exception("building the starter knowledge base failed")
        message = str(exc) if isinstance(exc, UserFacingError) else f"unexpected error: {exc}"
        kb.store.write_status(state="failed", message=message)
        return {"state": "failed", "message": message}
    finally:
        kb.state.starter_lock.release()


def _build(kb: KnowledgeBase, progress: ProgressFn | None) -> dict[str, Any]:
    snap = kb.store.load()
    done = [
        k
        for k, v in (snap.manifest.get("sources", {}) if snap else {}).items()
        if v.get("starter") and v.get("complete")
    ]
    if done and not snap.complete:  # the keyword side is whole: resume filling in the vectors
        started = time.time()
        embedder = kb.fill_embedder(snap.model)
        report = Reporter(kb.store, progress, "indexing", publish=True)
        fill(kb.store, embedder, report, on_commit=kb.warm)
        message = f"starter corpus {done[0]}: vectors filled in in {time.time() - started:.0f} s"
        kb.store.write_status(state="ready", message=message, fraction=1.0)
        return {"state": "ready", "message": message, "seconds": round(time.time() - started, 1)}
    if done:
        return {"state": "ready", "message": f"starter corpus {done[0]} is indexed"}
    kb.store.write_status(state="building", message="finding the starter corpus", fraction=0.0)
    src = corpus.find_starter(
        kb.settings.starter_corpus, kb.settings.data_path, kb.settings.path("downloads")
    )
    if src is None:
        return {"state": "skipped", "message": "no starter corpus"}
    started = time.time()
    [status] = kb._index(
        [Source(src.key, src.hash, src.kind, src.load, starter=True)],
        progress,
        publish=True,
        lexical_first=True,
    )
    if status.status == "failed":
        raise IngestError(f"{src.key}: {status.message}")
    message = f"{src.key}: {status.label} in {time.time() - started:.0f} s"
    kb.store.write_status(state="ready", message=message, fraction=1.0)
    return {"state": "ready", "message": message, "seconds": round(time.time() - started, 1)}
