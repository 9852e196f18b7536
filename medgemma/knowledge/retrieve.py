"""retrieve.py ranks chunks of a loaded index: dense (FAISS), BM25 (bm25s) and their page-level fusion.

It knows nothing about prompts, file formats, how the index got on disk or how rankings are scored
(evaluation/metrics.py does that).
"""

from __future__ import annotations

import logging
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from medgemma.knowledge.chunking import embedding_text
from medgemma.knowledge.store import Snapshot
from medgemma.knowledge.topics import TopicIndex, page_key
from medgemma.types import Chunk, Hit

logger = logging.getLogger(__name__)

Mode = Literal["hybrid", "dense", "bm25"]
MODES: tuple[Mode, ...] = ("dense", "bm25", "hybrid")
# Hybrid page score = best cosine of the page + BM25_SHARE * its best BM25 / the query's best BM25, then at
# least TOPIC_SHARE x the best page of its topic (medgemma/knowledge/topics.py). First chosen on dev's even
# rows (0.2, 0.98: benchmarks/retrieval.py tune); 0.4, 0.95 is the best row of a sweep over dev, fresh,
# fresh2 and fresh3 (all already scored), adopted by a rule written before data/retrieval_fresh4.jsonl was
# scored: only if it is at least as good there on recall@5 and hit@5 (0.892 / 0.910 vs 0.887 / 0.900).
# benchmarks/results/retrieval_2026-12-04.txt has the sweep.
BM25_SHARE = 0.4
TOPIC_SHARE = 0.95
TOPIC_PAGES = 10  # hybrid: the best pages whose topic's other pages join the candidates
TOPIC_SIBLINGS = 8  # at most this many other pages of one topic join
NEAR_DUPLICATE_COSINE = 0.97
LATE_ROWS = 8  # hybrid during the build: BM25's best rows without a vector yet, embedded at query time
PAGE_CHUNKS = 2  # hybrid: chunks of one page in the first pass over the ranking (the rest come after)
_WS = re.compile(r"\W+")


def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # PyStemmer is in requirements.txt; without it BM25 matches exact words only
        logger.warning("PyStemmer is not installed: BM25 runs without stemming")
        return None


def bm25_groups(chunks: Sequence[Chunk]) -> list[int]:
    """The BM25 unit of each chunk: chunks of one section of one page of a document (a MedQuAD answer
    under its question) are scored as one text; a chunk without a section is its own unit. Scoring whole
    answers found more gold pages on data/retrieval_dev.jsonl than scoring their chunks (hit@5 0.772 vs
    0.746, recall@5 0.556 vs 0.515: benchmarks/retrieval_quality.py)."""
    ids: dict[tuple, int] = {}
    return [
        ids.setdefault((c.doc_id, c.page, c.section) if c.section else ("", i), len(ids))
        for i, c in enumerate(chunks)
    ]


class Bm25:
    """A bm25s index over chunk texts (title and section included), stemmed, English stopwords removed;
    with `groups` (a unit id per text, 0..n-1 in order) the texts of a unit are indexed as one and each
    text gets its unit's score."""

    def __init__(self, texts: Sequence[str], groups: Sequence[int] | None = None) -> None:
        import bm25s

        self._bm25s = bm25s
        self._stemmer = _stemmer()
        self.size = len(texts)
        self.model = bm25s.BM25()
        self._groups = None if groups is None else np.asarray(groups, dtype=np.int64)
        units = list(texts)
        if groups is not None:
            joined: dict[int, list[str]] = {}
            for text, group in zip(texts, groups, strict=True):
                joined.setdefault(int(group), []).append(text)
            units = [" ".join(joined[g]) for g in range(len(joined))]
        if units:
            tokens = bm25s.tokenize(units, stopwords="en", stemmer=self._stemmer, show_progress=False)
            self.model.index(tokens, show_progress=False)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (zeros when no query word is indexed)."""
        if not self.size:
            return np.zeros(0, dtype=np.float32)
        tokens = self._bm25s.tokenize(
            [query], stopwords="en", stemmer=self._stemmer, show_progress=False, return_ids=False
        )[0]
        ids = self.model.get_tokens_ids(tokens)
        if not ids:
            return np.zeros(self.size, dtype=np.float32)
        scores = np.asarray(self.model.get_scores_from_ids(ids), dtype=np.float32)
        return scores if self._groups is None else scores[self._groups]


def page_ranks(rows: Sequence[int], chunks: Sequence[Chunk]) -> dict[str, int]:
    """Rank of each page in a chunk ranking, a page ranked by its best chunk (max aggregation)."""
    out: dict[str, int] = {}
    for row in rows:
        out.setdefault(page_key(chunks[row]), len(out))
    return out


def fuse_pages(
    cosines: dict[int, float],
    bm25: dict[int, float],
    chunks: Sequence[Chunk],
    share: float = BM25_SHARE,
    per_page: int = PAGE_CHUNKS,
    topics: TopicIndex | None = None,
    topic_share: float = TOPIC_SHARE,
) -> list[tuple[int, float]]:
    """Score fusion at page level (a dense re-rank of both legs' candidates): a page scores its best
    chunk cosine plus `share` times its best chunk BM25 over the query's best, so a page that dense finds by one
    chunk (its question) and BM25 by another (its answer) adds both up. Rows without a cosine yet (the
    build has not embedded them) count the lowest cosine of the candidates. Rows come back by page score,
    best chunks of a page first, at most `per_page` of a page before every page has had its turn."""
    rows = list(dict.fromkeys([*cosines, *bm25]))
    if not rows:
        return []
    known = [c for c in cosines.values() if c == c]
    floor = min(known) if known else 0.0
    top = max(bm25.values(), default=0.0) or 1.0

    def cosine(row: int) -> float:
        cos = cosines.get(row, floor)
        return floor if cos != cos else cos

    chunk_score = {row: cosine(row) + share * bm25.get(row, 0.0) / top for row in rows}
    best_cos: dict[str, float] = {}
    best_bm25: dict[str, float] = {}
    for row in rows:
        key = page_key(chunks[row])
        best_cos[key] = max(best_cos.get(key, -np.inf), cosine(row))
        best_bm25[key] = max(best_bm25.get(key, 0.0), bm25.get(row, 0.0))
    page_score = {key: best_cos[key] + share * best_bm25[key] / top for key in best_cos}
    if topics is not None and topic_share > 0:
        own = dict(page_score)
        for page, score in own.items():
            for other in topics.siblings(page):
                if other in page_score and topic_share * score > page_score[other]:
                    page_score[other] = topic_share * score
    order = sorted(rows, key=lambda r: (-page_score[page_key(chunks[r])], -chunk_score[r]))
    first, later, taken = [], [], {}
    for row in order:
        key = page_key(chunks[row])
        taken[key] = taken.get(key, 0) + 1
        (first if taken[key] <= per_page else later).append(row)
    return [(row, page_score[page_key(chunks[row])]) for row in first + later]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n best scores, best first."""
    n = min(n, len(scores))
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    part = np.argpartition(-scores, n - 1)[:n]
    return part[np.argsort(-scores[part], kind="stable")]


@dataclass(frozen=True)
class Candidate:
    row: int
    fused: float
    dense: float
    bm25: float | None


class Retriever:
    """Searches one Snapshot; thread-safe for readers (the snapshot never changes)."""

    def __init__(self, snapshot: Snapshot, embedder: Any) -> None:
        self.snapshot = snapshot
        self.embedder = embedder
        self._late: dict[int, np.ndarray] = {}  # vectors of rows the build has not embedded yet
        self._lock = threading.Lock()

    @property
    def chunks(self) -> list[Chunk]:
        return self.snapshot.chunks

    def bm25(self) -> Bm25:
        """The BM25 side over every chunk, built once and shared by the generations that only add vectors."""
        snap = self.snapshot
        with snap.shared_lock:
            if "bm25" not in snap.shared:
                texts = [embedding_text(c) for c in snap.chunks]
                snap.shared["bm25"] = Bm25(texts, bm25_groups(snap.chunks))
            return snap.shared["bm25"]

    def topics(self) -> TopicIndex:
        """Pages by topic over every chunk, built once per snapshot like the BM25 side."""
        snap = self.snapshot
        with snap.shared_lock:
            if "topics" not in snap.shared:
                snap.shared["topics"] = TopicIndex(snap.chunks)
            return snap.shared["topics"]

    def _sibling_rows(self, rows: Sequence[int], bm25_scores: np.ndarray | None) -> list[int]:
        """One row (its best BM25 chunk, else its first) for each page that shares a topic with one of the
        first TOPIC_PAGES pages of `rows` and is not among them yet."""
        topics, chunks = self.topics(), self.snapshot.chunks
        have = {page_key(chunks[r]) for r in rows}
        out: list[int] = []
        for page in list(dict.fromkeys(page_key(chunks[r]) for r in rows))[:TOPIC_PAGES]:
            for other in topics.siblings(page)[:TOPIC_SIBLINGS]:
                if other in have:
                    continue
                have.add(other)
                own = topics.rows_of_page[other]
                out.append(max(own, key=lambda r: bm25_scores[r]) if bm25_scores is not None else own[0])
        return out

    def embed_query(self, query: str) -> np.ndarray:
        return np.asarray(self.embedder.encode([query]), dtype=np.float32).reshape(-1)

    def vectors(self, rows: Sequence[int]) -> np.ndarray:
        """Unit vectors of chunk rows; a row the build has not embedded yet is embedded now (and kept)."""
        snap = self.snapshot
        with self._lock:
            missing = [r for r in dict.fromkeys(rows) if r >= snap.dense and r not in self._late]
        if missing:
            vecs = self.embedder.encode([embedding_text(snap.chunks[r]) for r in missing])
            with self._lock:
                self._late.update(zip(missing, np.asarray(vecs, dtype=np.float32), strict=True))
        out = np.zeros((len(rows), snap.index.d), dtype=np.float32)
        for i, r in enumerate(rows):
            out[i] = snap.vectors[r] if r < snap.dense else self._late[r]
        return out

    def _dense_rows(self, qvec: np.ndarray, n: int) -> list[int]:
        n = min(n, self.snapshot.index.ntotal)
        if n <= 0:
            return []
        _, ids = self.snapshot.index.search(qvec.reshape(1, -1), n)
        return [int(i) for i in ids[0] if i >= 0]

    def candidates(
        self, query: str, mode: Mode = "hybrid", depth: int = 50, qvec: np.ndarray | None = None
    ) -> list[Candidate]:
        """Rows ranked by the chosen leg(s), with every score filled in for each row (the dense cosine is
        NaN for a row the build has not embedded yet: `search` embeds the ones it reaches)."""
        if not self.snapshot.chunks:
            return []
        qvec = self.embed_query(query) if qvec is None else qvec
        bm25_scores: np.ndarray | None = None
        dense_rows: list[int] = []
        bm25_rows: list[int] = []
        if mode in ("dense", "hybrid"):
            dense_rows = self._dense_rows(qvec, depth)
        if mode in ("bm25", "hybrid"):
            bm25_scores = self.bm25().scores(query)
            bm25_rows = [int(r) for r in _top(bm25_scores, depth) if bm25_scores[r] > 0]
        rows = list(dict.fromkeys(dense_rows + bm25_rows))
        dense = np.full(len(rows), np.nan, dtype=np.float32)
        ready = [i for i, r in enumerate(rows) if r < self.snapshot.dense]
        if ready:
            dense[ready] = self.snapshot.vectors[[rows[i] for i in ready]] @ qvec
        ranks = {row: 0.0 for row in rows}
        if mode == "hybrid":
            # The best keyword rows the build has not embedded yet get their cosine now (one small batch).
            late = [r for r in bm25_rows[:LATE_ROWS] if r >= self.snapshot.dense]
            position = {row: i for i, row in enumerate(rows)}
            if late:
                dense[[position[r] for r in late]] = self.vectors(late) @ qvec
            cosines = {row: float(c) for row, c in zip(rows, dense, strict=True)}
            lexical = {row: float(bm25_scores[row]) for row in bm25_rows} if bm25_scores is not None else {}
            first = [row for row, _ in fuse_pages(cosines, lexical, self.snapshot.chunks)]
            extra = self._sibling_rows(first, bm25_scores)  # the same topic's pages on other sites
            if extra:
                ready_extra = [r for r in extra if r < self.snapshot.dense]  # the others: NaN, as above
                cosines.update((r, float("nan")) for r in extra)
                if ready_extra:
                    cos = self.snapshot.vectors[ready_extra] @ qvec
                    cosines.update(zip(ready_extra, (float(c) for c in cos), strict=True))
                if bm25_scores is not None:
                    lexical.update((r, float(bm25_scores[r])) for r in extra if bm25_scores[r] > 0)
                rows = rows + extra
                position = {row: i for i, row in enumerate(rows)}
                dense = np.concatenate([dense, np.asarray([cosines[r] for r in extra], dtype=np.float32)])
            ranked = fuse_pages(cosines, lexical, self.snapshot.chunks, topics=self.topics())
            ranks = dict(ranked)
            rows = [row for row, _ in ranked]
            dense = dense[[position[row] for row in rows]] if rows else dense
        out = []
        for row, cos in zip(rows, dense, strict=False):
            b = float(bm25_scores[row]) if bm25_scores is not None and bm25_scores[row] > 0 else None
            out.append(Candidate(row, ranks[row], float(cos), b))
        if mode == "dense":
            out.sort(key=lambda c: -c.dense)
        elif mode == "bm25":
            out.sort(key=lambda c: -(c.bm25 or 0.0))
        return out  # hybrid: in fuse_pages order

    def search(
        self,
        query: str,
        k: int = 4,
        min_score: float | None = None,
        mode: Mode = "hybrid",
        collapse: bool = True,
    ) -> list[Hit]:
        """Top-k hits; hits whose dense cosine is below min_score are dropped; near-duplicates collapsed."""
        query = query.strip()
        if not query or k <= 0:
            return []
        hits: list[Hit] = []
        kept_rows: list[int] = []
        kept_texts: set[str] = set()
        qvec = self.embed_query(query)  # once per search: both legs and the late rows use it
        cands = self.candidates(query, mode, depth=max(50, 5 * k), qvec=qvec)
        for at, cand in enumerate(cands):
            if math.isnan(cand.dense):  # keyword-only so far: embed it with the next such rows, in one call
                self.vectors([c.row for c in cands[at:] if math.isnan(c.dense)][: max(8, 2 * k)])
                cand = replace(cand, dense=float(self.vectors([cand.row])[0] @ qvec))
            if min_score is not None and cand.dense < min_score:
                continue
            chunk = self.snapshot.chunks[cand.row]
            if collapse:
                norm = _WS.sub(" ", chunk.text.lower()).strip()
                if norm in kept_texts:
                    continue
                if kept_rows:
                    sims = self.vectors(kept_rows) @ self.vectors([cand.row])[0]
                    if float(sims.max()) >= NEAR_DUPLICATE_COSINE:
                        continue
                kept_texts.add(norm)
                kept_rows.append(cand.row)
            score = cand.fused if mode == "hybrid" else cand.dense if mode == "dense" else (cand.bm25 or 0.0)
            hits.append(
                Hit(
                    chunk=chunk,
                    score=round(score, 6),
                    dense=round(cand.dense, 6),
                    bm25=None if cand.bm25 is None else round(cand.bm25, 6),
                    rank=len(hits) + 1,
                )
            )
            if len(hits) >= k:
                break
        return hits
