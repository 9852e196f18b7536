"""Prompt layout, chat templates and history trimming."""

from __future__ import annotations

from medgemma.chat import prompts
from medgemma.types import Chunk, Hit


def _hit(i: int, text: str, title: str = "") -> Hit:
    return Hit(chunk=Chunk(chunk_id=f"c{i}", doc_id=f"d{i}", text=text, title=title or f"Doc {i}"), score=1.0)


def test_gemma_template_merges_system_and_ends_with_model_turn():
    text = prompts.render_gemma([{"role": "system", "content": "RULES"}, {"role": "user", "content": "Hi"}])
    assert text == "<start_of_turn>user\nRULES\n\nHi<end_of_turn>\n<start_of_turn>model\n"
    assert "<bos>" not in text


def test_chatml_template():
    text = prompts.render_chatml([{"role": "system", "content": "S"}, {"role": "user", "content": "U"}])
    assert text == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nU<|im_end|>\n<|im_start|>assistant\n"


def test_build_numbers_passages_and_asks_for_citations():
    p = prompts.build("What is gout?", [_hit(1, "Gout is arthritis.", "Gout"), _hit(2, "Uric acid.", "Uric")])
    user = p.messages[-1]["content"]
    assert "[1] Gout\nGout is arthritis." in user and "[2] Uric\nUric acid." in user
    assert "cite them as [n]" in user
    assert p.messages[0]["role"] == "system" and "never diagnose" in p.messages[0]["content"]


def test_history_trimmed_oldest_first_and_starts_with_user():
    history = []
    for i in range(10):
        history += [
            {"role": "user", "content": f"question {i} " + "x " * 200},
            {"role": "assistant", "content": f"answer {i} " + "y " * 200},
        ]
    p = prompts.build(
        "new question", [_hit(1, "text")], history, count_tokens=lambda s: len(s.split()), budget_tokens=1000
    )
    kept = p.messages[1:-1]
    assert p.dropped_turns > 0 and kept and kept[0]["role"] == "user"
    assert "question 9" in kept[-2]["content"]  # newest turns kept
    assert sum(len(m["content"].split()) for m in p.messages) <= 1000 + 200


def test_passage_text_is_truncated():
    long = "word " * 1000
    out = prompts.format_passages([_hit(1, long)], max_chars=100)
    assert len(out) < 150 and out.endswith("...")


def test_gemma_jinja_template_matches_python_renderer():
    from jinja2 import Environment

    msgs = [
        {"role": "system", "content": "RULES"},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello"},
        {"role": "user", "content": "Bye"},
    ]
    tmpl = Environment().from_string(prompts.GEMMA_JINJA)
    out = tmpl.render(messages=msgs, bos_token="<bos>", add_generation_prompt=True)
    assert out == "<bos>" + prompts.render_gemma(msgs)
