"""store.py owns the knowledge-base store on disk: generations of FAISS vectors, chunks, documents, manifest.

A commit writes a whole generation into a temporary folder, writes manifest.json last and renames
the folder into place, so a crash leaves the previous generation serving. Readers load the newest
complete generation and keep it in a SnapshotCache (one per process, shared by its Stores: Services
owns it). It knows nothing about file formats or ranking.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medgemma.errors import IndexNotReady
from medgemma.storage import atomic_write_json, process_exists, read_json
from medgemma.types import Chunk

try:
    import fcntl
except ImportError:  # Windows: only in-process locking
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

FORMAT = 1
FLAT_LIMIT = 50_000  # exact inner-product search below this many chunks, HNSW above
KEEP_GENERATIONS = 2
CHUNKS_FILE, DOCUMENTS_FILE, FAISS_FILE, MANIFEST_FILE = (
    "chunks.jsonl",
    "documents.jsonl",
    "vectors.faiss",
    "manifest.json",
)
STATUS_FILE = "build.json"
_GEN = re.compile(r"^gen-(\d{6,})$")


def build_faiss(vectors: np.ndarray, dimension: int):
    """Exact inner product (flat) for small stores, HNSW for large ones; vectors are unit length."""
    import faiss

    if len(vectors) >= FLAT_LIMIT:
        index = faiss.IndexHNSWFlat(dimension, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 80
        index.hnsw.efSearch = 96
    else:
        index = faiss.IndexFlatIP(dimension)
    if len(vectors):
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


def index_type(index) -> str:
    return "hnsw" if "HNSW" in type(index).__name__ else "flat"


@dataclass(frozen=True)
class DocEntry:
    """One document to commit: its documents.jsonl record (with 'doc_id'), its chunks and their vectors."""

    record: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray


@dataclass
class Snapshot:
    """One complete generation loaded in memory; read-only once built."""

    path: Path
    generation: int
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    index: Any  # faiss.Index
    cache: dict[str, Any] = field(default_factory=dict)  # derived structures (BM25, doc table)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def model(self) -> str:
        return str(self.manifest.get("embedding_model", ""))

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        """Full documents.jsonl records (with their text parts), streamed from disk."""
        with (self.path / DOCUMENTS_FILE).open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def doc_table(self) -> dict[str, dict[str, Any]]:
        """doc_id -> record without its text parts (cached)."""
        with self.lock:
            if "docs" not in self.cache:
                self.cache["docs"] = {
                    r["doc_id"]: {k: v for k, v in r.items() if k != "parts"} for r in self.iter_documents()
                }
            return self.cache["docs"]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _write_lines(path: Path, lines: Iterator[str]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line)
            fh.write("\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    return n


class SnapshotCache:
    """The newest loaded generation of each store folder, the generation folders that failed to load (not
    retried on every search) and one lock per folder. Stores sharing one load each generation once and get
    each other's commits without reading them back; a Store made without one gets its own."""

    def __init__(self) -> None:
        self._snapshots: dict[Path, Snapshot] = {}
        self._bad: set[Path] = set()
        self._locks: dict[Path, threading.Lock] = {}
        self._guard = threading.Lock()

    def lock(self, key: Path) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def get(self, key: Path) -> Snapshot | None:
        return self._snapshots.get(key)

    def put(self, key: Path, snap: Snapshot) -> None:
        self._snapshots[key] = snap

    def is_bad(self, folder: Path) -> bool:
        return folder in self._bad

    def mark_bad(self, folder: Path) -> None:
        self._bad.add(folder)

    def clear(self) -> None:
        """Forget every loaded generation (the next load reads from disk, as a new process would)."""
        with self._guard:
            self._snapshots.clear()
            self._bad.clear()


class Store:
    """The folder of one named index: gen-NNNNNN/ generations, write.lock, build.json."""

    def __init__(self, root: Path, cache: SnapshotCache | None = None) -> None:
        self.root = Path(root)
        self.cache = cache if cache is not None else SnapshotCache()

    # ---- reading ----------------------------------------------------------------------------
    def generations(self) -> list[int]:
        """Complete generations (a manifest exists), oldest first."""
        if not self.root.is_dir():
            return []
        gens = []
        with os.scandir(self.root) as it:
            for entry in it:
                m = _GEN.match(entry.name)
                if m and entry.is_dir() and os.path.exists(os.path.join(entry.path, MANIFEST_FILE)):
                    gens.append(int(m.group(1)))
        return sorted(gens)

    def latest(self) -> int:
        gens = self.generations()
        return gens[-1] if gens else 0

    def gen_path(self, generation: int) -> Path:
        return self.root / f"gen-{generation:06d}"

    def manifest(self) -> dict[str, Any] | None:
        gen = self.latest()
        return read_json(self.gen_path(gen) / MANIFEST_FILE) if gen else None

    def _read(self, generation: int) -> Snapshot:
        import faiss

        path = self.gen_path(generation)
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
        if manifest.get("format") != FORMAT:
            raise IndexNotReady(f"Index {path} has format {manifest.get('format')}, expected {FORMAT}.")
        for name, size in manifest.get("files", {}).items():
            if (path / name).stat().st_size != size:
                raise OSError(f"{path / name} has the wrong size (damaged)")
        index = faiss.read_index(str(path / FAISS_FILE))
        if index_type(index) == "hnsw":
            faiss.downcast_index(index).hnsw.efSearch = 96
        with (path / CHUNKS_FILE).open(encoding="utf-8") as fh:
            chunks = [Chunk(**json.loads(line)) for line in fh if line.strip()]
        n = index.ntotal
        if n != len(chunks):
            raise OSError(f"{path}: {n} vectors but {len(chunks)} chunks (damaged)")
        vectors = index.reconstruct_n(0, n) if n else np.zeros((0, index.d), dtype=np.float32)
        return Snapshot(path, generation, manifest, chunks, np.asarray(vectors, dtype=np.float32), index)

    def load(self) -> Snapshot | None:
        """The newest complete generation (kept in the cache); damaged ones are skipped."""
        gens = self.generations()
        if not gens:
            return None
        key = self.root.resolve()
        cached = self.cache.get(key)
        if cached is not None and cached.generation == gens[-1]:
            return cached
        with self.cache.lock(key):
            cached = self.cache.get(key)
            if cached is not None and cached.generation == gens[-1]:
                return cached
            for gen in reversed(gens):
                if cached is not None and cached.generation == gen:
                    return cached
                if self.cache.is_bad(self.gen_path(gen).resolve()):
                    continue
                try:
                    snap = self._read(gen)
                except (OSError, ValueError, RuntimeError, TypeError, json.JSONDecodeError) as exc:
                    logger.warning(
                        "index generation %d at %s is unreadable (%s); trying an older one",
                        gen,
                        self.root,
                        exc,
                    )
                    self.cache.mark_bad(self.gen_path(gen).resolve())
                    continue
                self.cache.put(key, snap)
                return snap
        return None

    # ---- writing ----------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """Exclusive writer lock across threads and processes; a killed writer releases it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self.cache.lock(self.root.resolve() / "write"), (self.root / "write.lock").open("a") as fh:
            if fcntl is not None:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            try:
                self._clean_leftovers()
                yield
            finally:
                if fcntl is not None:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A non-blocking cross-process lock (e.g. one starter build per index); yields whether we hold it."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / f"{name}.lock").open("a") as fh:
            if fcntl is None:
                yield True
                return
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def _clean_leftovers(self) -> None:
        """Remove temporary build folders of writers that died (we hold the lock, so none is live)."""
        for p in self.root.glob(".build-*"):
            logger.info("removing an unfinished build left by a crashed writer: %s", p.name)
            shutil.rmtree(p, ignore_errors=True)

    def commit(
        self,
        *,
        adds: list[DocEntry],
        removes: set[str],
        sources: dict[str, dict[str, Any] | None],
        model: str,
        dimension: int,
        replace_all: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Snapshot:
        """Write a new generation = latest - removes - replaced docs + adds. Call inside `writing()`."""
        started = time.time()
        base = None if replace_all else self.load()
        if base is not None and base.chunks and base.model != model:
            raise IndexNotReady(
                f"The index was built with {base.model}; adding {model} vectors needs a rebuild first."
            )
        added_ids = {e.record["doc_id"] for e in adds}
        drop = removes | added_ids
        kept_chunks: list[Chunk] = []
        kept_vecs = np.zeros((0, dimension), dtype=np.float32)
        doc_lines: list[str] = []
        doc_hashes: list[str] = []
        old_sources: dict[str, Any] = {}
        if base is not None:
            mask = np.fromiter(
                (c.doc_id not in drop for c in base.chunks), dtype=bool, count=len(base.chunks)
            )
            kept_chunks = [c for c, keep in zip(base.chunks, mask, strict=False) if keep]
            kept_vecs = base.vectors[mask]
            with (base.path / DOCUMENTS_FILE).open(encoding="utf-8") as fh:
                for line in fh:
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    if record["doc_id"] not in drop:
                        doc_lines.append(line.rstrip("\n"))
                        doc_hashes.append(f"{record['doc_id']}:{record.get('hash', '')}")
            old_sources = dict(base.manifest.get("sources", {}))
        for key, value in sources.items():
            if value is None:
                old_sources.pop(key, None)
            else:
                old_sources[key] = value
        new_chunks = [c for e in adds for c in e.chunks]
        parts = [kept_vecs] + [np.asarray(e.vectors, dtype=np.float32).reshape(-1, dimension) for e in adds]
        vectors = np.vstack(parts) if parts else kept_vecs
        chunks = kept_chunks + new_chunks
        doc_lines += [json.dumps(e.record, ensure_ascii=False) for e in adds]
        doc_hashes += [f"{e.record['doc_id']}:{e.record.get('hash', '')}" for e in adds]
        corpus_hash = hashlib.sha256("\n".join(sorted(doc_hashes)).encode("utf-8")).hexdigest()
        index = build_faiss(vectors, dimension)

        generation = max(self.latest(), base.generation if base else 0) + 1
        tmp = self.root / f".build-{generation:06d}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        import faiss

        _write_lines(tmp / CHUNKS_FILE, (json.dumps(c.to_dict(), ensure_ascii=False) for c in chunks))
        _write_lines(tmp / DOCUMENTS_FILE, iter(doc_lines))
        faiss.write_index(index, str(tmp / FAISS_FILE))
        files = {n: (tmp / n).stat().st_size for n in (CHUNKS_FILE, DOCUMENTS_FILE, FAISS_FILE)}
        manifest = {
            "format": FORMAT,
            "generation": generation,
            "embedding_model": model,
            "dimension": dimension,
            "index_type": index_type(index),
            "documents": len(doc_lines),
            "chunks": len(chunks),
            "corpus_hash": corpus_hash,
            "sources": old_sources,
            "files": files,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "commit_seconds": 0.0,
            **(extra or {}),
        }
        manifest["commit_seconds"] = round(time.time() - started, 3)
        atomic_write_json(tmp / MANIFEST_FILE, manifest)  # written last: marks the folder complete
        _fsync_dir(tmp)
        final = self.gen_path(generation)
        os.replace(tmp, final)
        _fsync_dir(self.root)
        self._prune()
        snap = Snapshot(final, generation, manifest, chunks, vectors, index)
        self.cache.put(self.root.resolve(), snap)
        return snap

    def _prune(self) -> None:
        for gen in self.generations()[:-KEEP_GENERATIONS]:
            shutil.rmtree(self.gen_path(gen), ignore_errors=True)

    # ---- build status (shared with other processes) -----------------------------------------
    def write_status(self, **fields: Any) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.root / STATUS_FILE, {**fields, "pid": os.getpid(), "updated_at": time.time()})

    def read_status(self) -> dict[str, Any]:
        status = read_json(self.root / STATUS_FILE, default=None) or {}
        if status.get("state") == "building" and not process_exists(int(status.get("pid", 0))):
            status["state"] = "interrupted"
        return status
