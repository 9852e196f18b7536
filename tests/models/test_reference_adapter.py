"""The shipped reference adapter as the chat's default: where it is found, when it is left out, and how
the base model stays one setting away."""

from __future__ import annotations

import json
import logging

import pytest

from medgemma.config import load_settings
from medgemma.models import adapters
from medgemma.models.adapters import REFERENCE_DIR, fits, list_adapters, reference, resolve
from medgemma.models.backends import choose_backend, gguf_lora_of
from medgemma.models.presets import PRESETS


def fake_reference(folder):
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    (folder / "adapter.gguf").write_bytes(b"GGUF")
    (folder / adapters.MANIFEST).write_text(json.dumps({"name": "reference", "base_model": "gemma-3-270m"}))
    return folder


def test_the_reference_is_the_default_and_none_means_the_base_model():
    settings = load_settings()
    assert settings.adapter == "reference"  # the default since its answers table (README, MODEL_CARD.md)
    for value in ("none", "None", "base", ""):
        assert resolve(settings, value) == ""
        assert adapters.active(load_settings(overrides={"adapter": value})) is None


def test_a_missing_reference_is_logged_and_the_base_model_answers(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(adapters, "REFERENCE_DIR", tmp_path / "absent")
    with caplog.at_level(logging.WARNING):
        assert resolve(load_settings(), "reference") == ""
    assert "reference adapter is missing" in caplog.text
    assert reference() is None and all(a.name != "reference" for a in list_adapters(load_settings()))


def test_a_present_reference_is_listed_last_and_chats_through_llama_cpp(tmp_path, monkeypatch):
    folder = fake_reference(tmp_path / "reference")
    monkeypatch.setattr(adapters, "REFERENCE_DIR", folder)
    settings = load_settings()
    assert resolve(settings, "reference") == str(folder)
    listed = list_adapters(settings)
    assert listed[-1].name == "reference" and listed[-1].base_model == "gemma-3-270m"
    assert adapters.active(load_settings(overrides={"adapter": "reference"})).path == folder
    assert gguf_lora_of(str(folder)) == str(folder / "adapter.gguf")
    assert choose_backend(PRESETS["gemma-3-270m"], settings, adapter=str(folder)) == "llamacpp"


def test_the_reference_fits_only_its_base_model(tmp_path):
    ref = str(REFERENCE_DIR)
    assert (
        fits(ref, "gemma-3-270m")
        and not fits(ref, "medgemma-4b-it")
        and not fits(ref, "smollm2-135m-instruct")
    )
    assert fits("", "medgemma-4b-it") and fits(
        str(tmp_path), "medgemma-4b-it"
    )  # other adapters: the admin's call


@pytest.mark.skipif(reference() is None, reason="the reference adapter is not shipped in this checkout")
def test_the_shipped_files_match_their_manifest():
    import hashlib

    manifest = json.loads((REFERENCE_DIR / adapters.MANIFEST).read_text())
    assert manifest["base_model"] == "gemma-3-270m" and manifest["examples"] > 0
    for name, digest in manifest["files_sha256"].items():
        assert hashlib.sha256((REFERENCE_DIR / name).read_bytes()).hexdigest() == digest, name
    shipped = {p.name for p in REFERENCE_DIR.iterdir()}
    assert not shipped & {
        "tokenizer.json",
        "tokenizer_config.json",
        "model.safetensors",
    }  # no base/tokenizer copy
    assert sum((REFERENCE_DIR / n).stat().st_size for n in shipped) < 12_000_000
