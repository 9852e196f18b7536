"""The PostgreSQL knowledge store against a real server: index, search (dense, keyword, hybrid), delete,
unchanged re-adds, the manifest rules, a second reader seeing new rows at once, the lexical-first build
with its vectors filled in, concurrent writer processes and a writer killed mid-transaction."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import psycopg
import pytest

from medgemma.config import load_settings
from medgemma.errors import IndexNotReady, UserFacingError
from medgemma.knowledge import dense
from medgemma.knowledge.base import KnowledgeBase
from medgemma.knowledge.embeddings import Embedder
from medgemma.knowledge.pg_base import PgKnowledgeBase
from medgemma.knowledge.pg_store import KnowledgeStore, PgStore
from medgemma.knowledge.state import KnowledgeState
from medgemma.knowledge.store import DocEntry, Store
from medgemma.types import Chunk

REPO = Path(__file__).resolve().parents[2]
FLU = "Influenza is a contagious respiratory illness caused by flu viruses. A yearly flu vaccine is the best protection."
GOUT = "Gout is a painful arthritis. Uric acid crystals build up in a joint, often the big toe, and cause swelling."
ASTHMA = (
    "Asthma narrows the airways. Wheezing and chest tightness are common. Inhalers relax the airway muscles."
)


@pytest.fixture(scope="module")
def state() -> KnowledgeState:
    """One loaded MiniLM for the module (the real packaged encoder)."""
    return KnowledgeState()


@pytest.fixture
def counting(monkeypatch):
    """Counts texts sent to the real embedder (a spy on the collaborator, not a fake)."""
    seen: list[str] = []
    original = Embedder.encode

    def encode(self, texts, *args, **kwargs):
        seen.extend(texts)
        return original(self, texts, *args, **kwargs)

    monkeypatch.setattr(Embedder, "encode", encode)
    return seen


@pytest.fixture
def kb_on(monkeypatch):
    """kb_on(url, state) -> the KnowledgeBase the app makes with MEDGEMMA_DATABASE_URL=url."""

    def make(url: str, state: KnowledgeState) -> KnowledgeBase:
        monkeypatch.setenv("MEDGEMMA_DATABASE_URL", url)
        return KnowledgeBase(load_settings(), state=state)

    return make


@pytest.fixture
def files(tmp_path) -> Path:
    d = tmp_path / "files"
    d.mkdir()
    (d / "flu.txt").write_text(FLU)
    (d / "gout.md").write_text(f"# Gout\n\n{GOUT}\n")
    (d / "asthma.txt").write_text(ASTHMA)
    return d


def test_both_stores_satisfy_the_store_protocol(pg_db, tmp_path):
    assert isinstance(PgStore(pg_db), KnowledgeStore)
    assert isinstance(Store(tmp_path / "index"), KnowledgeStore)


def test_index_search_delete_and_unchanged_readds(kb_on, pg_db, state, files, counting):
    kb = kb_on(pg_db, state)
    assert isinstance(kb, PgKnowledgeBase)
    with pytest.raises(IndexNotReady, match="empty"):
        kb.search("flu")
    paths = [files / "flu.txt", files / "gout.md", files / "asthma.txt"]
    assert [s.status for s in kb.add_files(paths)] == ["indexed"] * 3
    generation = kb.snapshot().generation
    for mode in ("dense", "bm25", "hybrid"):
        [hit] = kb.search("swollen big toe joint uric acid", k=1, min_score=-1, mode=mode)
        assert hit.chunk.doc_id == "gout.md", mode
    [hit] = kb.search("uric acid crystals", k=1, min_score=-1, mode="hybrid")
    assert hit.bm25 and hit.dense > 0.3 and hit.score > hit.dense  # both legs count in the fused score
    assert kb.search("zzzqx", k=3, min_score=-1, mode="bm25") == []  # no keyword matches nothing
    stats = kb.stats()
    assert stats["documents"] == 3 and stats["chunks"] == 3 and stats["dense_chunks"] == 3
    assert stats["embedding_model"] == "all-MiniLM-L6-v2" and stats["dimension"] == 384
    assert "***" not in stats["path"] and "postgresql://" in stats["path"]
    # the same files again: nothing is embedded and nothing committed (content hashes match)
    embedded = len(counting)
    assert [s.status for s in kb.add_files(paths)] == ["unchanged"] * 3
    assert len(counting) == embedded and kb.snapshot().generation == generation
    # a changed file replaces its document in one commit
    (files / "flu.txt").write_text(FLU + " Antiviral medicines can shorten the illness.")
    assert [s.status for s in kb.add_files([files / "flu.txt"])] == ["indexed"]
    assert {d.doc_id for d in kb.list_documents()} == {"flu.txt", "gout.md", "asthma.txt"}
    [hit] = kb.search("antiviral medicines", k=1, min_score=-1, mode="bm25")
    assert hit.chunk.doc_id == "flu.txt" and "Antiviral" in hit.chunk.text
    assert kb.remove("gout.md") == 1
    assert {d.doc_id for d in kb.list_documents()} == {"flu.txt", "asthma.txt"}
    assert all(h.chunk.doc_id != "gout.md" for h in kb.search("gout uric acid", k=5, min_score=-1))
    with pytest.raises(UserFacingError, match="No document"):
        kb.remove("gout.md")
    with psycopg.connect(pg_db) as conn:  # the delete cascaded to the chunks; the counts match the rows
        assert conn.execute("SELECT count(*) FROM kb_chunks WHERE doc_id = 'gout.md'").fetchone()[0] == 0
        assert conn.execute("SELECT chunks, documents FROM kb_indexes").fetchone() == (2, 2)
        counted = "SELECT u.lexeme, count(*) FROM kb_chunks, unnest(tsv) u GROUP BY 1"
        kept = "SELECT lexeme, df FROM kb_lexemes WHERE df > 0"
        for a, b in ((counted, kept), (kept, counted)):  # document frequencies follow adds and deletes
            assert conn.execute(f"SELECT count(*) FROM ({a} EXCEPT {b}) x").fetchone()[0] == 0


def test_a_second_reader_sees_new_rows_at_once(kb_on, pg_db, state, files):
    writer, reader = kb_on(pg_db, state), kb_on(pg_db, KnowledgeState(state.embedders))
    writer.add_files([files / "flu.txt"])
    assert reader.search("flu vaccine", k=1, min_score=-1)[0].chunk.doc_id == "flu.txt"
    writer.add_files([files / "asthma.txt"])  # no cache in the reader hides the new document
    assert reader.search("wheezing inhalers", k=1, min_score=-1)[0].chunk.doc_id == "asthma.txt"
    writer.remove("asthma.txt")
    assert all(h.chunk.doc_id != "asthma.txt" for h in reader.search("wheezing inhalers", k=3, min_score=-1))


def test_a_mismatching_model_is_refused(kb_on, pg_db, state, files):
    kb = kb_on(pg_db, state)
    kb.add_files([files / "flu.txt"])
    store = kb.store
    chunk = Chunk("x-0", "x", "Some text about x.", title="x")
    entry = DocEntry({"doc_id": "x", "source_key": "x"}, [chunk], np.ones((1, 384), dtype=np.float32))
    with pytest.raises(IndexNotReady, match="built with all-MiniLM-L6-v2.*needs a rebuild"):
        store.commit(adds=[entry], removes=set(), sources={}, model="other-model", dimension=384)
    with pytest.raises(IndexNotReady, match="needs a rebuild"):
        store.commit(adds=[entry], removes=set(), sources={}, model="all-MiniLM-L6-v2", dimension=768)
    assert {d.doc_id for d in kb.list_documents()} == {"flu.txt"}  # nothing of the refused commits landed
    with pytest.raises(IndexNotReady, match="cannot take other-model"):
        store.set_vectors([1], np.ones((1, 384), dtype=np.float32), "other-model")
    generation = store.load().generation
    result = kb.rebuild()  # re-chunks and re-embeds every stored document in one transaction
    assert result["documents"] == 1 and result["chunks"] == 1 and store.load().generation == generation + 1
    assert kb.search("flu vaccine", k=1, min_score=-1)[0].chunk.doc_id == "flu.txt"


def test_starter_build_lexical_first_then_vectors_resumed(
    kb_on, pg_db, state, tmp_path, monkeypatch, counting
):
    """The starter build on PostgreSQL: every chunk committed with a NULL vector (keyword search answers at
    once, hybrid embeds its best keyword rows at query time), then the vectors batch by batch; stopped
    after a batch, the next start resumes from the saved rows."""
    rows = []
    for line in gzip.open(REPO.parent / "shared" / "data" / "corpus" / "medquad_answered.jsonl.gz", "rt"):
        row = json.loads(line)
        if len(row["answer"]) < 900:
            rows.append(row)
        if len(rows) == 12:
            break
    data = tmp_path / "data" / "corpus"
    data.mkdir(parents=True)
    (data / "medquad_answered.jsonl.gz").write_bytes(gzip.compress("\n".join(map(json.dumps, rows)).encode()))
    monkeypatch.setenv("MEDGEMMA_DATA_DIR", str(tmp_path / "data"))
    kb = kb_on(pg_db, state)
    monkeypatch.setattr(dense, "FIRST_BATCH_CHUNKS", 4)

    def stop_after_first_batch(fraction, message):  # the app is stopped after one batch of vectors
        view = kb.store.load()
        if message.startswith("Keyword search") and view is not None and 0 < view.dense < view.count:
            raise KeyboardInterrupt("stopped")

    with pytest.raises(KeyboardInterrupt):
        kb.ensure_starter_index(stop_after_first_batch)
    partial = kb.store.load()
    [src] = partial.manifest["sources"].values()
    assert 0 < partial.dense < partial.count and src["complete"] and src["starter"]
    pending = kb.store.pending(1000)
    assert len(pending) == partial.count - partial.dense
    _, late = pending[-1]
    [hit] = kb.search(late.title, k=1, min_score=-1, mode="bm25")
    assert hit.chunk.doc_id == late.doc_id
    assert kb.search(late.title, k=1, min_score=-1, mode="hybrid")[0].dense is not None  # embedded now
    assert "Meaning search" in kb.coverage().line()
    before = len(counting)
    result = kb.ensure_starter_index()
    assert result["state"] == "ready" and "filled in" in result["message"]
    assert len(counting) - before == len(pending)  # the saved batches were kept
    assert kb.store.load().complete and kb.coverage().line() == ""
    assert kb.build_status()["state"] == "ready"
    generation = kb.store.load().generation
    assert kb.ensure_starter_index()["state"] == "ready" and kb.store.load().generation == generation


WRITER = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    sys.path.insert(0, {repo!r})
    from medgemma.knowledge.pg_store import PgStore
    from medgemma.knowledge.store import DocEntry
    from medgemma.types import Chunk
    url, tag, docs, chunks, hang = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"
    store = PgStore(url)
    rng = np.random.default_rng(abs(hash(tag)) % 1000)

    class Hanging(list):  # the input of the last commit: stops half-way through it, inside the transaction
        def __iter__(self):
            for i, c in enumerate(list.__iter__(self)):
                if i == len(self) // 2:
                    print("inside", flush=True)
                    time.sleep(120)
                yield c

    for d in range(docs):
        doc = f"{{tag}}-{{d}}"
        cs = [Chunk(f"{{doc}}-{{i}}", doc, f"{{tag}} passage {{i}} of document {{d}}", title=doc) for i in range(chunks)]
        last = hang and d == docs - 1
        if last:
            cs = Hanging(cs)
        vecs = rng.standard_normal((chunks, 384)).astype("float32")
        vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
        entry = DocEntry({{"doc_id": doc, "source_key": tag, "hash": doc}}, cs, vecs)
        with store.writing():
            store.commit(adds=[entry], removes=set(), sources={{tag: {{"complete": last is False}}}},
                         model="m", dimension=384)
        print("committed", doc, flush=True)
    """
).format(repo=str(REPO))


def writer(url: str, tag: str, docs: int, chunks: int, hang: bool = False) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, url, tag, str(docs), str(chunks), "1" if hang else "0"],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    )


def rows(url: str, sql: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql).fetchall()


def test_concurrent_writer_processes_both_land(pg_db):
    procs = [writer(pg_db, "a", 12, 5), writer(pg_db, "b", 12, 5)]
    for p in procs:
        out, _ = p.communicate(timeout=120)
        assert p.returncode == 0 and out.count("committed") == 12
    docs = {d for (d,) in rows(pg_db, "SELECT doc_id FROM kb_documents")}
    assert docs == {f"{t}-{d}" for t in "ab" for d in range(12)}
    assert rows(pg_db, "SELECT documents, chunks, dense, generation FROM kb_indexes") == [(24, 120, 120, 24)]
    assert rows(pg_db, "SELECT count(*) FROM kb_chunks") == [(120,)]
    assert set(PgStore(pg_db).load().manifest["sources"]) == {"a", "b"}


def test_a_writer_killed_mid_transaction_loses_nothing_committed(pg_db):
    p = writer(pg_db, "k", 3, 400, hang=True)
    seen = []
    for line in p.stdout:
        seen.append(line.strip())
        if line.strip() == "inside":
            break
    assert seen == ["committed k-0", "committed k-1", "inside"]
    os.kill(p.pid, signal.SIGKILL)
    p.wait(timeout=30)
    assert rows(pg_db, "SELECT doc_id FROM kb_documents ORDER BY doc_id") == [("k-0",), ("k-1",)]
    assert rows(pg_db, "SELECT count(*), count(DISTINCT doc_id) FROM kb_chunks") == [(800, 2)]
    assert rows(pg_db, "SELECT documents, chunks, generation FROM kb_indexes") == [(2, 800, 2)]
    # the dead writer's locks went with its connection: the next writer gets in at once
    store = PgStore(pg_db)
    chunk = Chunk("n-0", "n", "next writer", title="n")
    with store.writing():
        view = store.commit(
            adds=[DocEntry({"doc_id": "n"}, [chunk], np.ones((1, 384), dtype=np.float32) / np.sqrt(384))],
            removes=set(),
            sources={},
            model="m",
            dimension=384,
        )
    assert view.manifest["documents"] == 3 and view.count == 801
