"""The on-disk store: atomic generations, manifest last, crash leftovers, damaged files, kill -9 recovery."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from medgemma.knowledge.store import (
    CHUNKS_FILE,
    KEEP_GENERATIONS,
    MANIFEST_FILE,
    DocEntry,
    Store,
    build_faiss,
    index_type,
)
from medgemma.types import Chunk

REPO = Path(__file__).resolve().parents[2]
DIM = 8


def entry(doc_id: str, texts: list[str], seed: int = 0) -> DocEntry:
    rng = np.random.default_rng(seed)
    vecs = rng.normal(size=(len(texts), DIM)).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    chunks = [
        Chunk(chunk_id=f"{doc_id}-{i}", doc_id=doc_id, text=t, title=doc_id) for i, t in enumerate(texts)
    ]
    record = {
        "doc_id": doc_id,
        "source_key": f"{doc_id}.txt",
        "hash": f"h-{doc_id}-{seed}",
        "chunks": len(texts),
        "parts": [{"text": " ".join(texts), "page": None, "section": ""}],
    }
    return DocEntry(record, chunks, vecs)


def commit(store: Store, adds=(), removes=(), sources=None):
    with store.writing():
        return store.commit(
            adds=list(adds), removes=set(removes), sources=sources or {}, model="test-model", dimension=DIM
        )


def test_commit_load_replace_and_remove(tmp_path):
    store = Store(tmp_path / "idx")
    assert store.load() is None and store.latest() == 0
    a, b = entry("a", ["alpha one", "alpha two"]), entry("b", ["beta"])
    snap = commit(store, [a, b], sources={"a.txt": {"hash": "x", "complete": True}})
    assert snap.generation == 1 and len(snap.chunks) == 3
    manifest = json.loads((store.gen_path(1) / MANIFEST_FILE).read_text())
    assert manifest["embedding_model"] == "test-model" and manifest["dimension"] == DIM
    assert manifest["documents"] == 2 and manifest["chunks"] == 3 and manifest["index_type"] == "flat"
    assert manifest["sources"]["a.txt"]["hash"] == "x" and len(manifest["corpus_hash"]) == 64
    # a fresh process view reads the same thing back from disk
    fresh = Store(tmp_path / "idx")._read(1)
    assert [c.chunk_id for c in fresh.chunks] == ["a-0", "a-1", "b-0"]
    np.testing.assert_allclose(fresh.vectors, np.vstack([a.vectors, b.vectors]), atol=1e-6)
    assert set(fresh.doc_table()) == {"a", "b"}

    a2 = entry("a", ["alpha changed"], seed=1)
    snap = commit(store, [a2], sources={"a.txt": None})
    assert snap.generation == 2
    assert [c.chunk_id for c in snap.chunks] == ["b-0", "a-0"] and snap.chunks[1].text == "alpha changed"
    assert "a.txt" not in snap.manifest["sources"]
    snap = commit(store, removes={"b"})
    assert [c.doc_id for c in snap.chunks] == ["a"] and set(snap.doc_table()) == {"a"}
    assert len(store.generations()) == KEEP_GENERATIONS  # older generations are pruned


def test_readers_skip_unfinished_and_damaged_generations(tmp_path):
    store = Store(tmp_path / "idx")
    commit(store, [entry("a", ["alpha"])])
    # a crash mid-commit leaves a temp folder and maybe a generation folder without manifest
    leftover = tmp_path / "idx" / ".build-000002-99999"
    leftover.mkdir()
    (leftover / CHUNKS_FILE).write_text('{"chunk_id": "half')
    (tmp_path / "idx" / "gen-000007").mkdir()
    assert Store(tmp_path / "idx").generations() == [1]
    assert [c.doc_id for c in Store(tmp_path / "idx")._read(1).chunks] == ["a"]
    snap = commit(store, [entry("b", ["beta"])])
    assert snap.generation == 2 and not leftover.exists()  # the next writer cleans up
    # damage the newest generation: the reader falls back to the previous complete one
    with (store.gen_path(2) / CHUNKS_FILE).open("a") as fh:
        fh.write("garbage\n")
    snap = Store(tmp_path / "idx").load()  # a new Store has a cache of its own: it reads from disk
    assert snap.generation == 1


def test_reader_sees_new_generation_and_old_snapshot_stays_valid(tmp_path):
    store = Store(tmp_path / "idx")
    commit(store, [entry("a", ["alpha"])])
    old = store.load()
    assert store.load() is old  # cached while nothing changed
    commit(store, [entry("b", ["beta"])])
    new = store.load()
    assert new.generation == old.generation + 1 and len(new.chunks) == 2
    assert len(old.chunks) == 1 and old.index.ntotal == 1  # a reader holding the old snapshot is unaffected


def test_writers_are_serialised(tmp_path):
    store = Store(tmp_path / "idx")
    errors: list[Exception] = []

    def add(i: int) -> None:
        try:
            commit(store, [entry(f"d{i}", [f"text {i}"], seed=i)])
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=add, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    snap = store.load()
    assert snap.generation == 6 and {c.doc_id for c in snap.chunks} == {f"d{i}" for i in range(6)}


def test_model_mismatch_is_refused(tmp_path):
    store = Store(tmp_path / "idx")
    commit(store, [entry("a", ["alpha"])])
    with store.writing(), pytest.raises(Exception, match="rebuild"):
        store.commit(adds=[entry("b", ["beta"])], removes=set(), sources={}, model="other", dimension=DIM)


def test_large_stores_use_hnsw():
    rng = np.random.default_rng(0)
    small = build_faiss(rng.normal(size=(10, DIM)).astype(np.float32), DIM)
    assert index_type(small) == "flat"
    from medgemma.knowledge import shards as index_module

    old = index_module.FLAT_LIMIT
    index_module.FLAT_LIMIT = 50
    try:
        vecs = rng.normal(size=(200, DIM)).astype(np.float32)
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        hnsw = build_faiss(vecs, DIM)
        assert index_type(hnsw) == "hnsw"
        _, ids = hnsw.search(vecs[:5], 1)
        assert list(ids[:, 0]) == [0, 1, 2, 3, 4]
        np.testing.assert_allclose(hnsw.reconstruct_n(0, 200), vecs, atol=1e-6)
    finally:
        index_module.FLAT_LIMIT = old


def test_build_status_marks_dead_writers(tmp_path):
    store = Store(tmp_path / "idx")
    store.write_status(state="building", message="embedding 10 of 100 documents")
    assert store.read_status()["state"] == "building"
    status = json.loads((tmp_path / "idx" / "build.json").read_text())
    status["pid"] = 2**22 + 12345  # no such process
    (tmp_path / "idx" / "build.json").write_text(json.dumps(status))
    assert store.read_status()["state"] == "interrupted"


KILL_SCRIPT = """
import sys
from medgemma.cli import main
sys.exit(main(["index", "add", *sys.argv[1:]]))
"""


@pytest.mark.slow
def test_kill_9_during_build_keeps_previous_index_serving(tmp_path, isolated_home):
    """A writer killed mid-build leaves the previous generation serving; the next writer recovers."""
    from medgemma.config import load_settings
    from medgemma.knowledge.base import KnowledgeBase

    small = tmp_path / "first.txt"
    small.write_text(
        "Influenza is a contagious respiratory illness caused by flu viruses. "
        "Getting a flu vaccine every year is the best way to prevent it."
    )
    kb = KnowledgeBase(load_settings())
    [status] = kb.add_files([small])
    assert status.status == "indexed"
    before = kb.store.latest()
    big = tmp_path / "big.txt"
    big.write_text(
        "\n\n".join(
            f"Paragraph {i} explains how asthma inhalers, spacers and peak flow meters are "
            f"used, number {i}, with several more words to make it long enough." * 3
            for i in range(400)
        )
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(big)],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.time() + 240
        for line in proc.stderr:
            if "embedding" in line or time.time() > deadline:
                break
        time.sleep(1.0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    # the previous generation still serves, in this process and in a fresh one
    assert kb.store.latest() == before
    # a new KnowledgeBase has a state of its own: it loads from disk, as a fresh process would
    hits = KnowledgeBase(load_settings()).search("how do I prevent the flu", k=1, min_score=0.0)
    assert hits and "flu vaccine" in hits[0].chunk.text
    # a new writer gets the lock (the kernel released it) and builds on the previous generation
    extra = tmp_path / "second.txt"
    extra.write_text("Shingles is a painful rash caused by the chickenpox virus waking up again.")
    [status] = KnowledgeBase(load_settings()).add_files([extra])
    assert status.status == "indexed"
    assert not list(kb.store.root.glob(".build-*"))
    docs = {d.doc_id for d in KnowledgeBase(load_settings()).list_documents()}
    assert docs == {"first.txt", "second.txt"}
    latest = kb.store.load()
    assert latest.complete and all((latest.path / name).is_file() for name, _ in latest.manifest["shards"])


def test_exclusive_lock_is_held_once(tmp_path):
    store = Store(tmp_path / "idx")
    with store.exclusive("starter") as first:
        with Store(tmp_path / "idx").exclusive("starter") as second:
            assert first is True and second is False
    with store.exclusive("starter") as again:
        assert again is True
