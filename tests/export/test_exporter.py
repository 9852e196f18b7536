"""Export on the tiny in-process Gemma 3: every format that works here round-trips (same greedy tokens within
tolerance), failures leave nothing behind, disk and permission errors are clear, TensorRT says what is
missing, the CLI works, and (slow) the real 270M exports to GGUF and ONNX."""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from medgemma.cli import main
from medgemma.config import load_settings
from medgemma.errors import ExportDiskError, FeatureUnavailable, InputRejected, UserFacingError
from medgemma.export.card import MANIFEST, sha256_file
from medgemma.export.exporter import export, list_exports, read_export
from medgemma.models.adapters import write_manifest
from medgemma.types import GenerationParams

GREEDY = GenerationParams(max_new_tokens=8, temperature=0.0, seed=0, repetition_penalty=1.0)


def make_adapter(base: Path, folder: Path, name: str = "tiny-med", seed: int = 1, std: float = 0.3) -> Path:
    """A LoRA adapter on `base` with non-zero weights (so it changes the output), as training/trainer.py leaves it."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    peft = get_peft_model(
        model,
        LoraConfig(
            r=4, lora_alpha=8, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"], task_type="CAUSAL_LM"
        ),
    )
    torch.manual_seed(seed)
    for key, param in peft.named_parameters():
        if "lora_B" in key:
            param.data.normal_(0.0, std)
    peft.save_pretrained(folder)
    write_manifest(
        folder,
        name=name,
        run_id=name,
        base_model=str(base),
        base_model_path=str(base),
        template="gemma",
        data=["medquad-rag:20", "/home/someone/notes.csv"],
        examples=20,
        lora={"r": 4, "alpha": 8, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
        metrics={"steps": 2, "final_loss": 3.2},
    )
    return folder


def odd_gemma(tiny_gemma_dir: Path, folder: Path) -> Path:
    """The tiny Gemma 3 with query_pre_attn_scalar != head_dim, which llama.cpp cannot represent."""
    shutil.copytree(tiny_gemma_dir, folder)
    config = json.loads((folder / "config.json").read_text())
    config["query_pre_attn_scalar"] = 4 * config["head_dim"]
    (folder / "config.json").write_text(json.dumps(config, indent=2))
    return folder


@pytest.fixture(scope="module")
def adapter_dir(tiny_gemma_dir, tmp_path_factory) -> Path:
    return make_adapter(tiny_gemma_dir, tmp_path_factory.mktemp("export-adapter") / "adapter")


@pytest.fixture(scope="session")
def converter_tools(models_cache) -> Path:
    """llama.cpp's converter scripts, fetched from PyPI once per machine into the shared test cache."""
    from medgemma.export.gguf import ensure_tools

    try:
        return ensure_tools(load_settings(overrides={"home": str(models_cache)}))
    except FeatureUnavailable as exc:
        pytest.skip(f"GGUF conversion unavailable: {exc}")


@pytest.fixture
def settings(isolated_home):
    return load_settings()


@pytest.fixture
def gguf_settings(converter_tools, isolated_home):
    (isolated_home / "tools").mkdir()
    (isolated_home / "tools" / converter_tools.name).symlink_to(converter_tools)
    return load_settings()


def hidden_leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.is_dir() else []


def assert_complete_export(out: Path) -> dict:
    """Manifest lists every file with its true sha256; README carries the YAML metadata and limitations."""
    manifest = json.loads((out / MANIFEST).read_text())
    on_disk = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()} - {MANIFEST}
    assert set(manifest["files"]) == on_disk
    for rel, entry in manifest["files"].items():
        assert entry["sha256"] == sha256_file(out / rel) and entry["bytes"] == (out / rel).stat().st_size
    card = (out / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    assert meta["license"] == "gemma" and meta["license_link"] == "https://ai.google.dev/gemma/terms"
    assert meta["datasets"] == ["medquad-rag", "notes.csv"]  # no sample sizes, no local paths
    assert "Not for diagnosis" in card and "/home/someone" not in card
    return manifest


def test_lora_and_merged_round_trip_and_serve(adapter_dir, settings, tmp_path):
    from safetensors import safe_open

    from medgemma.models.backends import load_backend

    outs = {}
    for fmt in ("lora", "merged-fp32", "merged-fp16"):
        seen: list[float] = []
        result = export(
            settings, str(adapter_dir), fmt, tmp_path / fmt, lambda f, m, seen=seen: seen.append(f)
        )
        assert result.verified and seen == sorted(seen) and seen[-1] == 1.0
        check = result.checks[0]
        assert (
            check["passed"]
            and check["tokens_match"]
            and check["agreement"] == 1.0
            and check["tokenizer_match"]
        )
        assert check["max_abs_diff"] <= (1e-4 if fmt != "merged-fp16" else 2e-2)
        manifest = assert_complete_export(result.folder)
        assert manifest["format"] == fmt and manifest["adapter"] == "tiny-med"
        outs[fmt] = result.folder
    assert {
        "adapter_model.safetensors",
        "adapter_config.json",
        "tokenizer.json",
        "chat_template.jinja",
        "medgemma.json",
    } <= set(os.listdir(outs["lora"]))
    assert "base_model_path" not in json.loads((outs["lora"] / "medgemma.json").read_text())
    with safe_open(outs["merged-fp16"] / "model.safetensors", "pt") as f:
        assert not any("lora" in k for k in f.keys())
        assert str(f.get_tensor(next(iter(f.keys()))).dtype) == "torch.float16"
    # serving: the merged folder is a chat model like any other
    backend = load_backend(settings, model=str(outs["merged-fp32"]), adapter="")
    assert backend.name == "transformers"
    assert "".join(backend.stream(backend.render([{"role": "user", "content": "What is asthma?"}]), GREEDY))
    assert {r["format"] for r in list_exports(settings)} == set()  # written outside <home>/exports


@pytest.mark.parametrize("fmt", ["gguf", "gguf-q8_0", "gguf-q4_k_m"])
def test_gguf_loads_in_llama_cpp_and_serves(fmt, adapter_dir, gguf_settings, tmp_path):
    from medgemma.models.backends import load_backend

    result = export(gguf_settings, str(adapter_dir), fmt)  # default folder: <home>/exports/<adapter>-<fmt>
    manifest = assert_complete_export(result.folder)
    gguf = next(result.folder.glob("*.gguf"))
    # a verified GGUF export is offered as a model in the chat's settings
    from admin.chat_options import model_choices

    assert (f"export: tiny-med-{fmt} ({fmt})", str(gguf)) in model_choices(
        SimpleNamespace(settings=gguf_settings)
    )
    first = result.checks[0]
    assert first["passed"] and first["tokenizer_match"] and first["generated"] == 12 and first["sample"]
    if fmt == "gguf":
        assert first["tokens_match"] and first["max_abs_diff"] < 0.02
    else:  # the f16 it was quantized from was checked too; q8_0 still gives the same tokens here
        assert result.checks[1]["passed"] and result.checks[1]["tokens_match"]
        assert fmt != "gguf-q8_0" or first["tokens_match"]
        assert "q4_k_m" in (result.folder / "README.md").read_text()
    assert gguf.stat().st_size == manifest["files"][gguf.name]["bytes"]
    backend = load_backend(gguf_settings, model=str(gguf), adapter="")
    assert backend.name == "llamacpp"
    assert "".join(backend.stream(backend.render([{"role": "user", "content": "What is asthma?"}]), GREEDY))
    assert hidden_leftovers(gguf_settings.path("exports")) == []


def test_gguf_lora_applies_on_the_base_in_llama_cpp(adapter_dir, gguf_settings, tmp_path):
    from medgemma.models.adapters import read_adapter

    result = export(gguf_settings, str(adapter_dir), "gguf-lora", tmp_path / "out")
    assert_complete_export(result.folder)
    check = result.checks[0]
    assert check["passed"] and check["level"] == "close" and check["tokens_match"]
    # the verified GGUF LoRA is also put next to the PEFT adapter, for the llama.cpp chat backend
    assert read_adapter(adapter_dir).gguf.endswith("adapter.gguf")


def test_onnx_matches_pytorch_and_evaluates(adapter_dir, settings, tmp_path, shared_data):
    from medgemma.export.artifact_eval import evaluate_artifact
    from medgemma.export.onnx import OnnxBackend

    result = export(settings, str(adapter_dir), "onnx", tmp_path / "onnx")
    assert_complete_export(result.folder)
    check = result.checks[0]
    assert (
        check["passed"]
        and check["tokens_match"]
        and check["max_abs_diff"] < 1e-3
        and check["tokenizer_match"]
    )
    assert {"model.onnx", "model.onnx.data", "tokenizer.json"} <= set(os.listdir(result.folder))
    backend = OnnxBackend(result.folder, settings)
    assert "".join(backend.stream(backend.render([{"role": "user", "content": "What is asthma?"}]), GREEDY))
    summary = evaluate_artifact(settings, result.folder, "medquad", limit=2)
    assert summary["n"] == 2 and "token_f1" in summary


def test_model_card_shows_the_adapters_latest_evaluation(adapter_dir, settings, tmp_path, shared_data):
    from medgemma.evaluation.predictors import Prediction
    from medgemma.evaluation.runner import run_eval

    class Echo:  # answers with the reference: a predictor with the runner's interface
        name = "echo"

        def predict(self, example):
            return Prediction(text=example.reference)

    run_eval(
        settings, "medquad", model="tiny", adapter=str(adapter_dir), rag=False, limit=3, predictor=Echo()
    )
    result = export(settings, str(adapter_dir), "lora", tmp_path / "lora")
    card = (result.folder / "README.md").read_text()
    meta = yaml.safe_load(card.split("---")[1])
    metrics = {m["type"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert metrics["token_f1"] == 1.0 and "| medquad |" in card


def test_failed_export_leaves_nothing_behind(tiny_gemma_dir, adapter_dir, gguf_settings, tmp_path):
    odd = make_adapter(odd_gemma(tiny_gemma_dir, tmp_path / "odd-base"), tmp_path / "odd-adapter", name="odd")
    with pytest.raises(FeatureUnavailable, match="query_pre_attn_scalar"):
        export(gguf_settings, str(odd), "gguf", tmp_path / "exports" / "odd")
    assert not (tmp_path / "exports" / "odd").exists() and hidden_leftovers(tmp_path / "exports") == []

    broken = tmp_path / "broken"
    shutil.copytree(adapter_dir, broken)
    (broken / "adapter_model.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(UserFacingError, match="adapter"):
        export(gguf_settings, str(broken), "merged-fp32", tmp_path / "exports" / "broken")
    assert os.listdir(tmp_path / "exports") == []

    (tmp_path / "exports" / "taken").mkdir()
    (tmp_path / "exports" / "taken" / "keep.txt").write_text("mine")
    with pytest.raises(InputRejected, match="not empty"):
        export(gguf_settings, str(adapter_dir), "lora", tmp_path / "exports" / "taken")
    with pytest.raises(InputRejected, match="not an earlier export"):  # overwrite replaces exports only
        export(gguf_settings, str(adapter_dir), "lora", tmp_path / "exports" / "taken", overwrite=True)
    assert (tmp_path / "exports" / "taken" / "keep.txt").read_text() == "mine"
    with pytest.raises(InputRejected, match="overlaps"):
        export(gguf_settings, str(adapter_dir), "lora", adapter_dir / "inside", overwrite=True)


def test_full_disk_is_a_clear_error_and_cleans_up(adapter_dir, settings, tmp_path):
    """A file-size limit makes every large write fail like a full disk (EFBIG), without root or a real disk."""
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, hard))  # the merged tiny model is 546 KB
    try:
        with pytest.raises(ExportDiskError, match="full"):
            export(settings, str(adapter_dir), "merged-fp32", tmp_path / "exports" / "big")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        signal.signal(signal.SIGXFSZ, old)
    assert os.listdir(tmp_path / "exports") == []


def test_read_only_folder_is_a_clear_error(adapter_dir, settings, tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    as_root = os.geteuid() == 0
    try:
        if as_root:  # root ignores permissions: act as nobody for the call
            os.seteuid(65534)
        with pytest.raises(ExportDiskError, match="Cannot write the export"):
            export(settings, str(adapter_dir), "lora", locked / "out")
    finally:
        if as_root:
            os.seteuid(0)
        locked.chmod(0o755)
    assert os.listdir(locked) == []


def test_tensorrt_says_what_is_missing(adapter_dir, settings, tmp_path, capsys):
    from medgemma.export.tensorrt import missing

    if not missing():
        pytest.skip("this machine has CUDA and tensorrt")
    with pytest.raises(FeatureUnavailable, match="TensorRT export is unavailable.*needs") as info:
        export(settings, str(adapter_dir), "tensorrt", tmp_path / "trt")
    assert any(m.split()[0] in str(info.value) for m in missing())
    assert (
        main(["export", "--adapter", str(adapter_dir), "--format", "tensorrt", "--out", str(tmp_path / "t")])
        == 2
    )
    assert "TensorRT export is unavailable" in capsys.readouterr().err
    assert not (tmp_path / "trt").exists() and not (tmp_path / "t").exists()


def test_cli_export_json_and_listing(adapter_dir, settings, capsys):
    assert main(["export", "--adapter", str(adapter_dir), "--format", "lora", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert Path(result["folder"]) == settings.path("exports", "tiny-med-lora") and result["verified"]
    assert main(["exports", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["format"] for r in rows] == ["lora"] and rows[0] == read_export(Path(result["folder"]))
    assert main(["export", "--adapter", "no-such-adapter", "--format", "lora"]) == 2
    assert "No adapter named 'no-such-adapter'" in capsys.readouterr().err


@pytest.mark.slow
def test_real_270m_exports_to_gguf_and_onnx(models_cache, converter_tools, isolated_home, tmp_path):
    """The packaged Gemma 3 270M with a LoRA adapter: GGUF f16 in llama.cpp and ONNX in onnxruntime."""
    from medgemma.models.presets import hf_model_path, resolve_model

    settings = load_settings(
        overrides={"home": str(models_cache)}
    )  # converted 270M and tools are cached there
    base = Path(hf_model_path(resolve_model("gemma-3-270m"), settings))
    adapter = make_adapter(base, tmp_path / "adapter", name="real-270m", std=0.02)
    for fmt in ("gguf", "onnx"):
        result = export(settings, str(adapter), fmt, tmp_path / fmt)
        check = result.checks[0]
        assert result.verified and check["passed"] and check["tokenizer_match"] is not False
        assert check["agreement"] == 1.0, check
