"""chat.claims: a passage must state a sentence's numbers, polarity, named terms and population; a sentence
that restates the question is no answer. Verifier uses it, so a near-copy with one fact changed is dropped."""

from __future__ import annotations

import pytest

from medgemma.chat.citations import Verifier
from medgemma.chat.claims import mismatches, restates
from medgemma.types import Chunk, Hit

PASSAGE = (
    "Shingles vaccine is recommended for adults 50 years and older. Gout is a form of arthritis caused by "
    "too much uric acid in the blood. Gout is not contagious. It is often treated with colchicine."
)


@pytest.mark.parametrize(
    ("claim", "reason"),
    [
        (
            "Shingles vaccine should be given to all children 10 years and older.",
            "number not in the passage: 10",
        ),
        (
            "Shingles vaccine should be given to all children 10 years and older.",
            "population not in the passage",
        ),
        (
            "Shingles vaccine is recommended for adults sixty years and older.",
            "number not in the passage: 60",
        ),
        ("Gout is contagious.", "negation differs"),
        (
            "Lupus is a form of arthritis caused by too much uric acid in the blood.",
            "term not in the passage: lupus",
        ),
        ("Gout is often treated with allopurinol.", "term not in the passage: allopurinol"),
        ("Shingles vaccine is recommended for pregnant women.", "population not in the passage"),
    ],
)
def test_a_changed_fact_is_named(claim, reason):
    assert any(reason in why for why in mismatches(claim, PASSAGE)), mismatches(claim, PASSAGE)


@pytest.mark.parametrize(
    "claim",
    [
        "Gout is caused by too much uric acid in the blood.",
        "Gout is not contagious.",
        "Shingles vaccine is recommended for adults 50 years and older.",
        "Gout is often treated with colchicine.",
        "Gout cannot be spread to others, since it isn't contagious.",  # same polarity, other words
    ],
)
def test_what_the_passage_says_passes(claim):
    assert mismatches(claim, PASSAGE) == []


def test_restating_the_question_is_not_an_answer():
    assert restates("You have pain in your big toe.", "I have pain in my big toe, is it gout?")
    assert restates("What are the symptoms of gout?", "What are the symptoms of gout?")
    assert not restates("Gout often starts with pain in the big toe.", "What are the symptoms of gout?")
    assert not restates("Anything at all.", "")


def test_the_verifier_drops_a_near_copy_with_a_wrong_age_and_says_why():
    verifier = Verifier([Hit(Chunk("c1", "d1", PASSAGE, title="Shingles"), 1.0)], embed=None)
    wrong, _ = verifier.check("Shingles vaccine is recommended for children 10 years and older. [1]")
    right, _ = verifier.check("Shingles vaccine is recommended for adults 50 years and older. [1]")
    assert not wrong.supported and any("10" in why for why in wrong.why)
    assert right.supported and right.why == ()
    echo = Verifier(
        [Hit(Chunk("c1", "d1", "My toe hurts a lot at night.", title="x"), 1.0)],
        question="my toe hurts a lot at night",
    )
    check, _ = echo.check("Your toe hurts a lot at night. [1]")
    assert not check.supported and check.why == ("it restates the question",)
