"""Query latency of the project's search (Retriever.search: query embedding + dense / BM25 / hybrid,
min-score gate, near-duplicate collapse) at 10k and 100k chunks, as p50 / p95 and as ratios to the raw
baseline: SentenceTransformer.encode of the question + index.search on the very same FAISS index.

Chunk texts are real MedQuAD chunks, repeated to reach the size (so BM25 is real BM25 over real text,
with every passage present several times at 100k); chunk VECTORS are random unit vectors (latency does
not depend on what they mean; the 100k store is HNSW, as the store builds it above 50k, 10k is flat).
`latency_rows(...)` is what benchmarks/retrieval.py prints in its latency table.
Run: .venv/bin/python benchmarks/retrieval_latency.py [--sizes 10000 100000] [--queries 40]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medgemma.config import load_settings  # noqa: E402
from medgemma.knowledge import corpus  # noqa: E402
from medgemma.knowledge.base import KnowledgeBase  # noqa: E402
from medgemma.knowledge.retrieve import MODES, Retriever  # noqa: E402
from medgemma.knowledge.shards import build_faiss  # noqa: E402
from medgemma.knowledge.snapshot import Snapshot  # noqa: E402

DEV = REPO / "data" / "retrieval_dev.jsonl"
K = 4


def percentiles(samples: list[float]) -> tuple[float, float]:
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def real_chunks(kb: KnowledgeBase, limit: int):
    settings = kb.settings
    src = corpus.find_starter("medquad", settings.data_path, settings.path("downloads"))
    if src is None:
        raise SystemExit("MedQuAD not found: set MEDGEMMA_DATA_DIR to the shared data folder")
    chunker = kb._chunker(kb._embedder())
    out = []
    for doc in src.load():
        out.extend(chunker.chunk(doc))
        if len(out) >= limit:
            break
    return out[:limit]


def synthetic_snapshot(chunks, size: int, dimension: int, seed: int = 0) -> Snapshot:
    """`size` chunks (the real ones repeated, with distinct ids) and random unit vectors, all embedded."""
    from dataclasses import replace

    rows = [
        replace(chunks[i % len(chunks)], chunk_id=f"{chunks[i % len(chunks)].chunk_id}-{i}")
        for i in range(size)
    ]
    rng = np.random.default_rng(seed)
    vectors = rng.normal(size=(size, dimension)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    manifest = {"format": 2, "embedding_model": "synthetic", "dimension": dimension, "lexical_generation": 1}
    return Snapshot(Path(tempfile.gettempdir()), 1, manifest, rows, vectors, build_faiss(vectors, dimension))


def latency_rows(
    kb: KnowledgeBase, questions: list[str], sizes: tuple[int, ...] = (10_000, 100_000)
) -> list[dict]:
    """p50 / p95 (ms) per size for raw encode + raw FAISS and for each search mode, with ratios."""
    embedder = kb._embedder()
    model = embedder._model
    chunks = real_chunks(kb, min(max(sizes), 40_000))
    out = []
    for size in sizes:
        snap = synthetic_snapshot(chunks, size, embedder.dimension)
        retriever = Retriever(snap, embedder)
        retriever.bm25()  # built once per index, as the knowledge base does before it publishes one
        retriever.search(questions[0], k=K, mode="hybrid")  # warm caches and threads
        samples: dict[str, list[float]] = {"raw": [], **{m: [] for m in MODES}}
        for q in questions:  # interleaved, so a busy moment of the machine hits every column alike
            embedder._recent.clear()  # the embedder keeps recent questions: time a new question each time
            t = time.perf_counter()
            qvec = model.encode(
                [q], normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
            snap.index.search(np.asarray(qvec, dtype=np.float32), K)
            samples["raw"].append(time.perf_counter() - t)
            for mode in MODES:
                embedder._recent.clear()
                t = time.perf_counter()
                retriever.search(q, k=K, min_score=kb.settings.retrieval_min_score, mode=mode)
                samples[mode].append(time.perf_counter() - t)
        raw50, raw95 = percentiles(samples["raw"])
        row = {
            "chunks": size,
            "index": type(snap.index).__name__,
            "raw_p50_ms": raw50 * 1e3,
            "raw_p95_ms": raw95 * 1e3,
        }
        for mode in MODES:
            p50, p95 = percentiles(samples[mode])
            row[mode] = {"p50_ms": p50 * 1e3, "p95_ms": p95 * 1e3, "x_p50": p50 / raw50, "x_p95": p95 / raw95}
        out.append(row)
    return out


def format_rows(rows: list[dict]) -> str:
    lines = [
        "| chunks | index | raw encode + FAISS p50 / p95 ms | "
        + " | ".join(f"{m} p50 / p95 ms (x raw)" for m in MODES)
        + " |",
        "|---|---|---|" + "---|" * len(MODES),
    ]
    for r in rows:
        cells = [
            f"{r[m]['p50_ms']:.1f} / {r[m]['p95_ms']:.1f} ({r[m]['x_p50']:.2f}x / {r[m]['x_p95']:.2f}x)"
            for m in MODES
        ]
        lines.append(
            f"| {r['chunks']:,} | {r['index']} | {r['raw_p50_ms']:.1f} / {r['raw_p95_ms']:.1f} | "
            + " | ".join(cells)
            + " |"
        )
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=40)
    args = ap.parse_args()
    kb = KnowledgeBase(load_settings(overrides={"home": tempfile.mkdtemp(prefix="bench-latency-")}))
    questions = [json.loads(line)["question"] for line in DEV.open(encoding="utf-8") if line.strip()]
    questions = questions[: args.queries]
    rows = latency_rows(kb, questions, tuple(args.sizes))
    print(
        f"{len(questions)} questions from {DEV.name}, k={K}; chunk texts real MedQuAD (repeated), vectors random"
    )
    print(format_rows(rows))


if __name__ == "__main__":
    main()
