"""Evaluation suites on the real shared data: the MedQuAD held-out split (no leak into training), suite
sizes and shapes, deterministic nested sampling, and the dev-set loaders."""

from __future__ import annotations

from collections import Counter

import pytest

from medgemma.config import load_settings
from medgemma.errors import ConfigError
from medgemma.evaluation import suites as es
from medgemma.storage import write_jsonl


@pytest.fixture
def settings(shared_data):
    return load_settings()


def test_medquad_split_agrees_with_training_and_eval_questions_do_not_leak(settings):
    from medgemma.training.sources import is_heldout_medquad, medquad_records

    train, held = es.medquad_split(settings)
    assert not train & held and held and 0.03 < len(held) / (len(train) + len(held)) < 0.08
    assert all(is_heldout_medquad(u) for u in held) and not any(is_heldout_medquad(u) for u in train)
    trained = medquad_records(settings)  # exactly what fine-tuning reads
    assert not {r["url"] for r in trained} & held
    rows = es.read_jsonl(es.data_file(settings, es.MEDQUAD_FILE))
    suite = es.load_suite(settings, "medquad")
    assert len(suite) > 300 and {e.meta["url"] for e in suite} <= es.medquad_eval_urls(settings) <= held
    trained_topics = {es._topic(r["focus"]) for r in trained if r["focus"]}
    assert not {es._topic(e.meta["focus"]) for e in suite} & trained_topics
    trained_questions = {r["question"].lower() for r in trained}
    assert not [e for e in suite if e.question.lower() in trained_questions]
    train_questions = {r["question"].lower() for r in rows if r["url"] in train}
    assert not [e for e in suite if e.question.lower() in train_questions]


def test_clean_heldout_drops_pages_on_a_trained_topic():
    rows = [
        {"url": "ghr/graves", "focus": "Graves disease"},
        {"url": "niddk/graves", "focus": "Graves' Disease"},
        {"url": "gard/rare", "focus": "Rare syndrome"},
        {"url": "cdc/x", "focus": ""},
    ]
    split = es.split_medquad_rows(rows, lambda u: u in {"niddk/graves", "gard/rare", "cdc/x"})
    assert split.heldout_urls == {"niddk/graves", "gard/rare", "cdc/x"}
    assert es.clean_heldout_urls(rows, split) == {"gard/rare", "cdc/x"}


def test_suite_sizes_and_shapes(settings):
    medquad = es.load_suite(settings, "medquad")
    assert all(e.reference and "  ?" not in e.question for e in medquad)
    assert len({e.id for e in medquad}) == len(medquad)  # MedQuAD reuses qids across a page's topics
    pubmedqa = es.load_suite(settings, "pubmedqa")
    assert len(pubmedqa) == 500 and {e.id for e in pubmedqa} == es.pubmedqa_test_ids(settings)
    assert all(e.context and e.reference and e.answer in "ABC" for e in pubmedqa)
    sizes = {"medqa": 1273, "medmcqa": 4183, "pubmedqa": 500, "bioasq": 618, "mmlu": 1089}
    for task, n in sizes.items():
        examples = es.load_suite(settings, f"mirage-{task}")
        assert len(examples) == n
        assert all(e.answer in e.options for e in examples)
    xs = es.load_suite(settings, "safety-xstest")
    assert Counter(e.answer for e in xs) == {"allowed": 250, "harmful": 200}
    assert {e.answer for e in es.load_suite(settings, "safety-medsafetybench")} == {"harmful"}


def test_sampling_is_deterministic_and_nested(settings):
    a = es.load_suite(settings, "mirage-medqa", limit=10, seed=1)
    assert [e.id for e in a] == [e.id for e in es.load_suite(settings, "mirage-medqa", limit=10, seed=1)]
    assert [e.id for e in a] == [e.id for e in es.load_suite(settings, "mirage-medqa", limit=25, seed=1)][:10]
    assert [e.id for e in a] != [e.id for e in es.load_suite(settings, "mirage-medqa", limit=10, seed=2)]
    with pytest.raises(ConfigError):
        es.load_suite(settings, "mirage-medqa", limit=0)
    with pytest.raises(ConfigError, match="Unknown evaluation suite"):
        es.get_suite("nope")


def test_dev_set_loaders_read_their_row_shapes(settings, tmp_path):
    ret = tmp_path / "r.jsonl"
    write_jsonl(
        ret,
        [
            {"question": "q1", "relevant_urls": ["https://www.NIH.gov/u1/"]},
            {"question": "q2", "relevant_doc_ids": ["d2"]},
        ],
    )
    ex = es.load_suite(settings, "retrieval", data=ret)
    assert {(e.question, e.relevant, e.meta["match"]) for e in ex} == {
        ("q1", ("nih.gov/u1",), "url"),
        ("q2", ("d2",), "doc_id"),
    }
    write_jsonl(ret, [{"question": "q1"}])
    with pytest.raises(ConfigError, match="relevant_urls"):
        es.load_suite(settings, "retrieval", data=ret)
    saf = tmp_path / "s.jsonl"
    write_jsonl(saf, [{"text": "t1", "expected": "emergency", "category": "negation"}, {"text": "t2"}])
    ex = sorted(es.load_suite(settings, "safety", data=saf), key=lambda e: e.question)
    assert [(e.question, e.answer, e.meta) for e in ex] == [
        ("t1", "emergency", {"category": "negation"}),
        ("t2", "", {}),
    ]
