"""shards.py owns the files inside one index generation: dense vector shards, the FAISS index, JSONL lines.

Vectors live in append-only safetensors shards (one per commit that embedded something); a generation
lists its shards in its manifest, and a generation that only adds vectors hard-links the previous
files instead of copying them. It knows nothing about chunks, manifests' meaning or ranking.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np

FLAT_LIMIT = 50_000  # exact inner-product search below this many vectors, HNSW above
SHARD_KEY = "vectors"


def build_faiss(vectors: np.ndarray, dimension: int, exact: bool = False):
    """Exact inner product (flat) for small stores (or when `exact`), HNSW for large ones; unit vectors."""
    import faiss

    if len(vectors) >= FLAT_LIMIT and not exact:
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


def shard_name(generation: int) -> str:
    return f"vectors-{generation:06d}.safetensors"


def write_shard(path: Path, vectors: np.ndarray) -> None:
    """One float32 matrix in a safetensors file, flushed to disk."""
    from safetensors.numpy import save_file

    save_file({SHARD_KEY: np.ascontiguousarray(vectors, dtype=np.float32)}, str(path))
    with path.open("rb+") as fh:
        os.fsync(fh.fileno())


def read_shard(path: Path, dimension: int) -> np.ndarray:
    from safetensors.numpy import load_file

    vectors = load_file(str(path)).get(SHARD_KEY)
    if vectors is None or vectors.ndim != 2 or vectors.shape[1] != dimension:
        raise ValueError(f"{path} is not a {dimension}-dimensional vector shard (damaged)")
    return np.asarray(vectors, dtype=np.float32)


def link_or_copy(src: Path, dst: Path) -> None:
    """Share an unchanged file with the next generation: a hard link, or a copy where links fail."""
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def fsync_dir(path: Path) -> None:
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


def write_lines(path: Path, lines: Iterator[str]) -> int:
    n = 0
    with path.open("w", encoding="utf-8") as fh:
        for line in lines:
            fh.write(line)
            fh.write("\n")
            n += 1
        fh.flush()
        os.fsync(fh.fileno())
    return n
