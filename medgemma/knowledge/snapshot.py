"""snapshot.py holds one loaded index generation (Snapshot), what a commit takes per document (DocEntry)
and the per-process cache of loaded generations (SnapshotCache).

It knows nothing about how generations are written (store.py) or searched (retrieve.py).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medgemma.types import Chunk

CHUNKS_FILE, DOCUMENTS_FILE, FAISS_FILE, MANIFEST_FILE = (
    "chunks.jsonl",
    "documents.jsonl",
    "vectors.faiss",
    "manifest.json",
)


@dataclass(frozen=True)
class DocEntry:
    """One document to commit: its documents.jsonl record (with 'doc_id'), its chunks and their vectors
    (one row per chunk; a NaN row, or an empty array, for chunks whose vectors are not computed yet)."""

    record: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray


@dataclass
class Snapshot:
    """One complete generation loaded in memory; read-only once built. `vectors` and `index` cover the
    first `dense` chunks; the rest are searchable by keyword only until their vectors are appended."""

    path: Path
    generation: int
    manifest: dict[str, Any]
    chunks: list[Chunk]
    vectors: np.ndarray
    index: Any  # faiss.Index over the first `dense` chunks
    cache: dict[str, Any] = field(default_factory=dict)  # per generation (its retriever)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # derived from the chunks alone (BM25, doc table): shared by the generations that only add vectors
    shared: dict[str, Any] = field(default_factory=dict)
    shared_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def model(self) -> str:
        return str(self.manifest.get("embedding_model", ""))

    @property
    def dense(self) -> int:
        """How many chunks (the first rows) have vectors."""
        return len(self.vectors)

    @property
    def complete(self) -> bool:
        return self.dense == len(self.chunks)

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        """Full documents.jsonl records (with their text parts), streamed from disk."""
        with (self.path / DOCUMENTS_FILE).open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    yield json.loads(line)

    def doc_table(self) -> dict[str, dict[str, Any]]:
        """doc_id -> record without its text parts (cached)."""
        with self.shared_lock:
            if "docs" not in self.shared:
                self.shared["docs"] = {
                    r["doc_id"]: {k: v for k, v in r.items() if k != "parts"} for r in self.iter_documents()
                }
            return self.shared["docs"]


def entry_vectors(entry: DocEntry, dimension: int) -> np.ndarray:
    vecs = np.asarray(entry.vectors, dtype=np.float32)
    if vecs.size == 0:
        return np.full((len(entry.chunks), dimension), np.nan, dtype=np.float32)
    vecs = vecs.reshape(-1, dimension)
    if len(vecs) != len(entry.chunks):
        raise ValueError(f"{entry.record['doc_id']}: {len(vecs)} vectors for {len(entry.chunks)} chunks")
    return vecs


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
