"""Fine-tuning datasets (training/datasets.py) and built-in medical sources (training/sources.py)."""

from __future__ import annotations

import json
import re

import pytest

from medgemma.chat.prompts import SYSTEM_PROMPT, render_gemma
from medgemma.config import load_settings
from medgemma.errors import DatasetError
from medgemma.storage import append_jsonl
from medgemma.training import datasets, sources
from medgemma.training.datasets import Example


def _gemma(messages, gen):
    return render_gemma(messages, add_generation_prompt=gen)


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_question_answer_detected(tmp_path):
    f = _write(
        tmp_path / "qa.csv", "Question,Answer\nWhat is asthma?,A lung disease.\nWhat is flu?,A virus.\n"
    )
    examples = datasets.load_file(f)
    assert [e.answer for e in examples] == ["A lung disease.", "A virus."]
    assert examples[0].question == "What is asthma?"
    assert examples[0].messages[0] == {"role": "system", "content": SYSTEM_PROMPT}


def test_jsonl_instruction_input_output(tmp_path):
    rows = [{"instruction": "Summarize", "input": "Asthma narrows airways.", "output": "Airways narrow."}]
    f = _write(tmp_path / "d.jsonl", "\n".join(json.dumps(r) for r in rows))
    (e,) = datasets.load_file(f)
    assert e.question == "Summarize\n\nAsthma narrows airways."
    assert e.answer == "Airways narrow."


def test_json_chat_messages_last_assistant_is_the_answer(tmp_path):
    conv = [
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "What is flu?"},
                {"role": "assistant", "content": "A virus."},
            ]
        }
    ]
    f = _write(tmp_path / "chat.json", json.dumps({"data": conv}))
    (e,) = datasets.load_file(f)
    assert e.answer == "A virus."
    assert [m["role"] for m in e.messages] == ["user", "assistant", "user"]


def test_explicit_mapping_wins(tmp_path):
    f = _write(tmp_path / "m.csv", "Q,A,question\nWhat is flu?,A virus.,ignored\n")
    (e,) = datasets.load_file(f, mapping={"question": "Q", "answer": "A"})
    assert (e.question, e.answer) == ("What is flu?", "A virus.")


def test_missing_columns_error_names_what_exists(tmp_path):
    f = _write(tmp_path / "bad.csv", "title,body\nx,y\n")
    with pytest.raises(DatasetError, match=r"question/answer.*title, body"):
        datasets.load_file(f)
    with pytest.raises(DatasetError, match=r"'nope' not found"):
        datasets.load_file(f, mapping={"question": "nope", "answer": "body"})


def test_empty_rows_are_named_or_skipped(tmp_path):
    f = _write(tmp_path / "e.csv", "question,answer\nWhat is flu?,A virus.\n,orphan answer\nWhat is X?,\n")
    with pytest.raises(DatasetError, match=r"2 of 3 rows.*row 2: empty question.*row 3: empty answer"):
        datasets.load_file(f)
    assert len(datasets.load_file(f, skip_invalid=True)) == 1


def test_unreadable_files_fail_clearly(tmp_path):
    with pytest.raises(DatasetError, match="not found"):
        datasets.read_rows(tmp_path / "missing.csv")
    with pytest.raises(DatasetError, match=r"\.json, \.jsonl or \.csv"):
        datasets.read_rows(_write(tmp_path / "d.txt", "x"))
    with pytest.raises(DatasetError, match="line 2: not valid JSON"):
        datasets.read_rows(_write(tmp_path / "d.jsonl", '{"a": 1}\n{oops\n'))
    with pytest.raises(DatasetError, match="no rows"):
        datasets.read_rows(_write(tmp_path / "d.csv", "question,answer\n"))


def test_split_render_matches_the_chat_prompt():
    e = Example(tuple([{"role": "system", "content": "Rules."}, {"role": "user", "content": "Q?"}]), "A.")
    prompt, completion = datasets.split_render(e, _gemma)
    assert prompt == render_gemma(list(e.messages))  # exactly what the chat sends at inference
    assert prompt.endswith("<start_of_turn>model\n")
    assert completion == "A.<end_of_turn>\n"


def test_token_stats_and_long_example_policies():
    examples = [Example(({"role": "user", "content": "q"},), "word " * n) for n in (5, 50, 500)]
    count = lambda text: len(text.split())  # noqa: E731 - a whitespace tokenizer is enough here
    stats = datasets.token_stats(examples, _gemma, count, max_length=100)
    assert stats["examples"] == 3 and stats["over_limit"] == 1 and stats["over_limit_rows"] == [3]
    assert stats["max"] > 500 > stats["p50"]
    with pytest.raises(DatasetError, match=r"1 example\(s\) are longer than max_length=100 tokens \(rows 3"):
        datasets.check_lengths(examples, stats["lengths"], 100, "error")
    assert len(datasets.check_lengths(examples, stats["lengths"], 100, "drop")) == 2
    assert len(datasets.check_lengths(examples, stats["lengths"], 100, "truncate")) == 3


def test_preview_reports_format_sample_and_problems(tmp_path):
    f = _write(tmp_path / "p.csv", "question,answer\nWhat is flu?,A virus.\n,\n")
    p = datasets.preview(f)
    assert (p["format"], p["rows"], p["usable"]) == ("qa", 2, 1)
    assert p["sample"] == [{"question": "What is flu?", "answer": "A virus."}]
    assert p["problems"] == ["row 2: empty question"]


def test_parse_spec_and_cite():
    assert sources.parse_spec("medquad-rag:200") == ("medquad-rag", 200)
    assert sources.parse_spec("/data/my.csv") == ("/data/my.csv", 0)
    assert sources.cite("Flu is a virus. It spreads fast!", 2) == "Flu is a virus [2]. It spreads fast [2]!"


def test_medquad_rag_cites_the_gold_passage_and_skips_heldout_pages(shared_data):
    settings = load_settings()
    examples = sources.load_source("medquad-rag:50", settings, seed=1)
    assert len(examples) == 50
    for e in examples:
        user = e.messages[-1]["content"]
        assert user.count("\n[") + user.startswith("[") >= 2  # gold + distractors, numbered
        cited = set(re.findall(r"\[(\d)\]", e.answer))
        assert len(cited) == 1
        n = int(cited.pop())
        gold_block = user.split(f"[{n}] ", 1)[1]
        first_sentence = e.answer.split(f" [{n}]")[0]
        assert first_sentence[:40] in gold_block  # the answer is taken from the cited passage
    heldout = sources.medquad_records(settings, heldout=True)
    train_urls = {r["url"] for r in sources.medquad_records(settings)}
    assert heldout and not train_urls & {r["url"] for r in heldout}


def test_pubmedqa_never_uses_test_ids(shared_data):
    settings = load_settings()
    test_ids = set(json.loads((shared_data / "benchmarks" / "test_ground_truth.json").read_text()))
    train_ids = sources.pubmedqa_train_ids(settings)
    assert len(train_ids) == 500 and not test_ids & set(train_ids)
    examples = sources.load_source("pubmedqa", settings)
    urls = {m for e in examples for m in re.findall(r"PubMed (\d+)", e.messages[-1]["content"])}
    assert urls and not urls & test_ids
    assert all(e.answer.split(".")[0] in {"Yes", "No", "Maybe"} for e in examples)


def test_medsafetybench_safe_responses(shared_data):
    examples = sources.load_source("medsafetybench:20", load_settings())
    assert len(examples) == 20 and all(e.answer and e.question for e in examples)


def test_feedback_uses_only_thumbs_up():
    settings = load_settings()
    path = settings.path("feedback", "feedback.jsonl")
    append_jsonl(
        path,
        {
            "question": "What is flu?",
            "answer": "A virus [1].",
            "rating": "up",
            "comment": "",
            "passages": [{"title": "Flu", "text": "Influenza is a virus.", "url": "https://x"}],
        },
    )
    append_jsonl(path, {"question": "Bad?", "answer": "Wrong.", "rating": "down", "comment": "wrong"})
    append_jsonl(path, {"question": "What is asthma?", "answer": "A lung disease [2].", "rating": "up"})
    examples = sources.load_source("feedback", settings)
    assert [e.answer for e in examples] == ["A virus [1].", "A lung disease."]  # no passages: no markers
    assert "[1] Flu\nInfluenza is a virus." in examples[0].messages[-1]["content"]


def test_feedback_without_good_answers_is_a_clear_error():
    with pytest.raises(DatasetError, match="'feedback' produced no examples"):
        sources.load_source("feedback", load_settings())


def test_store_upload_checks_the_upload_cap_then_the_rows(tmp_path):
    settings = load_settings(overrides={"max_upload_mb": 1})
    good = _write(tmp_path / "qa.csv", "question,answer\nWhat is flu?,A virus.\n")
    stored = datasets.store_upload(settings, good, "My QA.csv")
    assert stored == settings.path("datasets", "My-QA.csv") and stored.read_text() == good.read_text()
    big = _write(tmp_path / "big.csv", "question,answer\n" + "What is flu?,A virus.\n" * 60_000)
    with pytest.raises(DatasetError, match=r"Dataset big\.csv: too large \(1\.3 MB; the limit is 1 MB\)"):
        datasets.store_upload(settings, big)
    with pytest.raises(DatasetError, match=r"Dataset empty\.jsonl: the file is empty"):
        datasets.store_upload(settings, _write(tmp_path / "empty.jsonl", ""))
    with pytest.raises(DatasetError, match=r"\.json, \.jsonl or \.csv"):
        datasets.store_upload(settings, _write(tmp_path / "notes.txt", "words"))
