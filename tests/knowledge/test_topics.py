"""Topics: pages sharing a title rank together in hybrid search (medgemma/knowledge/topics.py,
retrieve.fuse_pages, Retriever._sibling_rows)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from medgemma.knowledge.retrieve import Retriever, fuse_pages
from medgemma.knowledge.shards import build_faiss
from medgemma.knowledge.snapshot import Snapshot
from medgemma.knowledge.topics import TopicIndex, topic_key
from medgemma.types import Chunk

# Titles as MedQuAD's sites spell one condition (each pair is one topic) ...
SAME = [
    ("Parkinson's Disease", "Parkinson disease"),
    ("Tuberculosis (TB)", "Tuberculosis"),
    ("What I need to know about Hepatitis A", "Hepatitis A"),
    ("Thalassemias", "thalassemia"),
    ("Interstitial Cystitis/Painful Bladder Syndrome", "Interstitial cystitis"),
    ("Graves' Disease", "Graves disease"),
    ("Guillain-Barr Syndrome", "Guillain-Barre syndrome"),
    ("Parasites - Scabies", "Scabies"),
    ("Foodborne Illnesses", "Foodborne Illness"),
    ("Peripheral Arterial Disease (P.A.D.)", "Peripheral Artery Disease"),
    ("Lesch-Nyhan syndrome", "Lesch Nyhan Syndrome"),
]
# ... and titles of different conditions, which must stay apart.
DIFFERENT = [
    ("Diabetes", "Diabetes Type 2"),
    ("Hepatitis A", "Hepatitis B"),
    ("Alpha-thalassemia", "Beta thalassemia"),
    ("Lung Cancer", "Non-Small Cell Lung Cancer"),
    ("Stroke", "Heat Stroke"),
]


@pytest.mark.parametrize(("a", "b"), SAME)
def test_one_condition_spelled_two_ways_is_one_topic(a, b):
    assert topic_key(a) and topic_key(a) == topic_key(b)


@pytest.mark.parametrize(("a", "b"), DIFFERENT)
def test_different_conditions_are_different_topics(a, b):
    assert topic_key(a) != topic_key(b)


def test_titles_that_name_no_topic():
    assert topic_key("") == topic_key("   ") == topic_key("notes.pdf") == topic_key("A") == ""


def _chunks(pages: list[tuple[str, str]]) -> list[Chunk]:
    return [
        Chunk(chunk_id=str(i), doc_id=url, text=f"text {i}", title=t, url=url)
        for i, (url, t) in enumerate(pages)
    ]


def test_fuse_pages_ranks_a_topics_pages_together():
    """Page a (Gout) is first; page d is gout on another site with a low score of its own: with the topic
    index it comes straight after a, at 0.98 of a's score; without it, last as before. Untitled pages and
    file-named pages never join a topic."""
    chunks = _chunks(
        [("a", "Gout"), ("b", "Arthritis"), ("c", "notes.pdf"), ("d", "gout"), ("e", "notes.pdf")]
    )
    cosines = {0: 0.70, 1: 0.60, 2: 0.55, 3: 0.20, 4: 0.10}
    plain = [chunks[r].url for r, _ in fuse_pages(cosines, {}, chunks)]
    assert plain == ["a", "b", "c", "d", "e"]
    ranked = fuse_pages(cosines, {}, chunks, topics=TopicIndex(chunks), topic_share=0.98)
    assert [chunks[r].url for r, _ in ranked] == ["a", "d", "b", "c", "e"]
    assert dict(ranked)[3] == pytest.approx(0.98 * 0.70)
    assert fuse_pages(cosines, {}, chunks, topics=TopicIndex(chunks), topic_share=0.0) == fuse_pages(
        cosines, {}, chunks
    )


class FixedEncoder:
    """Query vectors by text (the encoder is not what this test checks)."""

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        self.table = table

    def encode(self, texts, **_):
        return np.stack([self.table[t] for t in texts])


def test_search_pulls_in_a_topic_page_neither_leg_found():
    """60 distractor pages crowd both legs' candidates (depth 50) out of the sibling page's reach: the
    dense leg finds only page 'gout-1'; its sibling 'gout-2' (same topic, another site, far away in vector
    space, no keyword in common) still comes second in hybrid search, and not in dense search."""
    rng = np.random.default_rng(0)
    query = np.zeros(16, dtype=np.float32)
    query[0] = 1.0
    pages = [("gout-1", "Gout"), ("gout-2", "gout")] + [(f"x{i}", f"Topic {i}") for i in range(60)]
    chunks = _chunks(pages)
    vecs = rng.normal(size=(len(chunks), 16)).astype(np.float32)
    vecs[:, 0] = 0.0
    vecs[0, 0] = 5.0  # gout-1: close to the query
    vecs[1, 0] = -3.0  # gout-2: far from it
    vecs[2:, 0] = np.linspace(2.0, 0.5, len(chunks) - 2)  # the distractors: in between
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    manifest = {"format": 2, "embedding_model": "fixed", "dimension": 16, "lexical_generation": 1}
    snap = Snapshot(Path("/nonexistent"), 1, manifest, chunks, vecs, build_faiss(vecs, 16, exact=True))
    retriever = Retriever(snap, FixedEncoder({"zzz": query}))
    dense = [h.chunk.url for h in retriever.search("zzz", k=5, mode="dense", collapse=False)]
    assert dense[0] == "gout-1" and "gout-2" not in dense
    hybrid = [h.chunk.url for h in retriever.search("zzz", k=5, collapse=False)]
    assert hybrid[:2] == ["gout-1", "gout-2"]
