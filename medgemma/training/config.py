"""config.py owns TrainConfig: every knob of a LoRA run, its YAML form, and its validation.

Validation turns a bad value into a ConfigError that names the field and what would work.
It knows nothing about torch, models or datasets beyond the names of built-in sources.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medgemma.errors import ConfigError
from medgemma.storage import read_yaml
from medgemma.training.datasets import FILE_TYPES
from medgemma.training.sources import BUILTINS, parse_spec

SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")
PRECISIONS = ("auto", "bf16", "fp16", "fp32")
QUANTIZATIONS = ("none", "4bit", "8bit")
DEVICES = ("auto", "cuda", "mps", "cpu")
LONG_POLICIES = ("error", "drop", "truncate")


def _f(default: Any, doc: str) -> Any:
    if isinstance(default, (dict, list)):
        return field(default_factory=lambda: type(default)(default), metadata={"doc": doc})
    return field(default=default, metadata={"doc": doc})


@dataclass(frozen=True)
class TrainConfig:
    """One LoRA fine-tuning run. YAML keys are these field names; CLI flags override them."""

    name: str = _f("", "Run / adapter name (letters, digits, - and _).")
    model: str = _f("gemma-3-270m", "Base model: a registry preset, a local transformers folder or a Hub id.")
    data: tuple[str, ...] = _f(
        ("medquad-rag:2000",),
        "Sources: built-in names (medquad, medquad-rag, pubmedqa, medsafetybench, "
        "feedback), optionally ':N' limited, or JSON/JSONL/CSV files.",
    )
    columns: dict = _f(
        {},
        "Column mapping for files: role -> column (question/answer, instruction/input/"
        "output or messages). Empty = detect.",
    )
    skip_invalid_rows: bool = _f(False, "Drop unusable rows (empty question/answer) instead of failing.")
    long_examples: str = _f("error", "Examples over max_length: error, drop or truncate.")
    max_examples: int = _f(0, "Cap on training examples after mixing sources (0 = all).")
    eval_split: float = _f(0.0, "Fraction of examples held out for eval loss (0 = none).")
    lora_r: int = _f(8, "LoRA rank.")
    lora_alpha: int = _f(16, "LoRA alpha (scale = alpha / r).")
    lora_dropout: float = _f(0.05, "Dropout on the LoRA path.")
    target_modules: tuple[str, ...] = _f(
        ("q_proj", "k_proj", "v_proj", "o_proj"), "Modules that get LoRA weights, or 'all-linear'."
    )
    learning_rate: float = _f(2e-4, "Peak learning rate.")
    epochs: float = _f(1.0, "Passes over the data (ignored when max_steps > 0).")
    max_steps: int = _f(0, "Optimizer steps to run (0 = use epochs).")
    stop_at_step: int = _f(
        0,
        "End the run after this optimizer step, keeping the learning-rate schedule of the whole run (0 = run it all).",
    )
    batch_size: int = _f(2, "Examples per device per step.")
    grad_accum: int = _f(1, "Gradient accumulation steps.")
    max_length: int = _f(
        896, "Maximum tokens per example (prompt + answer); 896 fits every built-in MedQuAD-RAG example."
    )
    warmup_ratio: float = _f(0.03, "Share of steps spent warming the learning rate up.")
    scheduler: str = _f("linear", "Learning-rate schedule: " + ", ".join(SCHEDULERS) + ".")
    weight_decay: float = _f(0.0, "AdamW weight decay.")
    seed: int = _f(42, "Random seed (data order, LoRA init, sampling of sources).")
    logging_steps: int = _f(1, "Write a metrics line every N steps.")
    save_steps: int = _f(50, "Save a resumable checkpoint every N steps.")
    save_total_limit: int = _f(2, "Checkpoints kept (0 = all).")
    eval_steps: int = _f(0, "Evaluate every N steps when eval_split > 0 (0 = at each save).")
    device: str = _f("auto", "Training device: auto, cuda, mps or cpu.")
    precision: str = _f(
        "auto", "auto (bf16 on capable CUDA, fp16 on older CUDA, fp32 on CPU/MPS), bf16, fp16, fp32."
    )
    quantization: str = _f("none", "QLoRA base weights: none, 4bit or 8bit (bitsandbytes).")
    gradient_checkpointing: bool = _f(
        False, "Trade compute for memory (mostly costs time on small CPU runs)."
    )
    completion_only_loss: bool = _f(True, "Learn the answer only, not the prompt.")

    def __post_init__(self) -> None:
        validate(self)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with the given (non-None) fields changed, validated again."""
        return from_dict({**self.to_dict(), **{k: v for k, v in changes.items() if v is not None}})


FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}


def _coerce(name: str, value: Any) -> Any:
    kind = FIELDS[name].type
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"true", "yes", "1", "on"}:
                return True
            if text in {"false", "no", "0", "off"}:
                return False
            raise ValueError
        if kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if kind == "float":
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if kind == "tuple[str, ...]":
            items = value.split(",") if isinstance(value, str) else list(value)
            return tuple(str(v).strip() for v in items if str(v).strip())
        if kind == "dict":
            if not isinstance(value, Mapping):
                raise ValueError
            return {str(k): str(v) for k, v in value.items() if v not in (None, "")}
        return "" if value is None else str(value)
    except (TypeError, ValueError):
        readable = {"tuple[str, ...]": "a list of strings", "dict": "a mapping"}.get(kind, kind)
        raise ConfigError(f"Training setting '{name}' expects {readable}; got {value!r}.") from None


def from_dict(values: Mapping[str, Any]) -> TrainConfig:
    """Build a validated config; unknown keys are errors that suggest the closest field."""
    clean: dict[str, Any] = {}
    for key, value in (values or {}).items():
        if key not in FIELDS:
            close = difflib.get_close_matches(str(key), FIELDS, n=1)
            hint = f" Did you mean '{close[0]}'?" if close else ""
            raise ConfigError(f"Unknown training setting '{key}'.{hint}")
        clean[key] = _coerce(key, value)
    return TrainConfig(**clean)


def load_config(path: str | Path | None, **overrides: Any) -> TrainConfig:
    """A YAML recipe (or the defaults) with flag overrides applied; None overrides are ignored."""
    values: dict[str, Any] = {}
    if path:
        values.update(read_yaml(path, "Training config"))
    values.update({k: v for k, v in overrides.items() if v is not None})
    return from_dict(values)


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def validate(c: TrainConfig) -> None:
    """Every rule a config must meet before a run starts; messages name the field and the fix."""
    _check(
        bool(re.fullmatch(r"[A-Za-z0-9_.-]{0,64}", c.name)),
        f"name {c.name!r}: use up to 64 letters, digits, '.', '-' or '_'.",
    )
    _check(bool(c.model.strip()), "model: give a preset name, a local folder or a Hub id.")
    _check(bool(c.data), "data: name at least one source (e.g. medquad-rag) or a JSON/JSONL/CSV file.")
    for spec in c.data:
        name, _ = parse_spec(spec)
        name = name.removesuffix("?")  # optional source
        _check(
            name in BUILTINS or Path(name).suffix.lower() in FILE_TYPES,
            f"data entry {spec!r}: not a built-in source ({', '.join(BUILTINS)}) nor a .json/.jsonl/.csv file.",
        )
    roles = {"question", "answer", "instruction", "input", "output", "messages"}
    _check(
        set(c.columns) <= roles,
        f"columns: roles must be among {', '.join(sorted(roles))}; got "
        f"{', '.join(sorted(set(c.columns) - roles))}.",
    )
    _check(
        c.long_examples in LONG_POLICIES,
        f"long_examples must be one of {', '.join(LONG_POLICIES)}; got {c.long_examples!r}.",
    )
    _check(c.max_examples >= 0, f"max_examples must be 0 (all) or positive; got {c.max_examples}.")
    _check(0.0 <= c.eval_split <= 0.5, f"eval_split must be within 0..0.5; got {c.eval_split}.")
    _check(1 <= c.lora_r <= 1024, f"lora_r must be within 1..1024; got {c.lora_r}.")
    _check(c.lora_alpha > 0, f"lora_alpha must be positive; got {c.lora_alpha}.")
    _check(0.0 <= c.lora_dropout < 1.0, f"lora_dropout must be within [0, 1); got {c.lora_dropout}.")
    _check(
        bool(c.target_modules) and all(re.fullmatch(r"[A-Za-z0-9_.\-]+", m) for m in c.target_modules),
        "target_modules: list module names (e.g. q_proj, v_proj) or 'all-linear'.",
    )
    _check(0.0 < c.learning_rate < 1.0, f"learning_rate must be within (0, 1); got {c.learning_rate}.")
    _check(c.max_steps >= 0, f"max_steps must be 0 (use epochs) or positive; got {c.max_steps}.")
    _check(c.stop_at_step >= 0, f"stop_at_step must be 0 (run it all) or positive; got {c.stop_at_step}.")
    _check(c.max_steps > 0 or c.epochs > 0, f"epochs must be positive when max_steps is 0; got {c.epochs}.")
    _check(c.batch_size >= 1, f"batch_size must be at least 1; got {c.batch_size}.")
    _check(c.grad_accum >= 1, f"grad_accum must be at least 1; got {c.grad_accum}.")
    _check(16 <= c.max_length <= 131072, f"max_length must be within 16..131072 tokens; got {c.max_length}.")
    _check(0.0 <= c.warmup_ratio < 1.0, f"warmup_ratio must be within [0, 1); got {c.warmup_ratio}.")
    _check(
        c.scheduler in SCHEDULERS, f"scheduler must be one of {', '.join(SCHEDULERS)}; got {c.scheduler!r}."
    )
    _check(c.weight_decay >= 0, f"weight_decay must be 0 or positive; got {c.weight_decay}.")
    _check(c.logging_steps >= 1, f"logging_steps must be at least 1; got {c.logging_steps}.")
    _check(c.save_steps >= 1, f"save_steps must be at least 1; got {c.save_steps}.")
    _check(
        c.save_total_limit >= 0,
        f"save_total_limit must be 0 (keep all) or positive; got {c.save_total_limit}.",
    )
    _check(c.eval_steps >= 0, f"eval_steps must be 0 or positive; got {c.eval_steps}.")
    _check(c.device in DEVICES, f"device must be one of {', '.join(DEVICES)}; got {c.device!r}.")
    _check(
        c.precision in PRECISIONS, f"precision must be one of {', '.join(PRECISIONS)}; got {c.precision!r}."
    )
    _check(
        c.quantization in QUANTIZATIONS,
        f"quantization must be one of {', '.join(QUANTIZATIONS)}; got {c.quantization!r}.",
    )
