"""Both knowledge stores side by side: index build (chunks/s) and query latency p50 / p95 (dense, keyword,
hybrid) of the embedded store (store.Store + retrieve.Retriever: FAISS + bm25s) and the PostgreSQL store
(pg_store.PgStore + pg_search.PgRetriever: pgvector HNSW + full-text search), as ratios to raw FAISS
IndexFlatIP + raw bm25s doing the same work (add / index the same rows; search the same 50 candidates).

No encoder time anywhere: chunk texts are real MedQuAD chunks repeated to the size, vectors (chunks and
queries) random unit vectors of dimension 384. PostgreSQL is a local server from tests/pgserver.py
(or --database-url). Each store commits in batches of 2,048 chunks, as an upload's largest batch does;
the PostgreSQL build time includes one ANALYZE at the end.
Run: .venv/bin/python benchmarks/stores.py [--sizes 10000 100000] [--queries 30]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "benchmarks")]

from retrieval_latency import percentiles, real_chunks  # noqa: E402

from medgemma.config import load_settings  # noqa: E402
from medgemma.knowledge.base import KnowledgeBase  # noqa: E402
from medgemma.knowledge.chunking import embedding_text  # noqa: E402
from medgemma.knowledge.retrieve import MODES, Bm25, Retriever, bm25_groups  # noqa: E402
from medgemma.knowledge.store import DocEntry, Store  # noqa: E402

DEV = REPO / "data" / "retrieval_dev.jsonl"
DIM, K, DEPTH, BATCH = 384, 4, 50, 2048


class RandomQueries:
    """An embedder stand-in for the query side: a fixed random unit vector per text (no encoder time)."""

    name, dimension = "synthetic", DIM

    def encode(self, texts, **_):
        out = []
        for t in texts:
            seed = int(hashlib.sha1(t.encode()).hexdigest()[:8], 16)
            v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
            out.append(v / np.linalg.norm(v))
        return np.stack(out)


def entries(chunks, size: int, seed: int = 0) -> list[DocEntry]:
    """`size` chunks (the real ones repeated under new document ids) with random unit vectors, one
    DocEntry per document."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(size):
        c = chunks[i % len(chunks)]
        rep = i // len(chunks)
        rows.append(replace(c, chunk_id=f"{c.chunk_id}~{rep}", doc_id=f"{c.doc_id}~{rep}"))
    vecs = rng.normal(size=(size, DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    docs: dict[str, list[int]] = {}
    for i, c in enumerate(rows):
        docs.setdefault(c.doc_id, []).append(i)
    return [
        DocEntry({"doc_id": d, "source_key": "bench", "hash": d}, [rows[i] for i in ix], vecs[ix])
        for d, ix in docs.items()
    ]


def batches(items: list[DocEntry]) -> list[list[DocEntry]]:
    out, cur, n = [], [], 0
    for e in items:
        cur.append(e)
        n += len(e.chunks)
        if n >= BATCH:
            out.append(cur)
            cur, n = [], 0
    return out + ([cur] if cur else [])


def build_embedded(items: list[DocEntry]) -> tuple[float, Retriever]:
    store = Store(Path(tempfile.mkdtemp(prefix="bench-stores-")) / "index")
    t = time.perf_counter()
    for batch in batches(items):
        with store.writing():
            snap = store.commit(adds=batch, removes=set(), sources={}, model="synthetic", dimension=DIM)
    retriever = Retriever(snap, RandomQueries())
    retriever.bm25()  # searchable = BM25 built, as the knowledge base does before publishing
    return time.perf_counter() - t, retriever


def build_pg(url: str, items: list[DocEntry], name: str):
    from medgemma.knowledge.pg_store import PgStore

    store = PgStore(url, name)
    t = time.perf_counter()
    for batch in batches(items):
        with store.writing():
            store.commit(adds=batch, removes=set(), sources={}, model="synthetic", dimension=DIM)
    with store.db.connection() as conn:  # what autovacuum does within a minute of a bulk load
        conn.execute("ANALYZE kb_chunks")
        conn.commit()
    return time.perf_counter() - t, store


def build_raw(items: list[DocEntry]):
    import faiss

    chunks = [c for e in items for c in e.chunks]
    vecs = np.vstack([e.vectors for e in items]).astype(np.float32)
    t = time.perf_counter()
    index = faiss.IndexFlatIP(DIM)
    index.add(vecs)
    bm25 = Bm25([embedding_text(c) for c in chunks], bm25_groups(chunks))
    return time.perf_counter() - t, index, bm25


def time_queries(questions, searchers: dict) -> dict[str, tuple[float, float]]:
    samples: dict[str, list[float]] = {name: [] for name in searchers}
    for q in questions:  # interleaved, so a busy moment of the machine hits every column alike
        for name, fn in searchers.items():
            t = time.perf_counter()
            fn(q)
            samples[name].append(time.perf_counter() - t)
    return {name: percentiles(s) for name, s in samples.items()}


def run(size: int, chunks, questions, url: str) -> dict:
    from medgemma.knowledge.pg_search import PgRetriever

    items = entries(chunks, size)
    raw_s, index, bm25 = build_raw(items)
    emb_s, retriever = build_embedded(items)
    print(
        f"{size:,} chunks: raw built in {raw_s:.1f} s, embedded in {emb_s:.1f} s", file=sys.stderr, flush=True
    )
    pg_s, store = build_pg(url, items, f"bench{size}")
    print(f"{size:,} chunks: postgres built in {pg_s:.1f} s; timing queries", file=sys.stderr, flush=True)
    qv = RandomQueries()

    def raw(mode):
        def go(q):
            vec = qv.encode([q])
            if mode != "bm25":
                index.search(vec, DEPTH)
            if mode != "dense":
                np.argsort(-bm25.scores(q))[:DEPTH]

        return go

    searchers = {}
    for mode in MODES:
        searchers[f"raw {mode}"] = raw(mode)
        searchers[f"embedded {mode}"] = lambda q, m=mode: retriever.search(q, k=K, min_score=-1, mode=m)
        searchers[f"postgres {mode}"] = lambda q, m=mode: PgRetriever(store, store.load(), qv).search(
            q, k=K, min_score=-1, mode=m
        )
    for fn in searchers.values():  # warm caches, plans and threads
        fn(questions[0])
    return {
        "chunks": size,
        "build": {"raw": size / raw_s, "embedded": size / emb_s, "postgres": size / pg_s},
        "query": time_queries(questions, searchers),
    }


def table(rows: list[dict], n_questions: int) -> str:
    lines = [
        f"Index build and query latency, both stores (random unit vectors of dimension {DIM}, real MedQuAD "
        f"text repeated to size: no encoder time; {n_questions} questions of {DEV.name}, k={K}, "
        f"{DEPTH} candidates per leg)",
        "",
        "| chunks | store | build chunks/s (x raw) | dense p50 / p95 ms (x raw) | keyword p50 / p95 ms (x raw) "
        "| hybrid p50 / p95 ms (x raw) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        raw_build = r["build"]["raw"]
        for store in ("raw", "embedded", "postgres"):
            b = r["build"][store]
            cells = [f"{b:,.0f}" + ("" if store == "raw" else f" ({b / raw_build:.2f}x)")]
            for mode in MODES:
                p50, p95 = r["query"][f"{store} {mode}"]
                r50, r95 = r["query"][f"raw {mode}"]
                extra = "" if store == "raw" else f" ({p50 / r50:.1f}x / {p95 / r95:.1f}x)"
                cells.append(f"{p50 * 1e3:.1f} / {p95 * 1e3:.1f}{extra}")
            label = "raw FAISS flat + bm25s" if store == "raw" else store
            lines.append(f"| {r['chunks']:,} | {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--database-url", default="", help="an empty PostgreSQL database (default: start one)")
    args = ap.parse_args()
    questions = [json.loads(line)["question"] for line in DEV.open(encoding="utf-8") if line.strip()]
    questions = questions[: args.queries]
    kb = KnowledgeBase(load_settings(overrides={"home": tempfile.mkdtemp(prefix="bench-stores-")}))
    chunks = real_chunks(kb, min(max(args.sizes), 20_000))
    server = None
    url = args.database_url
    if not url:
        from pgserver import PgServer

        server = PgServer().start()
        url = server.create_database("bench")
    try:
        rows = []
        for size in args.sizes:
            rows.append(run(size, chunks, questions, url))
            print(table(rows[-1:], len(questions)), flush=True)
        if len(rows) > 1:
            print()
            print(table(rows, len(questions)))
    finally:
        if server is not None:
            server.stop()


if __name__ == "__main__":
    main()
