"""Knowledge-base benchmarks; prints tables and never asserts timings.

    python benchmarks/retrieval.py build   --pages 60        # build chunks/s vs raw encode; unchanged re-index
    python benchmarks/retrieval.py latency --sizes 10000 100000 --queries 50
    python benchmarks/retrieval.py starter --minutes 10      # first-start build of the starter corpus
    python benchmarks/retrieval.py quality [--lexical]       # per leg and fused vs the plain baselines
    python benchmarks/retrieval.py tune [--lexical]          # fusion weights on dev's even rows
    python benchmarks/retrieval.py check                     # the library's Retriever on the same vectors
    python benchmarks/retrieval.py backends                  # torch / onnx / onnx-int8: speed and quality
    python benchmarks/retrieval.py tables                    # backends, quality and latency tables

`quality`, `tune` and `backends` (benchmarks/retrieval_quality.py) read vectors from a cache keyed by
(model, backend, sha1(text)) under /tmp/mg_embcache (MG_EMBCACHE), so only the first run embeds the corpus
(16,407 answers, about half an hour on 2 cores); `--lexical` skips the rows that need vectors.

`latency` uses real MedQuAD chunk texts repeated to the wanted size with synthetic unit vectors (or the
vectors of an existing index with --from-index), so dense timings reflect FAISS, not embedding quality.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from medgemma.config import load_settings  # noqa: E402
from medgemma.errors import IndexNotReady  # noqa: E402
from medgemma.knowledge.base import KnowledgeBase  # noqa: E402
from medgemma.knowledge.chunking import embedding_text  # noqa: E402

DEV = REPO / "data" / "retrieval_dev.jsonl"


def table(headers: list[str], rows: list[list]) -> None:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |")


def settings_for(home: Path, **extra):
    return load_settings(overrides={"home": str(home), **extra})


def medquad_file(settings) -> Path:
    path = settings.data_path / "corpus" / "medquad_answered.jsonl.gz" if settings.data_path else None
    if not path or not path.is_file():
        sys.exit("MedQuAD not found: set MEDGEMMA_DATA_DIR to the shared data folder")
    return path


def bench_build(args: argparse.Namespace) -> None:
    """Index build chunks/s vs raw SentenceTransformer.encode, and re-index of an unchanged corpus."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        settings = settings_for(tmp / "home")
        rows, urls = [], []
        for line in gzip.open(medquad_file(settings), "rt"):
            row = json.loads(line)
            if row["source"] == "MPlusHealthTopics" and row["url"] not in urls[-1:]:
                if len(urls) >= args.pages:
                    break
                urls.append(row["url"])
            if row["source"] == "MPlusHealthTopics":
                rows.append(row)
        corpus = tmp / "slice.jsonl"
        corpus.write_text("\n".join(map(json.dumps, rows)))
        kb = KnowledgeBase(settings)
        embedder = kb._embedder()
        embedder.encode(["warm up"])
        t = time.perf_counter()
        [status] = kb.add_files([corpus], limits=False)
        build_s = time.perf_counter() - t
        chunks = kb.snapshot().chunks
        texts = [embedding_text(c) for c in chunks]
        model = embedder._model
        t = time.perf_counter()
        model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False)
        raw_s = time.perf_counter() - t
        t = time.perf_counter()
        [again] = kb.add_files([corpus], limits=False)
        unchanged_s = time.perf_counter() - t
        corpus.write_text(
            "\n".join(map(json.dumps, rows[:-1] + [{**rows[-1], "answer": rows[-1]["answer"] + " Updated."}]))
        )
        t = time.perf_counter()
        [changed] = kb.add_files([corpus], limits=False)
        changed_s = time.perf_counter() - t
    n = len(chunks)
    print(f"\nBuild: {len(urls)} MedlinePlus pages, {n} chunks, {embedder.name} on {embedder.device}\n")
    table(
        ["step", "seconds", "chunks/s", "note"],
        [
            ["raw SentenceTransformer.encode", f"{raw_s:.1f}", f"{n / raw_s:.1f}", "same texts, batch 32"],
            ["full build (add_files)", f"{build_s:.1f}", f"{n / build_s:.1f}", "read, chunk, embed, commit"],
            ["re-index unchanged corpus", f"{unchanged_s:.2f}", "-", again.label],
            ["re-index, one answer changed", f"{changed_s:.2f}", "-", changed.label],
        ],
    )


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, int(round(0.95 * (len(ms) - 1))))]


def bench_latency(args: argparse.Namespace) -> None:
    """Query latency p50/p95 for raw FAISS, dense, BM25 and hybrid at several index sizes."""
    from medgemma.knowledge.chunking import Chunker
    from medgemma.knowledge.retrieve import Retriever
    from medgemma.knowledge.store import Snapshot, build_faiss, index_type
    from medgemma.types import Chunk

    settings = settings_for(Path(tempfile.mkdtemp()) / "home")
    kb = KnowledgeBase(settings)
    embedder = kb._embedder()
    questions = [json.loads(line)["question"] for line in DEV.read_text().splitlines()][: args.queries]
    base_texts, base_vecs = [], None
    if args.from_index:
        snap = KnowledgeBase(settings_for(Path(args.from_index))).snapshot()
        base_texts = [(c.title, c.text) for c in snap.chunks]
        base_vecs = snap.vectors
    else:
        chunker = Chunker(max_tokens=150)
        for line in gzip.open(medquad_file(settings), "rt"):
            row = json.loads(line)
            base_texts.extend((row["focus"], t) for t in chunker.split(row["answer"]))
    rng = np.random.default_rng(0)
    rows = []
    for size in args.sizes:
        chunks = [
            Chunk(
                chunk_id=str(i),
                doc_id=f"d{i // 4}",
                text=base_texts[i % len(base_texts)][1],
                title=base_texts[i % len(base_texts)][0],
            )
            for i in range(size)
        ]
        if base_vecs is not None:
            vecs = base_vecs[np.arange(size) % len(base_vecs)] + rng.normal(
                0, 0.01, (size, embedder.dimension)
            )
        else:
            vecs = rng.normal(size=(size, embedder.dimension))
        vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
        t = time.perf_counter()
        index = build_faiss(vecs, embedder.dimension)
        faiss_build = time.perf_counter() - t
        retriever = Retriever(Snapshot(Path("."), 0, {}, chunks, vecs, index), embedder)
        t = time.perf_counter()
        retriever.bm25()
        bm25_build = time.perf_counter() - t
        qvecs = embedder.encode(questions)
        timings: dict[str, list[float]] = {
            "embed query": [],
            "raw FAISS": [],
            "dense": [],
            "bm25": [],
            "hybrid": [],
        }
        for q, qv in zip(questions, qvecs, strict=True):
            t = time.perf_counter()
            embedder.encode([q])
            timings["embed query"].append(time.perf_counter() - t)
            t = time.perf_counter()
            index.search(qv.reshape(1, -1), 5)
            timings["raw FAISS"].append(time.perf_counter() - t)
            for mode in ("dense", "bm25", "hybrid"):
                t = time.perf_counter()
                retriever.search(q, k=5, min_score=None, mode=mode)
                timings[mode].append(time.perf_counter() - t)
        for name, samples in timings.items():
            p50, p95 = _percentiles(samples)
            rows.append([f"{size:,}", index_type(index), name, f"{p50:.1f}", f"{p95:.1f}"])
        print(
            f"{size:,} chunks: FAISS {index_type(index)} built in {faiss_build:.1f} s, BM25 in {bm25_build:.1f} s",
            file=sys.stderr,
        )
    print(
        f"\nQuery latency, {len(questions)} dev-set questions, k=5, {embedder.name} on {embedder.device} "
        "(dense/bm25/hybrid include embedding the query)\n"
    )
    table(["chunks", "index", "step", "p50 ms", "p95 ms"], rows)


def bench_starter(args: argparse.Namespace) -> None:
    """First-start build of the starter corpus: when the chat can first answer, and the batch commits."""
    home = Path(args.home) if args.home else Path(tempfile.mkdtemp()) / "home"
    settings = settings_for(home)
    kb = KnowledgeBase(settings)
    t0 = time.perf_counter()
    commits: list[list] = []
    first_answer: list[float] = []
    stop = threading.Event()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("saved"):
            commits.append([f"{time.perf_counter() - t0:.0f}", message.removeprefix("saved ")])
            print(f"{time.perf_counter() - t0:7.1f} s  {message}", file=sys.stderr, flush=True)
        if args.minutes and time.perf_counter() - t0 > args.minutes * 60:
            raise KeyboardInterrupt(
                f"stopped after {args.minutes} minutes (the build resumes on the next start)"
            )

    def reader() -> None:
        while not stop.is_set() and not first_answer:
            try:
                if KnowledgeBase(settings).search("what is high blood pressure", k=1, min_score=0.0):
                    first_answer.append(time.perf_counter() - t0)
            except IndexNotReady:
                pass
            stop.wait(2.0)

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        result = kb.ensure_starter_index(progress)
    except KeyboardInterrupt as exc:
        result = {"state": "stopped", "message": str(exc)}
    stop.set()
    snap = kb.snapshot()
    sources = {}
    for c in snap.chunks if snap else []:
        sources[c.source] = sources.get(c.source, 0) + 1
    print(
        f"\nStarter build into {home}: {result['state']} after {time.perf_counter() - t0:.0f} s; "
        f"first answer from indexed sources after {first_answer[0] if first_answer else float('nan'):.0f} s\n"
    )
    if commits:  # none when the home was built already
        table(["elapsed s", "committed"], commits)
    print()
    table(["source", "chunks"], [[k, v] for k, v in sorted(sources.items(), key=lambda kv: -kv[1])])
    if snap is not None and snap.complete and args.raw_every:
        raw_rate(kb, snap.chunks, args.raw_every)


def raw_rate(kb: KnowledgeBase, chunks: list, every: int) -> None:
    """Raw SentenceTransformer.encode on every `every`-th chunk of the built index, in the build's own
    order (longest first, batches of 32): chunks/s, and the raw time for all chunks at that rate."""
    from build import raw_encode  # benchmarks/build.py: the SentenceTransformer itself, batches of 32

    from medgemma.knowledge.chunking import embedding_text

    texts = sorted((embedding_text(c) for c in chunks), key=len, reverse=True)[::every]
    wall = raw_encode(kb, texts)
    rate = len(texts) / wall
    print(
        f"\nRaw encode: {len(texts)} chunks (every {every}th, longest first) in {wall:.1f} s = {rate:.1f} chunks/s;"
        f" all {len(chunks)} chunks at that rate: {len(chunks) / rate:.0f} s"
    )


def _encode():
    from medgemma.knowledge.embeddings import Embedder

    loaded = []

    def encode(texts):
        if not loaded:
            loaded.append(Embedder("all-MiniLM-L6-v2", Path(tempfile.mkdtemp())))
        return loaded[0].encode(texts)

    return encode


def bench_quality(args: argparse.Namespace) -> None:
    import retrieval_quality

    retrieval_quality.quality(_encode(), lexical=getattr(args, "lexical", False))


def bench_tune(args: argparse.Namespace) -> None:
    import retrieval_quality

    retrieval_quality.tune(_encode(), lexical=args.lexical)


def bench_check(args: argparse.Namespace) -> None:
    import retrieval_quality

    retrieval_quality.library_check(_encode())


def bench_backends(args: argparse.Namespace) -> None:
    import retrieval_quality

    retrieval_quality.backends(Path(args.models or tempfile.mkdtemp()), args.questions, args.distractors)


def bench_tables(args: argparse.Namespace) -> None:
    """The three tables the issue asks for: backends, quality, latency (benchmarks/retrieval_latency.py)."""
    bench_backends(args)
    bench_quality(args)
    import retrieval_latency

    kb = KnowledgeBase(settings_for(Path(tempfile.mkdtemp()) / "home"))
    questions = [json.loads(line)["question"] for line in DEV.read_text().splitlines()][: args.queries]
    print("\nLatency (benchmarks/retrieval_latency.py)\n")
    print(retrieval_latency.format_rows(retrieval_latency.latency_rows(kb, questions, tuple(args.sizes))))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="bench", required=True)
    p = sub.add_parser("build")
    p.add_argument("--pages", type=int, default=60, help="MedlinePlus pages to index")
    p.set_defaults(fn=bench_build)
    p = sub.add_parser("latency")
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--queries", type=int, default=50)
    p.add_argument("--from-index", default="", help="a data home whose default index supplies real vectors")
    p.set_defaults(fn=bench_latency)
    p = sub.add_parser("starter")
    p.add_argument("--minutes", type=float, default=0, help="stop after this long (0 = until done)")
    p.add_argument("--home", default="", help="data home (default: a new temporary one)")
    p.add_argument("--raw-every", type=int, default=10, help="raw encode every Nth chunk after (0: skip)")
    p.set_defaults(fn=bench_starter)
    for verb, fn in (("quality", bench_quality), ("tune", bench_tune)):
        p = sub.add_parser(verb)
        p.add_argument("--lexical", action="store_true", help="only what needs no vectors (the BM25 legs)")
        p.set_defaults(fn=fn)
    sub.add_parser("check").set_defaults(fn=bench_check)
    for verb, fn in (("backends", bench_backends), ("tables", bench_tables)):
        p = sub.add_parser(verb)
        p.add_argument("--models", default="", help="models folder for the ONNX exports (default: a new one)")
        p.add_argument("--questions", type=int, default=40)
        p.add_argument("--distractors", type=int, default=300)
        p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
        p.add_argument("--queries", type=int, default=40)
        p.set_defaults(fn=fn)
    args = parser.parse_args()
    args.fn(args)


if __name__ == "__main__":
    main()
