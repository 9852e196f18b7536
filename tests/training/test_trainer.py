"""LoRA training on the tiny in-process Gemma 3: weights, resume, CLI, adapters, config validation."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch

from medgemma import jobs
from medgemma.cli import main
from medgemma.config import REPO_ROOT, load_settings
from medgemma.errors import ConfigError, DatasetError, InputRejected
from medgemma.models import adapters
from medgemma.training.config import from_dict, load_config
from medgemma.training.model import choose_precision
from medgemma.training.trainer import TrainConfig, last_checkpoint, train

ROWS = [
    ("What is diabetes?", "Diabetes is a disease in which blood glucose levels are above normal."),
    ("What is asthma?", "Asthma is a chronic disease that affects the airways of the lungs."),
    ("What causes high blood pressure?", "High blood pressure raises the risk of heart disease and stroke."),
    ("What are symptoms of asthma?", "Symptoms include wheezing, coughing and shortness of breath."),
    ("How is anemia treated?", "Treatment may include medicines, a healthy diet and iron."),
    ("What is a fever?", "A fever is a body temperature that is higher than normal."),
]


@pytest.fixture
def qa_csv(tmp_path):
    path = tmp_path / "qa.csv"
    path.write_text("question,answer\n" + "".join(f'"{q}","{a}"\n' for q, a in ROWS), encoding="utf-8")
    return path


def _cfg(model, data, **changes) -> TrainConfig:
    values = dict(
        model=str(model),
        data=(str(data),),
        max_steps=3,
        batch_size=2,
        save_steps=2,
        max_length=320,
        warmup_ratio=0.0,
        learning_rate=1e-2,
        seed=7,
    )
    return TrainConfig(**{**values, **changes})


def _losses(folder):
    return {m["step"]: m["loss"] for m in jobs.read_metrics(folder) if "loss" in m}


def _sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_few_steps_change_adapter_weights_not_base_weights(tiny_gemma_dir, qa_csv, tmp_path):
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    settings, folder = load_settings(), tmp_path / "run"
    base_file = tiny_gemma_dir / "model.safetensors"
    base_hash = _sha(base_file)
    seen = {}

    def grab(trainer):
        seen["trainer"] = trainer
        seen["before"] = {n: p.detach().clone() for n, p in trainer.model.named_parameters()}

    manifest = train(_cfg(tiny_gemma_dir, qa_csv), settings, folder, on_trainer=grab)

    before, after = seen["before"], dict(seen["trainer"].model.named_parameters())
    lora = [n for n in before if "lora_" in n]
    base = [n for n in before if "lora_" not in n]
    assert lora and base
    assert any(not torch.equal(before[n], after[n].detach()) for n in lora if "lora_B" in n)
    assert all(torch.equal(before[n], after[n].detach()) for n in base)
    assert _sha(base_file) == base_hash

    saved = load_file(str(folder / "adapter" / "adapter_model.safetensors"))
    assert saved and all("lora_" in k for k in saved)
    assert manifest["metrics"]["steps"] == 3 and manifest["base_model"] == str(tiny_gemma_dir)
    assert manifest["examples"] == len(ROWS)
    assert [m["step"] for m in jobs.read_metrics(folder) if "loss" in m] == [1, 2, 3]
    assert all({"lr", "epoch", "eta_s"} <= set(m) for m in jobs.read_metrics(folder) if "loss" in m)

    # a standard PEFT adapter: it loads onto the base model and changes its output
    model = AutoModelForCausalLM.from_pretrained(tiny_gemma_dir)
    ids = torch.tensor([[2, 300, 301, 302]])
    plain = model(ids).logits
    tuned = PeftModel.from_pretrained(model, str(folder / "adapter"))(ids).logits
    assert not torch.allclose(plain, tuned)


def test_resume_continues_the_step_count(tiny_gemma_dir, qa_csv, tmp_path):
    settings, folder = load_settings(), tmp_path / "run"
    cfg = _cfg(tiny_gemma_dir, qa_csv, max_steps=4, save_steps=2)
    train(cfg, settings, folder)
    full = _losses(folder)
    # as if the run had stopped after step 2: only checkpoint-2 survives, no adapter yet
    shutil.rmtree(folder / "checkpoints" / "checkpoint-4")
    shutil.rmtree(folder / "adapter")
    (folder / "checkpoints" / "checkpoint-9").mkdir()  # a torn checkpoint (no trainer_state.json)
    assert last_checkpoint(folder).name == "checkpoint-2"

    manifest = train(cfg, settings, folder, resume=True)

    resumed = _losses(folder)
    assert list(resumed) == [1, 2, 3, 4]  # steps 3 and 4 ran once, after 2
    assert resumed == pytest.approx(full, rel=1e-4)  # same data order, same optimizer state
    assert manifest["metrics"]["steps"] == 4
    assert not (folder / "checkpoints" / "checkpoint-9").exists()
    state = json.loads((folder / "checkpoints" / "checkpoint-4" / "trainer_state.json").read_text())
    assert state["global_step"] == 4


def test_stop_at_step_keeps_the_whole_schedule_and_a_resumed_run_finishes_from_its_checkpoint(
    tiny_gemma_dir, qa_csv, tmp_path
):
    settings = load_settings()
    full = _cfg(tiny_gemma_dir, qa_csv, max_steps=4, save_steps=2, scheduler="linear")
    train(full, settings, tmp_path / "full")
    stopped = full.replace(stop_at_step=2)
    manifest = train(stopped, settings, tmp_path / "stopped")
    assert manifest["metrics"]["steps"] == 2 and list(_losses(tmp_path / "stopped")) == [1, 2]
    lr = {m["step"]: m["lr"] for m in jobs.read_metrics(tmp_path / "full") if "lr" in m}
    assert {m["step"]: m["lr"] for m in jobs.read_metrics(tmp_path / "stopped") if "lr" in m} == {
        k: lr[k] for k in (1, 2)
    }  # the learning rate followed the 4-step schedule, not a 2-step one
    # a run killed after checkpoint-2, resumed with stop_at_step=2: finished from that checkpoint, no step 3
    folder = tmp_path / "killed"
    train(full, settings, folder)
    shutil.rmtree(folder / "checkpoints" / "checkpoint-4")
    shutil.rmtree(folder / "adapter")
    manifest = train(stopped, settings, folder, resume=True)
    assert manifest["metrics"]["steps"] == 2 and max(_losses(folder)) == 2
    from safetensors.torch import load_file

    saved = load_file(folder / "adapter" / "adapter_model.safetensors")
    at_two = load_file(folder / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors")
    same_run = load_file(tmp_path / "stopped" / "adapter" / "adapter_model.safetensors")
    assert saved.keys() == at_two.keys() and all((saved[k] == at_two[k]).all() for k in saved)
    assert all(torch.allclose(saved[k], same_run[k], atol=1e-5) for k in saved)  # = stopping at 2 directly


def test_cli_train_eval_split_and_adapter_registry(tiny_gemma_dir, qa_csv, tmp_path, monkeypatch, capsys):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(
        f"model: {tiny_gemma_dir}\ndata: [{qa_csv}]\nmax_steps: 5\nsave_steps: 2\n"
        "eval_split: 0.34\nmax_length: 320\ngradient_checkpointing: true\n",
        encoding="utf-8",
    )
    folder = tmp_path / "run"
    assert main(["train", "--config", str(recipe), "--out", str(folder), "--max-steps", "2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["metrics"]["steps"] == 2 and "eval_loss" in out["metrics"]
    status = json.loads((folder / "status.json").read_text())
    assert status["state"] == "done" and status["result"]["adapter"] == str(folder / "adapter")
    assert json.loads((folder / "data" / "stats.json").read_text())["eval"] == 2

    settings = load_settings()
    (info,) = [a for a in adapters.list_adapters(settings) if a.name != adapters.REFERENCE] or [
        adapters.get_adapter(settings, str(folder / "adapter"))
    ]
    with pytest.raises(ConfigError, match="trained on"):
        adapters.activate(settings, str(folder / "adapter"))  # chat model is still the default preset
    monkeypatch.setenv("MEDGEMMA_MODEL", str(tiny_gemma_dir))
    assert main(["adapters", "activate", str(folder / "adapter")]) == 0
    assert adapters.active(load_settings()).path == folder / "adapter"
    assert main(["adapters", "deactivate"]) == 0
    assert adapters.active(load_settings()) is None


def test_over_long_examples_fail_before_loading_the_model(tiny_gemma_dir, qa_csv, tmp_path):
    with pytest.raises(DatasetError, match=r"longer than max_length=16 tokens \(rows"):
        train(_cfg(tiny_gemma_dir, qa_csv, max_length=16), load_settings(), tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_qlora_4bit_runs_on_cpu(tiny_gemma_dir, qa_csv, tmp_path):
    bnb = pytest.importorskip("bitsandbytes")
    seen = {}
    train(
        _cfg(tiny_gemma_dir, qa_csv, max_steps=1, quantization="4bit"),
        load_settings(),
        tmp_path / "run",
        on_trainer=lambda t: seen.setdefault("model", t.model),
    )
    assert any(isinstance(m, bnb.nn.Linear4bit) for m in seen["model"].modules())
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()


@pytest.mark.parametrize(
    "values, message",
    [
        ({"lora_r": 0}, r"lora_r must be within 1\.\.1024; got 0"),
        ({"learning_rate": 5}, r"learning_rate must be within \(0, 1\); got 5"),
        ({"data": []}, r"data: name at least one source"),
        ({"data": ["notes.txt"]}, r"'notes.txt': not a built-in source"),
        ({"precision": "fp8"}, r"precision must be one of auto, bf16, fp16, fp32; got 'fp8'"),
        ({"quantization": "2bit"}, r"quantization must be one of none, 4bit, 8bit"),
        ({"max_steps": -1}, r"max_steps must be 0 \(use epochs\) or positive"),
        ({"epochs": 0}, r"epochs must be positive when max_steps is 0"),
        ({"batch_size": "two"}, r"'batch_size' expects int; got 'two'"),
        ({"eval_split": 0.9}, r"eval_split must be within 0\.\.0\.5"),
        ({"long_examples": "cut"}, r"long_examples must be one of error, drop, truncate"),
        ({"name": "a b/c"}, r"name 'a b/c': use up to 64 letters"),
        ({"columns": {"question": "Q", "text": "T"}}, r"columns: roles must be among .*; got text"),
        ({"lora_rank": 8}, r"Unknown training setting 'lora_rank'\. Did you mean 'lora_r'\?"),
        ({"max_length": 4}, r"max_length must be within 16\.\.131072"),
    ],
)
def test_bad_configs_fail_validation_with_clear_messages(values, message):
    with pytest.raises(ConfigError, match=message):
        from_dict(values)


def test_yaml_values_are_coerced_and_files_checked(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("learning_rate: 2e-4\ntarget_modules: q_proj, v_proj\ndata: medquad:10\n")
    cfg = load_config(recipe, max_steps=7)
    assert (cfg.learning_rate, cfg.target_modules, cfg.data, cfg.max_steps) == (
        2e-4,
        ("q_proj", "v_proj"),
        ("medquad:10",),
        7,
    )
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "bad.yaml").write_text("data: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(tmp_path / "bad.yaml")


def test_reference_recipe_is_valid_and_opens_with_its_command():
    path = REPO_ROOT / "configs" / "train-medquad-rag.yaml"
    assert path.read_text().startswith("# python -m medgemma train --config configs/train-medquad-rag.yaml")
    cfg = load_config(path)
    assert cfg.model == "gemma-3-270m" and any(d.startswith("medquad-rag") for d in cfg.data)


def test_precision_by_device():
    assert choose_precision("cpu", "auto", "gemma3_text") == ("fp32", [])
    assert choose_precision("mps", "auto", "gemma3_text") == ("fp32", [])
    with pytest.raises(ConfigError, match="fp16 needs a GPU"):
        choose_precision("cpu", "fp16", "gemma3_text")
    precision, notes = choose_precision("cuda", "fp16", "gemma3_text")
    assert precision == "fp16" and "NaN" in notes[0]
    assert choose_precision("cpu", "bf16", "llama")[0] == "bf16"


def test_active_adapter_choice_persists_and_survives_a_missing_folder(monkeypatch):
    settings = load_settings()
    folder = settings.path("adapters", "imported")
    folder.mkdir(parents=True)
    (folder / "adapter_config.json").write_text("{}")
    adapters.write_manifest(folder, name="imported", base_model=settings.model, data=["x.csv"], examples=3)
    assert adapters.active_adapter_path(settings) is None  # no choice yet: the `adapter` setting applies
    assert [a.name for a in adapters.list_adapters(settings) if a.name != adapters.REFERENCE] == ["imported"]
    adapters.activate(settings, "imported")
    assert adapters.active_adapter_path(settings) == str(folder)
    assert adapters.active(load_settings()).examples == 3  # read back from the file, as after a restart
    monkeypatch.setenv("MEDGEMMA_ADAPTER", "something-else")
    assert adapters.active(load_settings()).name == "imported"  # the admin's click wins over the setting
    shutil.rmtree(folder)
    assert adapters.active_adapter_path(settings) == "" and adapters.active(settings) is None
    adapters.deactivate(settings)
    assert adapters.active_adapter_path(settings) == ""


def test_adapter_settings_resolve_run_names_paths_gguf_and_hub_ids(tmp_path):
    settings = load_settings()
    run = settings.path("runs", "train", "20260101-000000-abcd-medquad-rag", "adapter")
    run.mkdir(parents=True)
    (run / "adapter_config.json").write_text("{}")
    adapters.write_manifest(run, run_id="20260101-000000-abcd-medquad-rag", base_model=settings.model)
    assert adapters.resolve(settings, "") == ""
    assert adapters.resolve(settings, "20260101-000000-abcd-medquad-rag") == str(run)  # a run name
    assert adapters.resolve(settings, str(run)) == str(run.resolve())
    assert (
        adapters.resolve(settings, "someone/medical-lora") == "someone/medical-lora"
    )  # left to PEFT / the Hub
    with pytest.raises(InputRejected, match="No adapter named 'no-such-run'"):
        adapters.resolve(settings, "no-such-run")
    with pytest.raises(InputRejected, match="does not exist"):
        adapters.resolve(settings, str(tmp_path / "missing.gguf"))
    with pytest.raises(InputRejected, match="not a LoRA adapter folder"):
        adapters.resolve(settings, str(tmp_path))
