"""Generation backends: transformers on the tiny in-process Gemma3, llama.cpp and transformers on the
real packaged Gemma 3 270M (slow), stop strings, stop events and timing stats."""

from __future__ import annotations

import threading

import pytest

from medgemma.config import load_settings
from medgemma.errors import InputRejected, ModelNotAvailable
from medgemma.models.backends import TransformersBackend, choose_backend, gguf_lora_of, load_backend
from medgemma.models.presets import PRESETS, resolve_model
from medgemma.models.streaming import until_stop_strings
from medgemma.types import GenerationParams, GenerationStats


def test_until_stop_strings_cuts_across_pieces():
    pieces = ["Hello wor", "ld<end_of", "_turn> ignored"]
    assert "".join(until_stop_strings(iter(pieces), ["<end_of_turn>"])) == "Hello world"
    assert "".join(until_stop_strings(iter(["a", "b"]), [])) == "ab"
    assert "".join(until_stop_strings(iter(["ab", "c\n", "\nd"]), ["\n\n"])) == "abc"


def test_resolve_model_kinds(tmp_path):
    assert resolve_model("gemma-3-270m") is PRESETS["gemma-3-270m"]
    hub = resolve_model("google/medgemma-4b-it")
    assert hub.source == "hub" and hub.location == "google/medgemma-4b-it"
    assert resolve_model(str(tmp_path)).source == "local"
    with pytest.raises(ModelNotAvailable, match="GGUF file not found"):
        resolve_model(str(tmp_path / "missing.gguf"))
    with pytest.raises(ModelNotAvailable, match="Unknown model"):
        resolve_model("not a model")


def test_backend_choice():
    s = load_settings()
    assert choose_backend(PRESETS["gemma-3-270m"], s) == "llamacpp"  # CPU here
    assert choose_backend(PRESETS["gemma-3-270m"], s, adapter="/runs/x/adapter") == "transformers"
    assert choose_backend(PRESETS["medgemma-4b-it"], s) == "transformers"
    assert choose_backend(PRESETS["gemma-3-270m"], load_settings(overrides={"backend": "openai"})) == "openai"


def test_an_adapter_with_its_gguf_lora_chats_through_llama_cpp(tmp_path):
    """After a gguf-lora export, adapter.gguf sits in the PEFT folder: the CPU chat then uses llama.cpp."""
    s = load_settings()
    (tmp_path / "adapter_config.json").write_text("{}")
    assert choose_backend(PRESETS["gemma-3-270m"], s, adapter=str(tmp_path)) == "transformers"
    (tmp_path / "adapter.gguf").write_bytes(b"GGUF")
    assert choose_backend(PRESETS["gemma-3-270m"], s, adapter=str(tmp_path)) == "llamacpp"
    assert gguf_lora_of(str(tmp_path)) == str(tmp_path / "adapter.gguf")
    assert (
        choose_backend(
            PRESETS["gemma-3-270m"],
            load_settings(overrides={"backend": "transformers"}),
            adapter=str(tmp_path),
        )
        == "transformers"
    )  # an explicit backend still wins


def test_llamacpp_refuses_peft_adapter(tmp_path):
    (tmp_path / "adapter_config.json").write_text("{}")
    with pytest.raises(ModelNotAvailable, match="GGUF LoRA"):
        load_backend(load_settings(overrides={"backend": "llamacpp"}), adapter=str(tmp_path))
    with pytest.raises(InputRejected, match="No adapter named 'no-such-run'"):  # named before any model loads
        load_backend(load_settings(overrides={"backend": "llamacpp"}), adapter="no-such-run")


def test_transformers_backend_streams_tiny_gemma(tiny_gemma_dir):
    s = load_settings()
    spec = resolve_model(str(tiny_gemma_dir))
    backend = TransformersBackend(spec, str(tiny_gemma_dir), s)
    stats = GenerationStats()
    pieces = list(backend.stream("Diabetes is", GenerationParams(max_new_tokens=12, temperature=0.0), stats))
    assert stats.tokens >= 1 and stats.tokens <= 12
    assert stats.prompt_tokens >= 2 and stats.ttft_s > 0 and stats.total_s >= stats.ttft_s
    # greedy decoding is deterministic and equals plain model.generate
    import torch

    ids = backend.tokenizer("Diabetes is", return_tensors="pt")
    with torch.inference_mode():
        out = backend.model.generate(
            **ids,
            max_new_tokens=12,
            do_sample=False,
            eos_token_id=backend._stop_ids(),
            repetition_penalty=1.1,
        )
    expected = backend.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True)
    assert "".join(pieces).strip() == expected.strip()


def test_transformers_stop_event_halts_generation(tiny_gemma_dir):
    backend = TransformersBackend(resolve_model(str(tiny_gemma_dir)), str(tiny_gemma_dir), load_settings())
    stop = threading.Event()
    stats = GenerationStats()
    params = GenerationParams(max_new_tokens=200, temperature=0.0, repetition_penalty=1.0)
    got = []
    for piece in backend.stream("Asthma", params, stats, stop):
        got.append(piece)
        stop.set()
    assert stats.tokens < 200


@pytest.mark.slow
def test_llamacpp_streams_packaged_gemma():
    s = load_settings(overrides={"max_new_tokens": 16})
    backend = load_backend(s)
    assert backend.name == "llamacpp" and backend.spec.name == "gemma-3-270m"
    text = backend.render([{"role": "user", "content": "What is asthma?"}])
    assert text.endswith("<start_of_turn>model\n")
    stats = GenerationStats()
    out = "".join(
        backend.stream(
            "Asthma is a disease of the", GenerationParams(max_new_tokens=16, temperature=0.0), stats
        )
    )
    assert out.strip() and stats.tokens > 0 and stats.tok_per_s > 0
    assert "<end_of_turn>" not in out
