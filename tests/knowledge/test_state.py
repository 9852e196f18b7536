"""Shared state has one owner: Stores over one SnapshotCache load a generation once, KnowledgeState publishes
the newest retriever and hands out one background reload, and Services owns the state, the embedders the
guard shares and the starter build's status line (which the app writes and the Chat tab reads)."""

from __future__ import annotations

import numpy as np

from medgemma.chat.services import Services
from medgemma.config import load_settings
from medgemma.knowledge.base import KnowledgeBase
from medgemma.knowledge.retrieve import Retriever
from medgemma.knowledge.state import KnowledgeState
from medgemma.knowledge.store import DocEntry, SnapshotCache, Store
from medgemma.types import Chunk

DIM = 4


def commit(store: Store, doc_id: str):
    vec = np.eye(DIM, dtype=np.float32)[:1]
    entry = DocEntry({"doc_id": doc_id, "hash": doc_id}, [Chunk(f"{doc_id}-0", doc_id, doc_id)], vec)
    with store.writing():
        return store.commit(adds=[entry], removes=set(), sources={}, model="m", dimension=DIM)


def test_stores_sharing_a_cache_load_each_generation_once(tmp_path):
    cache = SnapshotCache()
    writer, reader, elsewhere = (
        Store(tmp_path / "idx", cache),
        Store(tmp_path / "idx", cache),
        Store(tmp_path / "idx"),
    )
    first = commit(writer, "a")
    assert reader.load() is first  # the commit itself, not a copy read back from disk
    other = elsewhere.load()  # a cache of its own (another process, in effect) reads the same generation
    assert other is not first and other.generation == first.generation == 1
    second = commit(writer, "b")
    assert reader.load() is second and elsewhere.load().generation == 2  # both see the new commit
    cache.clear()
    assert reader.load() is not second and reader.load().generation == 2
    assert cache.lock(tmp_path) is cache.lock(tmp_path) and cache.lock(tmp_path) is not SnapshotCache().lock(
        tmp_path
    )


def test_knowledge_state_publishes_the_newest_retriever_and_one_reload(tmp_path):
    store = Store(tmp_path / "idx")
    old = Retriever(commit(store, "a"), embedder=None)
    new = Retriever(commit(store, "b"), embedder=None)
    state, key = KnowledgeState(), store.root.resolve()
    assert state.ready(key) == (None, False)  # nothing loaded yet: the caller loads in the foreground
    state.publish(key, new)
    state.publish(key, old)  # an older generation finishing late never replaces a newer one
    assert state.ready(key) == (new, True)  # the first caller starts the background reload ...
    assert state.ready(key) == (new, False)  # ... and nobody else does until it has ended
    state.loaded(key)
    assert state.ready(key) == (new, True)


def test_knowledge_bases_share_what_their_state_holds(tmp_path):
    settings = load_settings(overrides={"starter_corpus": "medquad"})
    state = KnowledgeState()
    one, two = KnowledgeBase(settings, state=state), KnowledgeBase(settings, state=state)
    assert one.store.cache is two.store.cache is state.snapshots
    commit(one.store, "a")
    assert two.snapshot() is one.snapshot()
    alone = KnowledgeBase(settings)  # made without a state: a state of its own, the same files
    assert alone.state is not state and alone.snapshot().generation == one.snapshot().generation
    with (
        state.starter_lock
    ):  # one starter build per process: another KnowledgeBase of the state waits its turn
        assert two.ensure_starter_index() == {
            "state": "building",
            "message": "the starter index is already being built",
        }


def test_services_own_the_knowledge_state_and_share_its_embedders():
    settings = load_settings()
    services, other = Services(settings), Services(settings)
    state = services.knowledge_state()
    assert services.knowledge_state() is state and other.knowledge_state() is not state
    assert services.knowledge() is services.knowledge() and services.knowledge().state is state
    assert services.guard() is services.guard()  # one guard (its classifier has its own fine-tuned encoder)
    assert services.starter_status == ""


def test_services_status_line_and_no_source_note_follow_the_build():
    services = Services(load_settings())
    kb = services.knowledge()
    chunks = [Chunk(f"a-{i}", "a", f"alpha {i}") for i in range(3)]
    vecs = np.full((3, DIM), np.nan, dtype=np.float32)
    vecs[0] = np.eye(DIM)[0]  # one chunk embedded, two keyword-only so far
    with kb.store.writing():
        kb.store.commit(
            adds=[DocEntry({"doc_id": "a"}, chunks, vecs)],
            removes=set(),
            sources={},
            model="m",
            dimension=DIM,
        )
    kb.store.write_status(state="building", eta_seconds=600)
    line = "Keyword search: 3 chunks ready · Meaning search: 1 of 3 (33%), about 10 min left"
    assert kb.coverage().line() == line and kb.stats()["coverage"] == line
    assert "still being built" in services.building_note() and "about 10 min" in services.building_note()
    services.report_starter(0.33, kb.coverage().line())
    assert services.starter_status == f"📚 {line}"
    services.report_starter(0.5, "reading medquad")
    assert services.starter_status == "📚 Building the knowledge base: reading medquad (50%)"
    services.report_starter(1.0, "")
    assert services.starter_status == ""
    kb.store.write_status(state="ready")
    assert kb.coverage().line().endswith("(33%)")  # no time estimate without a running build
