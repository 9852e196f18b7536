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
from medgemma.knowledge.retrieve import _top, fuse_pages
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
    """Page A is 2nd in both legs through different chunks (its question in one, its answer in the other);
    page B's one chunk is 1st in dense only, C's 1st in BM25 only. Chunk-level RRF would put B and C
    first; page-level RRF puts A first. At most two chunks of a page come before the other pages."""
    chunks = [
        Chunk(chunk_id=str(i), doc_id=page, text=f"text {i}", url=f"https://x.gov/{page}")
        for i, page in enumerate(["a", "a", "b", "c", "a", "d"])
    ]
    dense = [2, 0, 5]
    bm25 = [3, 1, 4]
    ranked = fuse_pages([(dense, 1.0), (bm25, 1.0)], chunks)
    pages = [chunks[row].doc_id for row, _ in ranked]
    assert pages[:2] == ["a", "a"]
    assert [row for row, _ in ranked][:2] == [0, 1]  # ties within the page by the chunk's own RRF
    assert pages.index("a", 2) > pages.index("d")  # the third chunk of page a waits for the other pages
    assert set(pages[2:5]) >= {"b", "c"}
    assert ranked[0][1] > dict(ranked)[2] > 0  # scores are page scores, a's beats b's
    assert fuse_pages([([5, 2], 1.0)], chunks)[0] == (5, 1.0 / 61)


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
