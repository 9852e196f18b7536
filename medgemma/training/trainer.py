"""trainer.py fine-tunes a causal LM with LoRA (TRL SFTTrainer + PEFT) into a run folder.

A run folder gets data/train.jsonl, checkpoints/checkpoint-N (resumable), metrics.jsonl (step, loss, lr,
epoch, eta) and, when training finishes, adapter/ (a standard PEFT adapter plus medgemma.json).
The base model, tokenizer and precision come from model.py; the data files from data.py; job control
(subprocess, status, cancel) is medgemma.jobs; the adapter registry is models/adapters.py.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medgemma import jobs
from medgemma.config import Settings
from medgemma.errors import ConfigError
from medgemma.models.adapters import write_manifest
from medgemma.models.devices import pick_device
from medgemma.storage import read_json, write_jsonl
from medgemma.training import sources
from medgemma.training.config import TrainConfig, from_dict, load_config  # noqa: F401 - re-exported
from medgemma.training.data import DATA, hf_dataset, prepare_data
from medgemma.training.model import (
    choose_precision,
    load_model,
    load_tokenizer,
    make_renderer,
    model_type,
    resolve_base,
)

logger = logging.getLogger(__name__)

CHECKPOINTS, ADAPTER = "checkpoints", "adapter"


# ---- checkpoints and progress -----------------------------------------------------------------


def last_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint (trainer_state.json is written last); torn ones are ignored."""
    root = Path(folder) / CHECKPOINTS
    done = [
        p
        for p in root.glob("checkpoint-*")
        if (p / "trainer_state.json").is_file() and p.name.split("-")[-1].isdigit()
    ]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def remove_torn_checkpoints(folder: Path) -> list[str]:
    torn = [
        p
        for p in (Path(folder) / CHECKPOINTS).glob("checkpoint-*")
        if not (p / "trainer_state.json").is_file()
    ]
    for p in torn:
        shutil.rmtree(p, ignore_errors=True)
    return [p.name for p in torn]


def _progress_callback(folder: Path) -> Any:
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """metrics.jsonl lines with loss, lr, step, epoch and ETA (seconds left at the recent pace)."""

        def __init__(self) -> None:
            self.t0 = 0.0
            self.step0: int | None = None

        def on_step_begin(self, args, state, control, **kwargs):
            if self.step0 is None:
                self.t0, self.step0 = time.monotonic(), state.global_step

        def on_log(self, args, state, control, logs=None, **kwargs):
            logs = logs or {}
            done = state.global_step - (self.step0 or 0)
            elapsed = time.monotonic() - self.t0 if self.t0 else 0.0
            record: dict[str, Any] = {
                "step": state.global_step,
                "max_steps": state.max_steps,
                "epoch": round(state.epoch or 0.0, 4),
            }
            for key, out in (
                ("loss", "loss"),
                ("learning_rate", "lr"),
                ("grad_norm", "grad_norm"),
                ("eval_loss", "eval_loss"),
                ("train_loss", "train_loss"),
            ):
                if key in logs:
                    record[out] = float(logs[key])
            if done > 0:
                record["s_per_step"] = round(elapsed / done, 4)
                record["eta_s"] = round(elapsed / done * max(0, state.max_steps - state.global_step), 1)
            jobs.log_metrics(folder, record)
            if "loss" in record:
                logger.info(
                    "step %d/%d loss %.4f lr %.3g eta %ss",
                    state.global_step,
                    state.max_steps,
                    record["loss"],
                    record.get("lr", 0.0),
                    record.get("eta_s", "?"),
                )

    return Progress()


def _stop_callback(step: int) -> Any:
    from transformers import TrainerCallback

    class StopAt(TrainerCallback):
        """Ends the run after optimizer step `step` (the schedule stays that of the whole run)."""

        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step >= step:
                control.should_training_stop = True

    return StopAt()


def _finish_from_checkpoint(trainer: Any, checkpoint: Path) -> Any:
    """A resumed run whose checkpoint already reached stop_at_step: its weights are the result."""
    from types import SimpleNamespace

    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    set_peft_model_state_dict(trainer.model, load_file(str(checkpoint / "adapter_model.safetensors")))
    state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
    losses = [h["loss"] for h in state.get("log_history", []) if "loss" in h]
    loss = sum(losses) / len(losses) if losses else float("nan")
    return SimpleNamespace(training_loss=loss, global_step=state.get("global_step", 0), metrics={})


# ---- the run ------------------------------------------------------------------------------------


def sft_config(cfg: TrainConfig, folder: Path, device: str, precision: str, has_eval: bool) -> Any:
    from trl import SFTConfig

    return SFTConfig(
        output_dir=str(folder / CHECKPOINTS),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps or -1,
        lr_scheduler_type=cfg.scheduler,
        warmup_steps=cfg.warmup_ratio,
        weight_decay=cfg.weight_decay,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=cfg.save_total_limit or None,
        eval_strategy="steps" if has_eval else "no",
        eval_steps=(cfg.eval_steps or cfg.save_steps) if has_eval else None,
        seed=cfg.seed,
        data_seed=cfg.seed,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device == "cpu",
        gradient_checkpointing=cfg.gradient_checkpointing,
        max_length=cfg.max_length,
        packing=False,
        completion_only_loss=cfg.completion_only_loss,
        report_to="none",
        disable_tqdm=True,
        dataloader_num_workers=0,
        save_only_model=False,
    )


def lora_config(cfg: TrainConfig) -> Any:
    from peft import LoraConfig

    targets: Any = "all-linear" if list(cfg.target_modules) == ["all-linear"] else list(cfg.target_modules)
    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )


def train(
    cfg: TrainConfig,
    settings: Settings,
    folder: Path,
    resume: bool = False,
    on_trainer: Callable[[Any], None] | None = None,
) -> dict[str, Any]:
    """Run training in this process into `folder`; returns the adapter manifest.

    With resume=True it continues from the newest complete checkpoint (same data file, same step count).
    """
    import torch
    from transformers import PrinterCallback, set_seed
    from trl import SFTTrainer

    folder = Path(folder)
    started = time.monotonic()
    warnings.filterwarnings(
        "ignore", message=".*gradient_checkpointing.* is deprecated", category=FutureWarning
    )
    if settings.threads:
        torch.set_num_threads(settings.threads)
    device = pick_device(cfg.device)
    path, template = resolve_base(cfg.model, settings)
    precision, notes = choose_precision(device, cfg.precision, model_type(path))
    for w in notes:
        logger.warning(w)
    if cfg.quantization != "none" and device == "mps":
        raise ConfigError("QLoRA (bitsandbytes) does not run on MPS; use quantization=none.")
    tokenizer = load_tokenizer(path)
    render = make_renderer(template, tokenizer)
    checkpoint = last_checkpoint(folder) if resume else None
    if checkpoint is None:  # a fresh start: nothing of an earlier attempt may leak into this one
        for stale in (CHECKPOINTS, ADAPTER):
            shutil.rmtree(folder / stale, ignore_errors=True)
        (folder / jobs.METRICS_FILE).unlink(missing_ok=True)
    else:  # the chart must not show the steps after the checkpoint twice
        step = int(checkpoint.name.split("-")[-1])
        write_jsonl(
            folder / jobs.METRICS_FILE, [m for m in jobs.read_metrics(folder) if m.get("step", 0) <= step]
        )
    torn = remove_torn_checkpoints(folder)
    if torn:
        logger.warning("removed incomplete checkpoints: %s", ", ".join(torn))
    if resume and checkpoint is None:
        logger.warning("no complete checkpoint in %s; starting from step 0", folder)
    if checkpoint is not None and (folder / DATA / "train.jsonl").is_file():
        stats = _read_stats(folder)
        logger.info("resuming from %s with the run's saved data", checkpoint.name)
    else:
        stats = prepare_data(cfg, settings, tokenizer, render, folder)
        logger.info(
            "data: %d train, %d eval examples; tokens p50 %s, max %s",
            stats["train"],
            stats["eval"],
            stats.get("p50"),
            stats.get("max"),
        )
    train_ds, eval_ds = hf_dataset(folder / DATA / "train.jsonl"), hf_dataset(folder / DATA / "eval.jsonl")
    if train_ds is None:
        raise ConfigError("No training examples are left after filtering.")

    set_seed(cfg.seed)
    model = load_model(path, cfg, device, precision)
    args = sft_config(cfg, folder, device, precision, eval_ds is not None)
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=eval_ds,
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
        callbacks=[
            _progress_callback(folder),
            *([_stop_callback(cfg.stop_at_step)] if cfg.stop_at_step else []),
        ],
    )
    trainer.remove_callback(PrinterCallback)  # progress goes to metrics.jsonl and the log, not stdout
    if on_trainer:
        on_trainer(trainer)
    logger.info(
        "training %s on %s (%s, %s): %d trainable of %d parameters",
        cfg.model,
        device,
        precision,
        cfg.quantization,
        *_param_counts(trainer.model),
    )
    _defer_cancel_while_saving(trainer)
    reached = checkpoint is not None and 0 < cfg.stop_at_step <= int(checkpoint.name.split("-")[-1])
    if reached:
        output = _finish_from_checkpoint(trainer, checkpoint)
    else:
        output = trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    metrics = {
        "train_loss": round(float(output.training_loss), 4),
        "steps": int(output.global_step),
        "runtime_s": round(float(output.metrics.get("train_runtime", 0.0)), 1),
        "wall_s": round(time.monotonic() - started, 1),
        "precision": precision,
        "device": device,
    }
    losses = [m["loss"] for m in jobs.read_metrics(folder) if "loss" in m]
    if losses:
        metrics.update(first_loss=losses[0], final_loss=losses[-1])
    if eval_ds is not None:
        metrics["eval_loss"] = round(float(trainer.evaluate()["eval_loss"]), 4)
    with jobs.cancel_deferred():
        manifest = save_adapter(trainer, cfg, folder, path, template, stats, metrics)
    jobs.set_result(folder, adapter=str(folder / ADAPTER), **metrics)
    return manifest


def _defer_cancel_while_saving(trainer: Any) -> None:
    """A cancel (SIGTERM) stops a step at once, but never tears a checkpoint: it waits for the save."""
    save = trainer._save_checkpoint

    def guarded(*args: Any, **kwargs: Any) -> Any:
        with jobs.cancel_deferred():
            return save(*args, **kwargs)

    trainer._save_checkpoint = guarded


def save_adapter(
    trainer: Any,
    cfg: TrainConfig,
    folder: Path,
    base_path: str,
    template: str,
    stats: dict[str, Any],
    metrics: dict[str, Any],
) -> dict[str, Any]:
    """PEFT files into adapter.tmp, the manifest last, then an atomic rename to adapter/."""
    tmp, final = folder / f".{ADAPTER}.tmp", folder / ADAPTER
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(str(tmp))
    manifest = {
        "name": cfg.name or folder.name,
        "run_id": folder.name,
        "base_model": cfg.model,
        "base_model_path": base_path,
        "template": template,
        "created": jobs.now_iso(),
        "data": list(cfg.data),
        "examples": stats.get("train", 0),
        "eval_examples": stats.get("eval", 0),
        "metrics": metrics,
        "lora": {"r": cfg.lora_r, "alpha": cfg.lora_alpha, "target_modules": list(cfg.target_modules)},
        "config": cfg.to_dict(),
    }
    write_manifest(tmp, **manifest)
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    logger.info("adapter saved to %s", final)
    return manifest


def _read_stats(folder: Path) -> dict[str, Any]:

    return read_json(folder / DATA / "stats.json", {}) or {}


def _param_counts(model: Any) -> tuple[int, int]:
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return trainable, sum(p.numel() for p in model.parameters())


# ---- background runs --------------------------------------------------------------------------


def command_args(resume: bool = False) -> list[str]:
    """The CLI verb a background run executes ("{run}" is the run folder)."""
    return [
        "train",
        "--config",
        "{run}/config.yaml",
        "--out",
        "{run}",
        "--settings",
        "{run}/settings.yaml",
        *(["--resume"] if resume else []),
    ]


def absolute_paths(cfg: TrainConfig) -> TrainConfig:
    """Data files and local model folders as absolute paths (the job runs from the repository root)."""

    def fix(spec: str) -> str:
        name, limit = sources.parse_spec(spec)
        if sources.is_builtin(name) or Path(name).is_absolute():
            return spec
        return str(Path(name).resolve()) + (f":{limit}" if limit else "")

    model = str(Path(cfg.model).resolve()) if Path(cfg.model).is_dir() else cfg.model
    return cfg.replace(data=[fix(d) for d in cfg.data], model=model)
