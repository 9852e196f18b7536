"""Page rankings and their scores for the retrieval benchmarks (benchmarks/retrieval_quality.py): max
aggregation of unit scores into pages, topic-level aggregation over pages sharing a title, RRF and score
fusion of the dense and BM25 legs, and recall@5 / hit@5 / MRR / nDCG@5 per question and per gold-page count
(medgemma.evaluation.metrics, on normalised page URLs). Benchmark-only."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from medgemma.evaluation import metrics
from medgemma.evaluation.suites import normalize_url

K = 5


def page_ranking(unit_scores: np.ndarray, unit_urls: Sequence[str], depth: int = 200) -> list[str]:
    """Pages by their best unit's score (max aggregation), best first."""
    top = np.argsort(-unit_scores, kind="stable")[:depth]
    return list(dict.fromkeys(unit_urls[i] for i in top if unit_scores[i] > -1e9))


@dataclass
class Topics:
    """Pages that share a title: one condition written up by several NIH sites."""

    key: dict[str, str]  # page (normalised URL) -> its title key
    pages: dict[str, list[str]]  # title key -> its pages


def with_same_title(page_score: dict[str, float], topics: Topics, share: float) -> list[str]:
    """Topic-level aggregation: every page that shares a title with a ranked page scores at least `share`
    times that page's score, so a page found on one NIH site brings the same condition's pages on the
    others along; pages by their new score, best first (share 0: the ranking as it was)."""
    out = dict(page_score)
    if share > 0:
        for page, score in page_score.items():
            for other in topics.pages.get(topics.key.get(page, ""), ()):
                if share * score > out.get(other, -np.inf):
                    out[other] = share * score
    return sorted(out, key=lambda p: -out[p])


def scores(ranked: Sequence[str], relevant: Sequence[str]) -> dict[str, float]:
    rel = [normalize_url(u) for u in relevant]
    top = list(ranked)[:K]
    return {
        "recall@5": metrics.recall_at_k(top, rel, K),
        "hit@5": metrics.hit_at_k(top, rel, K),
        "mrr": metrics.reciprocal_rank(top, rel, K),
        "ndcg@5": metrics.ndcg_at_k(top, rel, K),
    }


def mean_scores(rankings: list[list[str]], examples: list[dict]) -> dict[str, float]:
    rows = [scores(r, e["relevant_urls"]) for r, e in zip(rankings, examples, strict=True)]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def gold_count(example: dict) -> int:
    return len({normalize_url(u) for u in example["relevant_urls"]})


def by_gold_count(rankings: list[list[str]], examples: list[dict], buckets=(1, 2, 3, 4)) -> dict[str, dict]:
    """mean_scores per number of gold pages (the last bucket holds that many and more)."""
    out = {}
    for b in buckets:
        last = b == buckets[-1]
        part = [i for i, e in enumerate(examples) if gold_count(e) == b or (last and gold_count(e) > b)]
        if part:
            label = f"{b}+" if last else str(b)
            got = mean_scores([rankings[i] for i in part], [examples[i] for i in part])
            out[label] = {"questions": len(part), **got}
    return out


def rrf(rankings: Sequence[Sequence[str]], weights: Sequence[float], k: int = 60) -> list[str]:
    fused: dict[str, float] = {}
    for ranking, w in zip(rankings, weights, strict=True):
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + w / (k + rank + 1)
    return sorted(fused, key=lambda u: -fused[u])


# ---- the systems compared ---------------------------------------------------------------------------
@dataclass
class Legs:
    """Per question: page rankings of each leg, and the page-level scores a score fusion needs."""

    dense: list[str]
    bm25: list[str]
    dense_score: dict[str, float]
    bm25_score: dict[str, float]


def page_scores(unit_scores: np.ndarray, unit_urls: Sequence[str], depth: int = 200) -> dict[str, float]:
    top = np.argsort(-unit_scores, kind="stable")[:depth]
    out: dict[str, float] = {}
    for i in top:
        out.setdefault(unit_urls[i], float(unit_scores[i]))
    return out


def legs_for(questions, qvecs, answer_vecs, urls, bm25, bm25_urls) -> list[Legs]:
    """Both legs per question; with qvecs None the dense leg is left empty (`--lexical`)."""
    out = []
    for i, q in enumerate(questions):
        d = {} if qvecs is None else page_scores(answer_vecs @ qvecs[i], urls, depth=len(urls))
        b = page_scores(bm25(q), bm25_urls)
        b = {u: s for u, s in b.items() if s > 0}
        out.append(Legs(list(d), list(b), d, b))
    return out


def fused_scores(legs: Legs, beta: float, depth: int = 50) -> dict[str, float]:
    """Dense re-rank of the top pages: cosine + beta * BM25 / best BM25 over the union of both legs' top."""
    pool = list(dict.fromkeys(legs.dense[:depth] + legs.bm25[:depth]))
    top_b = max(legs.bm25_score.values(), default=1.0) or 1.0
    low_d = min(legs.dense_score.values(), default=0.0)
    return {u: legs.dense_score.get(u, low_d) + beta * legs.bm25_score.get(u, 0.0) / top_b for u in pool}


def score_fusion(legs: Legs, beta: float, depth: int = 50) -> list[str]:
    fused = fused_scores(legs, beta, depth)
    return sorted(fused, key=lambda u: -fused[u])
