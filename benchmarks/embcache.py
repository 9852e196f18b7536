"""A vector cache for retrieval experiments: vectors keyed by (model, backend, sha1(text)).

Each (model, backend) pair is a folder under /tmp/mg_embcache (MG_EMBCACHE overrides) holding float32
shards `vecs-N.npy` and `index.json` ({sha1: [shard, row]}); only texts not yet cached are embedded,
longest-first batches so padding stays small. Used by benchmarks/retrieval_quality.py; benchmark-only.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

ROOT = Path(os.environ.get("MG_EMBCACHE", "/tmp/mg_embcache"))


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


class VectorCache:
    def __init__(self, model: str, backend: str) -> None:
        self.folder = ROOT / f"{model}__{backend}"
        self.folder.mkdir(parents=True, exist_ok=True)
        index = self.folder / "index.json"
        self.index: dict[str, list[int]] = json.loads(index.read_text()) if index.is_file() else {}
        self._shards: dict[int, np.ndarray] = {}

    def _shard(self, n: int) -> np.ndarray:
        if n not in self._shards:
            self._shards[n] = np.load(self.folder / f"vecs-{n}.npy", mmap_mode="r")
        return self._shards[n]

    def missing(self, texts: Sequence[str]) -> list[str]:
        seen: set[str] = set()
        out = []
        for t in texts:
            h = sha1(t)
            if h not in self.index and h not in seen:
                seen.add(h)
                out.append(t)
        return out

    def add(self, texts: Sequence[str], vecs: np.ndarray) -> None:
        n = 1 + max((s for s, _ in self.index.values()), default=-1)
        tmp = self.folder / f"vecs-{n}.tmp.npy"
        np.save(tmp, np.asarray(vecs, dtype=np.float32))
        os.replace(tmp, self.folder / f"vecs-{n}.npy")
        for row, t in enumerate(texts):
            self.index[sha1(t)] = [n, row]
        tmp_index = self.folder / "index.json.tmp"
        tmp_index.write_text(json.dumps(self.index))
        os.replace(tmp_index, self.folder / "index.json")

    def get(self, texts: Sequence[str]) -> np.ndarray:
        rows = [self.index[sha1(t)] for t in texts]
        return np.stack([self._shard(s)[r] for s, r in rows]).astype(np.float32)


def embed_cached(
    cache: VectorCache, encode, texts: Sequence[str], batch: int = 512, log: bool = True
) -> np.ndarray:
    """Vectors of texts, embedding (with `encode(list) -> array`) only those not yet cached; returns
    the vectors and the seconds spent encoding (0 when everything was cached)."""
    todo = sorted(cache.missing(texts), key=len, reverse=True)
    t0 = time.perf_counter()
    for start in range(0, len(todo), batch):
        part = todo[start : start + batch]
        cache.add(part, encode(part))
        if log:
            done = start + len(part)
            rate = done / (time.perf_counter() - t0)
            print(f"  embedded {done}/{len(todo)} ({rate:.1f}/s)", file=sys.stderr, flush=True)
    return cache.get(texts)
