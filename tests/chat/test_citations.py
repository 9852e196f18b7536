"""Citation parsing, verification and the extractive fallback (lexical and with the real embedder)."""

from __future__ import annotations

import pytest

from medgemma.chat import citations
from medgemma.types import Chunk, Hit

GOUT = (
    "Gout is a form of arthritis caused by too much uric acid in the blood. It causes sudden, severe "
    "pain and swelling in the joints, often in the big toe. Attacks can be treated with medicines "
    "that reduce pain and inflammation."
)
ANEMIA = (
    "Anemia is a condition in which the blood has fewer healthy red blood cells than normal. "
    "Iron deficiency is the most common cause of anemia. Symptoms include tiredness and pale skin."
)


def hits() -> list[Hit]:
    return [
        Hit(Chunk("c1", "d1", GOUT, title="Gout", url="https://medlineplus.gov/gout.html"), 0.9),
        Hit(Chunk("c2", "d2", ANEMIA, title="Anemia", url="https://medlineplus.gov/anemia.html"), 0.8),
    ]


def test_split_sentences_keeps_markers():
    s = citations.split_sentences("Gout hurts. [1] It affects the toe [1][2]. Anemia is common.")
    assert s == ["Gout hurts. [1]", "It affects the toe [1][2].", "Anemia is common."]


@pytest.mark.parametrize(
    "text,expected",
    [
        ("a [1]", [1]),
        ("a [1, 2]", [1, 2]),
        ("a [2-4]", [2, 3, 4]),
        ("a [1][3]", [1, 3]),
        ("none", []),
    ],
)
def test_markers(text, expected):
    assert citations.markers_in(text) == expected


def test_invalid_markers_dropped_and_valid_kept():
    v = citations.verify("Gout is caused by too much uric acid in the blood [1][7].", hits())
    assert v.dropped_markers == [7]
    assert v.sentences[0].cited == [1] and v.sentences[0].supported


def test_uncited_supported_sentence_gets_best_passage_attached():
    v = citations.verify("Iron deficiency is the most common cause of anemia.", hits())
    s = v.sentences[0]
    assert s.cited == [2] and s.attached and s.supported


def test_unsupported_sentence_is_flagged():
    v = citations.verify("The moon landing happened in 1969 with astronauts aboard Apollo.", hits())
    assert not v.sentences[0].supported and v.sentences[0].cited == []
    assert v.support == 0.0
    assert "(unsupported)" in v.render()


def test_wrong_citation_is_corrected_to_the_supporting_passage():
    v = citations.verify("Iron deficiency is the most common cause of anemia [1].", hits())
    assert v.sentences[0].cited == [2]


def test_extractive_answer_quotes_passages_with_markers():
    text = citations.extractive_answer("What causes anemia?", hits())
    assert "[2]" in text and "anemia" in text.lower()
    v = citations.verify(text, hits())
    assert v.support == 1.0


@pytest.mark.slow
def test_verification_with_real_embedder(tmp_path):
    from medgemma.knowledge.embeddings import Embedder

    emb = Embedder("all-MiniLM-L6-v2", tmp_path)
    v = citations.verify(
        "People with anemia may have pale skin and feel tired. Paris is in France. "
        "Gout is an infection of the lungs.",
        hits(),
        embed=emb.encode,
    )
    assert v.sentences[0].supported and v.sentences[0].cited == [2]
    assert not v.sentences[1].supported  # off topic
    assert not v.sentences[2].supported  # on topic, but claims the passages do not make
    assert abs(v.support - 1 / 3) < 1e-6


def test_a_list_lead_in_cut_off_by_the_stop_is_dropped():
    from medgemma.chat.citations import drop_dangling_lead_in

    draft = (
        "Gout is a form of arthritis that causes sudden pain in the big toe. [3] The symptoms include: [3]"
    )
    assert (
        drop_dangling_lead_in(draft)
        == "Gout is a form of arthritis that causes sudden pain in the big toe. [3]"
    )
    assert (
        drop_dangling_lead_in("Gout hurts. [1] It is treatable. [2]")
        == "Gout hurts. [1] It is treatable. [2]"
    )
    assert drop_dangling_lead_in("The symptoms include:") == "The symptoms include:"  # nothing else to keep
