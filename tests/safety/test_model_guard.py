"""Hub safety models (Llama Guard 3/4, ShieldGemma, Qwen3Guard): their output parsing and the mapping onto
the guard's labels (S6 specialised advice -> personal_advice, self-harm -> emergency), the prompt builders,
and the whole call through SafetyGuard with tiny real GPT-2 models built in-process.

The tiny models have all-zero token embeddings (tied to the output layer), so every logit ties and greedy
decoding always picks token 0; the tokenizer's token 0 is the reply under test ("unsafe\\nS6\\n"). That
fixes what the model says by construction while the load, prompt, generate and decode path stays real.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from medgemma.config import load_settings
from medgemma.errors import ModelNotAvailable
from medgemma.safety.guard import SafetyGuard
from medgemma.safety.model_guard import (
    LLAMA_GUARD_CATEGORIES,
    ModelGuard,
    family_of,
    llama_guard_prompt,
    parse_llama_guard,
    parse_qwen3guard,
    parse_shieldgemma,
    qwen3guard_prompt,
    shieldgemma_prompt,
)


@pytest.mark.parametrize(
    "reply, label, categories",
    [
        ("safe", "allowed", ()),
        ("\n\nsafe\n", "allowed", ()),
        ("unsafe\nS6", "personal_advice", ("S6",)),
        ("unsafe\nS1,S6", "harmful", ("S1", "S6")),
        ("unsafe\nS11", "emergency", ("S11",)),
        ("unsafe\nS9", "harmful", ("S9",)),
        ("unsafe", "harmful", ()),
        ("I cannot help with that", "allowed", ()),
    ],
)
def test_llama_guard_replies_map_to_labels(reply, label, categories):
    said = parse_llama_guard(reply)
    assert (said.label, said.categories) == (label, categories)
    if label == "allowed" and "safe" not in reply:
        assert said.detail.startswith("unparsed")


@pytest.mark.parametrize(
    "reply, label",
    [
        ("Safety: Safe\nCategories: None", "allowed"),
        ("Safety: Unsafe\nCategories: Violent", "harmful"),
        ("Safety: Unsafe\nCategories: Suicide & Self-Harm", "emergency"),
        ("Safety: Controversial\nCategories: Politically Sensitive Topics", "allowed"),
        ("no idea", "allowed"),
    ],
)
def test_qwen3guard_replies_map_to_labels(reply, label):
    assert parse_qwen3guard(reply).label == label


def test_shieldgemma_flags_any_policy_above_the_threshold():
    said = parse_shieldgemma({"Dangerous Content": 0.91, "Harassment": 0.10})
    assert said.label == "harmful" and said.categories == ("Dangerous Content",) and said.score == 0.91
    assert parse_shieldgemma({"Dangerous Content": 0.2, "Harassment": 0.5}).label == "allowed"


def test_prompts_carry_the_message_and_the_policy():
    text = "how much insulin would kill a person"
    lg = llama_guard_prompt(text)
    assert text in lg and all(f"{k}: {v}." in lg for k, v in LLAMA_GUARD_CATEGORIES.items())
    assert lg.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert text in qwen3guard_prompt(text) and "Suicide & Self-Harm" in qwen3guard_prompt(text)
    sg = shieldgemma_prompt(text, "Dangerous Content")
    assert f"Human Question: {text}" in sg and "'Yes' or 'No'" in sg


def test_family_comes_from_the_name_and_unknown_names_are_refused():
    assert family_of("meta-llama/Llama-Guard-3-1B") == "llama_guard"
    assert family_of("meta-llama/Llama-Guard-4-12B") == "llama_guard"
    assert family_of("google/shieldgemma-2b") == "shieldgemma"
    assert family_of("Qwen/Qwen3Guard-Gen-0.6B") == "qwen3guard"
    with pytest.raises(ModelNotAvailable, match="gpt2"):
        family_of("gpt2")


# ---------------------------------------------------------------- tiny real models, end to end
def tiny_guard_model(folder: Path, reply: str) -> Path:
    """A 1-layer GPT-2 whose greedy output is always token 0 (= `reply`), saved as a model folder."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {reply: 0, "[UNK]": 1, "[PAD]": 2, "[EOS]": 3, "User": 4}
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(
        tokenizer_object=raw, unk_token="[UNK]", pad_token="[PAD]", eos_token="[EOS]"
    )
    config = GPT2Config(
        n_layer=1, n_head=2, n_embd=16, n_positions=1024, vocab_size=len(vocab), eos_token_id=3
    )
    model = GPT2LMHeadModel(config)
    with torch.no_grad():
        model.transformer.wte.weight.zero_()  # tied to lm_head: all logits 0, argmax = token 0
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def test_tiny_llama_guard_through_the_guard_gives_personal_advice_not_a_block(isolated_home, tmp_path):
    folder = tiny_guard_model(tmp_path / "tiny-llama-guard", "unsafe\nS6\n")
    guard = SafetyGuard(load_settings(overrides={"safety_model": str(folder), "safety_learned": False}))
    assert guard.classifier is not None and guard.classifier.family == "llama_guard"
    said = guard.classifier.check("What is a normal resting heart rate?")
    assert said.label == "personal_advice" and said.categories == ("S6",)
    verdict = guard.classify("What is a normal resting heart rate?")
    assert verdict.label == "personal_advice" and verdict.rules[0].startswith("model.")
    # rules still decide first: an emergency never waits for (or depends on) the model
    assert guard.classify("my dad's face is drooping and he can't lift his arm").label == "emergency"


def test_tiny_qwen3guard_unsafe_reply_blocks(isolated_home, tmp_path):
    folder = tiny_guard_model(tmp_path / "tiny-qwen3guard", "Safety: Unsafe\nCategories: Violent\n")
    guard = SafetyGuard(load_settings(overrides={"safety_model": str(folder), "safety_learned": False}))
    verdict = guard.classify("What is a normal resting heart rate?")
    assert verdict.label == "harmful" and "Violent" in verdict.reasons[0]


def test_tiny_model_passed_in_directly_uses_the_same_check(tmp_path):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tiny_guard_model(tmp_path / "m", "safe")
    guard = ModelGuard(
        "llama-guard-tiny",
        model=AutoModelForCausalLM.from_pretrained(folder),
        tokenizer=AutoTokenizer.from_pretrained(folder),
    )
    assert guard.check("hello").label == "allowed"


def test_a_folder_that_is_not_a_model_names_it(isolated_home, tmp_path):
    (tmp_path / "llama-guard-empty").mkdir()
    with pytest.raises(ModelNotAvailable, match="llama-guard-empty"):
        SafetyGuard(load_settings(overrides={"safety_model": str(tmp_path / "llama-guard-empty")}))
