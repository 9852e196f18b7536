"""Retrieval: ranking helpers (pure), then dense/BM25/hybrid on a real MedQuAD slice with MiniLM, and the
`eval retrieval` report of the three modes over it (its metrics are tested in tests/evaluation)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest

from medgemma.evaluation.reports import retrieval_modes
from medgemma.evaluation.suites import normalize_url
from medgemma.knowledge.retrieve import Bm25, _top, bm25_groups, fuse_pages
from medgemma.storage import write_jsonl
from medgemma.types import Chunk

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
TOPICS = [
    "Tinnitus",
    "Gout",
    "Hiccups",
    "Hives",
    "Raynaud's Disease",
    "Rosacea",
    "Bedwetting",
    "Color Blindness",
    "Dry Mouth",
    "Lactose Intolerance",
    "Constipation",
    "Fibromyalgia",
    "Shingles",
    "Asthma",
]


def test_hybrid_fuses_pages_not_chunks():
    """Page a: dense finds it by chunk 0 (cosine 0.60) and BM25 by chunk 1 (score 8); page b's chunk has the
    best cosine (0.62) and no keyword; c's the best BM25 (10) and a low cosine. Page score = best cosine +
    0.2 * best BM25 / 10, so a (0.60 + 0.16) beats c (0.50 + 0.2) and b (0.62); a row without a cosine
    counts the lowest one. At most two chunks of a page come before the other pages."""
    chunks = [
        Chunk(chunk_id=str(i), doc_id=page, text=f"text {i}", url=f"https://x.gov/{page}")
        for i, page in enumerate(["a", "a", "b", "c", "a", "d"])
    ]
    cosines = {0: 0.60, 1: 0.40, 2: 0.62, 3: 0.50, 4: 0.59, 5: float("nan")}
    ranked = fuse_pages(cosines, {1: 8.0, 3: 10.0, 4: 1.0, 5: 9.0}, chunks, share=0.2)
    pages = [chunks[row].doc_id for row, _ in ranked]
    scores = dict(ranked)
    assert pages[:2] == ["a", "a"] and [row for row, _ in ranked][:2] == [4, 0]  # by chunk score in a page
    assert scores[4] == scores[1] == pytest.approx(0.60 + 0.2 * 0.8)  # best cosine + best BM25 of a
    assert pages[2:5] == ["c", "b", "d"] and pages[5] == "a"
    assert scores[5] == pytest.approx(0.40 + 0.2 * 0.9)  # no cosine yet: the lowest candidate cosine
    assert fuse_pages({}, {}, chunks) == []


def test_bm25_scores_an_answer_as_one_unit():
    """Two chunks of one answer (same page and question) share one BM25 score, so the chunk that only
    carries the answer's later words is found by words of its other chunk; a chunk without a section is
    scored on its own."""
    chunks = [
        Chunk(chunk_id="0", doc_id="gout", text="Gout causes sudden joint pain.", section="What is gout?"),
        Chunk(
            chunk_id="1", doc_id="gout", text="Uric acid crystals form in the toe.", section="What is gout?"
        ),
        Chunk(chunk_id="2", doc_id="gout", text="Diet matters.", section="How to prevent gout?"),
        Chunk(chunk_id="3", doc_id="note", text="Crystals of uric acid."),
        Chunk(chunk_id="4", doc_id="note", text="Joint pain at night."),
    ]
    groups = bm25_groups(chunks)
    assert groups == [0, 0, 1, 2, 3]
    bm25 = Bm25([c.text for c in chunks], groups)
    scores = bm25.scores("sudden joint pain")
    assert scores.shape == (5,) and scores[0] == scores[1] > 0
    assert scores[2] == 0 and scores[3] == 0 and scores[4] > 0
    assert not Bm25([c.text for c in chunks]).scores("sudden joint pain")[1]  # per chunk: chunk 1 lacks them
    assert not bm25.scores("zebra").any()


def test_ranking_helpers_by_hand():
    assert (
        normalize_url("HTTPS://www.NLM.nih.gov/medlineplus/gout.html/") == "nlm.nih.gov/medlineplus/gout.html"
    )
    scores = np.array([0.1, 0.9, 0.5, 0.9, 0.0])
    assert list(_top(scores, 3)) == [1, 3, 2]
    assert list(_top(scores, 0)) == []


@pytest.fixture(scope="module")
def slice_kb(tmp_path_factory):
    """A real index of 14 MedlinePlus pages plus a near-duplicate copy of one passage."""
    from medgemma.config import load_settings
    from medgemma.knowledge.base import KnowledgeBase

    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    root = tmp_path_factory.mktemp("retrieve")
    rows = [
        json.loads(line)
        for line in gzip.open(SHARED_DATA / "corpus" / "medquad_answered.jsonl.gz", "rt")
        if '"MPlusHealthTopics"' in line
    ]
    rows = [r for r in rows if r["focus"] in TOPICS]
    (root / "mplus.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    tinnitus = next(r for r in rows if r["focus"] == "Tinnitus")
    (root / "copy.csv").write_text(
        'title,text\nEar noise leaflet,"' + tinnitus["answer"].replace('"', "'") + '"\n'
    )
    kb = KnowledgeBase(load_settings(overrides={"home": str(root / "home")}))
    statuses = kb.add_files([root / "mplus.jsonl", root / "copy.csv"])
    assert [s.status for s in statuses] == ["indexed", "indexed"]
    return kb, rows


@pytest.mark.slow
def test_hybrid_dense_and_bm25_find_consumer_questions(slice_kb):
    kb, _ = slice_kb
    hits = kb.search("there is a constant ringing and buzzing noise in my ears", k=3, min_score=0.0)
    assert hits[0].chunk.title in {"Tinnitus", "Ear noise leaflet"}
    assert [h.rank for h in hits] == [1, 2, 3]
    assert all(h.dense is not None and h.score > 0 for h in hits)
    assert hits[0].score >= hits[-1].score
    dense = kb.search("my fingers turn white and numb in the cold", k=2, min_score=0.0, mode="dense")
    assert dense[0].chunk.title == "Raynaud's Disease" and dense[0].score == dense[0].dense
    bm25 = kb.search("hiccups after eating", k=2, min_score=0.0, mode="bm25")
    assert bm25[0].chunk.title == "Hiccups" and bm25[0].bm25 and bm25[0].score == bm25[0].bm25
    hybrid = kb.search("hiccups after eating", k=2, min_score=0.0)
    assert hybrid[0].chunk.title == "Hiccups" and hybrid[0].bm25 is not None and hybrid[0].dense > 0.3


@pytest.mark.slow
def test_min_score_threshold_and_near_duplicate_collapse(slice_kb):
    kb, _ = slice_kb
    assert kb.search("quarterly tax filing deadlines for corporations", k=4, min_score=0.5) == []
    loose = kb.search("quarterly tax filing deadlines for corporations", k=4, min_score=-1.0)
    assert len(loose) == 4 and all(h.dense < 0.5 for h in loose)
    retriever = kb.retriever()
    raw = retriever.search("ringing in the ears", k=4, min_score=0.0, collapse=False)
    collapsed = retriever.search("ringing in the ears", k=4, min_score=0.0)
    raw_titles = [h.chunk.title for h in raw[:2]]
    assert set(raw_titles) == {"Tinnitus", "Ear noise leaflet"}  # the same passage twice
    assert [h.chunk.title for h in collapsed].count("Ear noise leaflet") + [
        h.chunk.title for h in collapsed
    ].count("Tinnitus") == 1


@pytest.mark.slow
def test_evaluate_reports_three_modes(slice_kb, tmp_path):
    kb, rows = slice_kb
    url = {r["focus"]: r["url"] for r in rows}
    dev = [
        {"question": "burning band of blisters years after chickenpox", "relevant_urls": [url["Shingles"]]},
        {
            "question": "bloated and gassy after a glass of milk",
            "relevant_urls": [url["Lactose Intolerance"]],
        },
        {"question": "big toe suddenly swollen and painful at night", "relevant_urls": [url["Gout"]]},
        {
            "question": "kid still wets the bed",
            "relevant_doc_ids": [
                "medquad:MPlusHealthTopics:" + next(r["doc_id"] for r in rows if r["focus"] == "Bedwetting")
            ],
        },
    ]
    write_jsonl(tmp_path / "dev.jsonl", dev)
    result = retrieval_modes(kb.settings, kb.retriever(), tmp_path / "dev.jsonl", k=5)
    assert set(result) >= {"dense", "bm25", "hybrid", "rows"} and result["questions"] == 4
    assert len(result["run_ids"]) == 3  # one evaluation run per mode
    for mode in ("dense", "bm25", "hybrid"):
        assert set(result[mode]) == {"recall@5", "mrr", "ndcg@5"}
        assert all(0.0 <= v <= 1.0 for v in result[mode].values())
    assert result["hybrid"]["recall@5"] == 1.0 and result["dense"]["mrr"] > 0.5
    assert result["rows"][0]["hybrid"]["ranked"][0] == normalize_url(url["Shingles"])
