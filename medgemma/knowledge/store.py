"""store.py owns the knowledge-base store on disk: generations of chunks, documents, vectors, manifest.

A commit writes a generation into a temporary folder, writes manifest.json last and renames the folder
into place, so a crash leaves the previous generation serving. A generation may hold every chunk (the
keyword side) but vectors for only the first `dense_chunks` of them: `append` adds vectors for the next
rows as a new shard and hard-links everything else, so filling in the meaning side costs each commit
only its own batch. Readers load the newest complete generation and keep it in a SnapshotCache (one per
process, shared by its Stores: Services owns it). It knows nothing about file formats or ranking.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from medgemma.errors import IndexNotReady
from medgemma.knowledge import shards
from medgemma.knowledge.shards import build_faiss, index_type
from medgemma.knowledge.snapshot import (  # noqa: F401 (re-exported)
    CHUNKS_FILE,
    DOCUMENTS_FILE,
    FAISS_FILE,
    MANIFEST_FILE,
    DocEntry,
    Snapshot,
    SnapshotCache,
    entry_vectors,
)
from medgemma.storage import atomic_write_json, process_exists, read_json
from medgemma.types import Chunk

try:
    import fcntl
except ImportError:  # Windows: only in-process locking
    fcntl = None  # type: ignore[assignment]

logger = logging.getLogger(__name__)

FORMAT = 2  # 2: vectors in safetensors shards, possibly for a prefix of the chunks; 1: one vectors.faiss
READABLE = (1, 2)
KEEP_GENERATIONS = 2
STATUS_FILE = "build.json"
_GEN = re.compile(r"^gen-(\d{6,})$")


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

    def _read(self, generation: int, previous: Snapshot | None = None) -> Snapshot:
        """Read one generation; what it shares with `previous` (same chunks, earlier shards) is reused."""
        import faiss

        path = self.gen_path(generation)
        manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
        if manifest.get("format") not in READABLE:
            raise IndexNotReady(f"Index {path} has format {manifest.get('format')}, expected {FORMAT}.")
        for name, size in manifest.get("files", {}).items():
            if (path / name).stat().st_size != size:
                raise OSError(f"{path / name} has the wrong size (damaged)")
        lexical = manifest.get("lexical_generation")
        same = previous is not None and lexical is not None
        same = same and previous.manifest.get("lexical_generation") == lexical
        if same:
            chunks = previous.chunks
        else:
            with (path / CHUNKS_FILE).open(encoding="utf-8") as fh:
                chunks = [Chunk(**json.loads(line)) for line in fh if line.strip()]
        dim = int(manifest["dimension"])
        if manifest["format"] == 1:
            index = faiss.read_index(str(path / FAISS_FILE))
            n = index.ntotal
            vectors = index.reconstruct_n(0, n) if n else np.zeros((0, dim), dtype=np.float32)
            if n != len(chunks):
                raise OSError(f"{path}: {n} vectors but {len(chunks)} chunks (damaged)")
        else:
            listed = [tuple(s) for s in manifest.get("shards", [])]
            known = [tuple(s) for s in previous.manifest.get("shards", [])] if same else []
            parts = [previous.vectors] if known and listed[: len(known)] == known else []
            for name, rows in listed[len(known) if parts else 0 :]:
                part = shards.read_shard(path / name, dim)
                if len(part) != rows:
                    raise OSError(f"{path / name}: {len(part)} vectors, the manifest says {rows} (damaged)")
                parts.append(part)
            vectors = np.vstack(parts) if parts else np.zeros((0, dim), dtype=np.float32)
            if len(vectors) != manifest.get("dense_chunks") or len(vectors) > len(chunks):
                raise OSError(f"{path}: {len(vectors)} vectors for {len(chunks)} chunks (damaged)")
            if FAISS_FILE in manifest.get("files", {}):
                index = faiss.read_index(str(path / FAISS_FILE))
            else:
                index = build_faiss(vectors, dim, exact=True)
        if index_type(index) == "hnsw":
            faiss.downcast_index(index).hnsw.efSearch = 96
        snap = Snapshot(path, generation, manifest, chunks, np.asarray(vectors, dtype=np.float32), index)
        if same:
            snap.shared, snap.shared_lock = previous.shared, previous.shared_lock
        return snap

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
                    snap = self._read(gen, cached)
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
        """Write a new generation = latest - removes - replaced docs + adds (rewrites every file; the
        rows with vectors come first). Call inside `writing()`."""
        started = time.time()
        base = None if replace_all else self.load()
        if base is not None and base.chunks and base.model != model:
            raise IndexNotReady(
                f"The index was built with {base.model}; adding {model} vectors needs a rebuild first."
            )
        drop = removes | {e.record["doc_id"] for e in adds}
        doc_lines: list[str] = []
        old_sources: dict[str, Any] = {}
        kept: list[Chunk] = []
        kept_vecs = np.zeros((0, dimension), dtype=np.float32)
        if base is not None:
            mask = np.fromiter((c.doc_id not in drop for c in base.chunks), bool, count=len(base.chunks))
            kept = [c for c, keep in zip(base.chunks, mask, strict=False) if keep]
            kept_vecs = np.full((len(kept), dimension), np.nan, dtype=np.float32)
            kept_vecs[: int(mask[: base.dense].sum())] = base.vectors[mask[: base.dense]]
            with (base.path / DOCUMENTS_FILE).open(encoding="utf-8") as fh:
                doc_lines = [
                    line.rstrip("\n")
                    for line in fh
                    if line.strip() and json.loads(line)["doc_id"] not in drop
                ]
            old_sources = dict(base.manifest.get("sources", {}))
        for key, value in sources.items():
            if value is None:
                old_sources.pop(key, None)
            else:
                old_sources[key] = value
        chunks = kept + [c for e in adds for c in e.chunks]
        vecs = np.vstack([kept_vecs] + [entry_vectors(e, dimension) for e in adds])
        has = ~np.isnan(vecs[:, 0]) if len(vecs) else np.zeros(0, dtype=bool)
        # rows with vectors first; then the new rows without (filled next), then the older ones without
        old = np.arange(len(chunks)) < len(kept)
        order = np.concatenate([np.flatnonzero(has), np.flatnonzero(~has & ~old), np.flatnonzero(~has & old)])
        chunks = [chunks[i] for i in order]
        vectors = np.ascontiguousarray(vecs[order[: int(has.sum())]])
        doc_lines += [json.dumps(e.record, ensure_ascii=False) for e in adds]
        hashes = []
        for line in doc_lines:
            record = json.loads(line)
            hashes.append(f"{record['doc_id']}:{record.get('hash', '')}")
        corpus_hash = hashlib.sha256("\n".join(sorted(hashes)).encode("utf-8")).hexdigest()
        generation = max(self.latest(), base.generation if base else 0) + 1

        def write(tmp: Path) -> None:
            shards.write_lines(
                tmp / CHUNKS_FILE, (json.dumps(c.to_dict(), ensure_ascii=False) for c in chunks)
            )
            shards.write_lines(tmp / DOCUMENTS_FILE, iter(doc_lines))

        fields = {
            "lexical_generation": generation,
            "embedding_model": model,
            "dimension": dimension,
            "documents": len(doc_lines),
            "corpus_hash": corpus_hash,
            "sources": old_sources,
            **(extra or {}),
        }
        return self._publish(generation, fields, write, chunks, vectors, [], started)

    def append(self, chunk_ids: Sequence[str], vectors: np.ndarray, model: str) -> Snapshot:
        """Add vectors for chunks that have none yet. When they are the next rows (the usual case) the
        new generation hard-links the previous files and writes one shard; otherwise (another writer
        reordered the rows meanwhile) it rewrites the generation. Call inside `writing()`."""
        started = time.time()
        base = self.load()
        if base is None:
            raise IndexNotReady("There is no index to add vectors to.")
        if base.model != model:
            raise IndexNotReady(f"The index was built with {base.model}; it cannot take {model} vectors.")
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(chunk_ids), -1)
        dimension = int(base.manifest["dimension"])
        generation = max(self.latest(), base.generation) + 1
        fields = {k: v for k, v in base.manifest.items() if k not in ("files", "shards", "generation")}
        following = [c.chunk_id for c in base.chunks[base.dense : base.dense + len(chunk_ids)]]
        if base.manifest.get("format") == FORMAT and following == list(chunk_ids):
            listed = [tuple(s) for s in base.manifest.get("shards", [])]

            def link(tmp: Path) -> None:
                for name in (CHUNKS_FILE, DOCUMENTS_FILE, *(n for n, _ in listed)):
                    shards.link_or_copy(base.path / name, tmp / name)

            all_vectors = np.vstack([base.vectors, vectors])
            snap = self._publish(generation, fields, link, base.chunks, all_vectors, listed, started, vectors)
            snap.shared, snap.shared_lock = base.shared, base.shared_lock
            return snap
        row = {c.chunk_id: i for i, c in enumerate(base.chunks) if i >= base.dense}
        picked = [(row[cid], i) for i, cid in enumerate(chunk_ids) if cid in row]
        rows = [r for r, _ in picked]
        rest = sorted(set(range(base.dense, len(base.chunks))) - set(rows))
        chunks = base.chunks[: base.dense] + [base.chunks[r] for r in rows + rest]
        all_vectors = np.vstack([base.vectors, vectors[[i for _, i in picked]].reshape(-1, dimension)])
        fields["lexical_generation"] = generation

        def rewrite(tmp: Path) -> None:
            shards.write_lines(
                tmp / CHUNKS_FILE, (json.dumps(c.to_dict(), ensure_ascii=False) for c in chunks)
            )
            shards.link_or_copy(base.path / DOCUMENTS_FILE, tmp / DOCUMENTS_FILE)

        return self._publish(generation, fields, rewrite, chunks, all_vectors, [], started)

    def _publish(
        self,
        generation: int,
        fields: dict[str, Any],
        write: Callable[[Path], None],
        chunks: list[Chunk],
        vectors: np.ndarray,
        listed: list[tuple[str, int]],
        started: float,
        new_vectors: np.ndarray | None = None,
    ) -> Snapshot:
        """Write a generation folder (`write` puts chunks and documents in; the shard of `new_vectors`,
        default all `vectors` past `listed`, is added), the manifest last, then rename it into place."""
        tmp = self.root / f".build-{generation:06d}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        write(tmp)
        fresh = vectors[sum(n for _, n in listed) :] if new_vectors is None else new_vectors
        if len(fresh):
            shards.write_shard(tmp / shards.shard_name(generation), fresh)
            listed = [*listed, (shards.shard_name(generation), len(fresh))]
        dimension = int(fields["dimension"])
        hnsw = len(vectors) == len(chunks) and len(vectors) >= shards.FLAT_LIMIT
        index = build_faiss(vectors, dimension, exact=not hnsw)
        if hnsw:
            import faiss

            faiss.write_index(index, str(tmp / FAISS_FILE))
        manifest = {
            "format": FORMAT,
            "generation": generation,
            **fields,
            "index_type": index_type(index),
            "chunks": len(chunks),
            "dense_chunks": len(vectors),
            "shards": [list(s) for s in listed],
            "files": {p.name: p.stat().st_size for p in sorted(tmp.iterdir())},
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        manifest["commit_seconds"] = round(time.time() - started, 3)
        atomic_write_json(tmp / MANIFEST_FILE, manifest)  # written last: marks the folder complete
        shards.fsync_dir(tmp)
        final = self.gen_path(generation)
        os.replace(tmp, final)
        shards.fsync_dir(self.root)
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
