"""training/reference.py: the examples the shipped cited-answer adapter learns from (real MedQuAD rows)."""

from __future__ import annotations

import re

import pytest

from medgemma.chat.abstain import MODEL_ABSTAIN, declined
from medgemma.config import load_settings
from medgemma.errors import DatasetError
from medgemma.safety.guard import emergency_number
from medgemma.safety.responses import refusal_text
from medgemma.training.config import TrainConfig, validate
from medgemma.training.sources import is_heldout_medquad, load_source, medquad_records
from medgemma.types import Verdict

pytestmark = pytest.mark.skipif(load_settings().data_path is None, reason="needs ../shared/data (MedQuAD)")


def passages(example) -> list[str]:
    return re.findall(r"^\[(\d)\] ", example.messages[-1]["content"], re.M)


def test_hard_rag_examples_cite_the_gold_section_and_skip_boilerplate():
    settings = load_settings()
    records = {r["question"]: r for r in medquad_records(settings)}
    examples = load_source("medquad-rag-hard:40", settings, seed=3)
    assert len(examples) == 40
    for ex in examples:
        cited = set(re.findall(r"\[(\d)\]", ex.answer))
        assert len(cited) == 1 and cited <= set(passages(ex))
        assert "these resources" not in ex.answer.lower() and "human phenotype" not in ex.answer.lower()
        question = ex.messages[-1]["content"].split("Question: ")[-1].split("\n")[0].strip()
        assert not is_heldout_medquad(records[question]["url"])


def test_unanswerable_examples_say_so_in_the_pipelines_words():
    examples = load_source("medquad-unanswerable:20", load_settings(), seed=1)
    assert {ex.answer for ex in examples} == {MODEL_ABSTAIN}
    assert all(len(passages(ex)) == 3 for ex in examples)
    assert declined(MODEL_ABSTAIN) == "abstain"


def test_personal_questions_get_the_general_cited_answer():
    examples = load_source("personal-rag:20", load_settings(), seed=2)
    for ex in examples:
        question = ex.messages[-1]["content"].split("Question: ")[-1]
        assert re.search(r"\b(I|my|My)\b", question)
        assert re.search(r"\[\d\]", ex.answer) and not re.search(r"\byou should\b", ex.answer, re.I)


def test_harmful_requests_get_the_guards_refusal_word_for_word():
    settings = load_settings()
    examples = load_source("guard-refusals:10", settings, seed=0)
    want = refusal_text(Verdict("harmful"), emergency_number(settings))
    assert {ex.answer for ex in examples} == {want} and declined(want) == "refuse"


def test_optional_source_is_skipped_when_empty_and_required_one_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("MEDGEMMA_HOME", str(tmp_path))
    settings = load_settings()
    assert load_source("feedback?", settings) == []
    with pytest.raises(DatasetError, match="thumbs-up"):
        load_source("feedback", settings)
    validate(TrainConfig(data=["feedback?", "medquad-rag-hard:5"]))  # an optional name is a valid entry
