"""The PostgreSQL store's hybrid search ranks a topic's pages together, as the embedded store does: a page
titled like the best page (another site's write-up of the same condition) scores at least TOPIC_SHARE of
it, though it shares no word with the question; both stores give the same pages in the same order and
the same scores for the topic's pages, on a real server with the real encoder. A deleted sibling is never returned."""

from __future__ import annotations

from pathlib import Path

import pytest

from medgemma.config import load_settings
from medgemma.knowledge.base import KnowledgeBase
from medgemma.knowledge.pg_base import PgKnowledgeBase
from medgemma.knowledge.retrieve import TOPIC_SHARE
from medgemma.knowledge.state import KnowledgeState

GOUT = "Gout is a painful arthritis. Uric acid crystals build up in a joint, often the big toe, and cause swelling."
DIET = "Cherries, plenty of water and less beer or red meat may lower the chance of another attack."
PSEUDO = "Calcium crystals form in a joint such as the knee or toe and cause sudden painful swelling."
QUESTION = "uric acid crystals in the big toe joint"


@pytest.fixture(scope="module")
def state() -> KnowledgeState:
    return KnowledgeState()


@pytest.fixture
def files(tmp_path) -> list[Path]:
    d = tmp_path / "files"
    d.mkdir()
    (d / "gout.md").write_text(f"# Gout\n\n{GOUT}\n")
    (d / "gout-diet.md").write_text(f"# Gout\n\n{DIET}\n")
    (d / "pseudogout.md").write_text(f"# Pseudogout\n\n{PSEUDO}\n")
    (d / "flu.txt").write_text("Influenza is a contagious respiratory illness caused by flu viruses.")
    return sorted(d.iterdir())


def test_postgres_hybrid_ranks_a_topics_pages_together_like_the_embedded_store(
    pg_db, state, files, tmp_path, monkeypatch
):
    embedded = KnowledgeBase(load_settings(overrides={"home": str(tmp_path / "home")}), state=state)
    monkeypatch.setenv("MEDGEMMA_DATABASE_URL", pg_db)
    pg = KnowledgeBase(load_settings(overrides={"home": str(tmp_path / "home-pg")}), state=state)
    assert isinstance(pg, PgKnowledgeBase)
    for kb in (embedded, pg):
        assert {s.status for s in kb.add_files(files)} == {"indexed"}
    want = ["gout.md", "gout-diet.md", "pseudogout.md"]
    got = {}
    for name, kb in (("embedded", embedded), ("pg", pg)):
        hits = kb.search(QUESTION, k=3, min_score=-1, mode="hybrid")
        assert [h.chunk.doc_id for h in hits] == want, name  # without topics, gout-diet.md comes third
        assert hits[1].score == pytest.approx(TOPIC_SHARE * hits[0].score, rel=1e-4), name
        got[name] = [round(h.score, 4) for h in hits]
    # the best page: cosine + BM25_SHARE (its keyword score is the query's best in both engines), and its
    # sibling at TOPIC_SHARE of it; the third page's keyword share differs (ts_rank is not BM25)
    assert got["pg"][:2] == pytest.approx(got["embedded"][:2], abs=1e-3)
    assert pg.remove("gout-diet.md") == 1  # the topic cache still lists it: only live rows come back
    assert [h.chunk.doc_id for h in pg.search(QUESTION, k=3, min_score=-1, mode="hybrid")] == [
        "gout.md",
        "pseudogout.md",
        "flu.txt",
    ]


def test_postgres_hybrid_brings_in_a_topic_page_neither_leg_found(pg_db, state, files, tmp_path, monkeypatch):
    """90 notes on sore joints outrank the diet page in both legs (it shares no word with the question),
    so only its topic brings it into the candidates; it then ranks second, as in the embedded store."""
    notes = files[0].parent
    for i in range(90):
        (notes / f"note-{i:02d}.txt").write_text(
            f"Joint note {i}: a stiff sore toe joint and a swollen big toe."
        )
    paths = sorted(notes.iterdir())
    embedded = KnowledgeBase(load_settings(overrides={"home": str(tmp_path / "home")}), state=state)
    monkeypatch.setenv("MEDGEMMA_DATABASE_URL", pg_db)
    pg = KnowledgeBase(load_settings(overrides={"home": str(tmp_path / "home-pg")}), state=state)
    for kb in (embedded, pg):
        for start in range(0, len(paths), 20):  # an upload takes at most 20 files
            assert {s.status for s in kb.add_files(paths[start : start + 20])} == {"indexed"}
        dense = [h.chunk.doc_id for h in kb.search(QUESTION, k=len(paths), min_score=-1, mode="dense")]
        assert dense.index("gout-diet.md") >= 50  # below the 50 dense candidates a k=3 search takes
        keyword = {h.chunk.doc_id for h in kb.search(QUESTION, k=len(paths), min_score=-1, mode="bm25")}
        assert "gout-diet.md" not in keyword  # no word in common
        hits = kb.search(QUESTION, k=3, min_score=-1, mode="hybrid")
        assert [h.chunk.doc_id for h in hits[:2]] == ["gout.md", "gout-diet.md"], type(kb).__name__
