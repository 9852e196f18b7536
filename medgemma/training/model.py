"""model.py loads what a LoRA run trains on: the base model (resolved from a preset, Hub id or folder), its
tokenizer and prompt renderer, the precision for the device, and token statistics of a dataset file.
It knows nothing about the training loop, checkpoints or jobs (trainer.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medgemma.chat.prompts import RENDERERS
from medgemma.config import Settings
from medgemma.errors import ConfigError, ModelNotAvailable
from medgemma.models.backends import quantization_config
from medgemma.models.devices import cuda_supports_bf16, torch_dtype
from medgemma.models.presets import hf_model_path, resolve_model
from medgemma.training import datasets
from medgemma.training.config import TrainConfig, from_dict, load_config  # noqa: F401 - re-exported
from medgemma.training.data import token_counter

# ---- model, precision, prompt format ----------------------------------------------------------

EAGER_MODEL_TYPES = ("gemma2", "gemma3", "gemma3_text")  # HF's advice for training them (logit soft-capping)
FP16_UNSAFE = ("gemma2", "gemma3", "gemma3_text")


def resolve_base(model: str, settings: Settings) -> tuple[str, str]:
    """(transformers path or Hub id, template name) for a registry preset, a folder or a Hub id."""

    spec = resolve_model(model)
    return hf_model_path(spec, settings), spec.template


def choose_precision(device: str, requested: str, model_type: str = "") -> tuple[str, list[str]]:
    """bf16 on capable CUDA, fp16 on older CUDA (warned for Gemma 2/3), fp32 on CPU and MPS."""
    notes: list[str] = []
    precision = requested
    if requested == "auto":
        precision = ("bf16" if cuda_supports_bf16() else "fp16") if device == "cuda" else "fp32"
    if precision == "bf16" and device == "cuda" and not cuda_supports_bf16():
        raise ConfigError(
            "precision=bf16 needs an Ampere or newer GPU; this one lacks bf16. Use fp16 or fp32."
        )
    if precision == "fp16" and device == "cpu":
        raise ConfigError("precision=fp16 needs a GPU (CUDA or MPS); use fp32 on CPU.")
    if precision == "fp16" and model_type in FP16_UNSAFE:
        notes.append(
            f"{model_type} in fp16 is known to give NaN or zero loss; prefer bf16 (Ampere+) or fp32."
        )
    if precision == "bf16" and device == "cpu":
        notes.append(
            "bf16 on CPU runs only as fast as the CPU's bf16 support allows; fp32 is the safe choice."
        )
    return precision, notes


def make_renderer(template: str, tokenizer: Any) -> datasets.Renderer:
    """Render chat messages exactly as the chat backends do (no <bos>: the tokenizer adds it)."""
    if template in RENDERERS:
        return lambda messages, gen: RENDERERS[template](messages, add_generation_prompt=gen)
    if getattr(tokenizer, "chat_template", None):
        bos = tokenizer.bos_token or ""

        def render(messages: Sequence[dict], gen: bool) -> str:
            text = tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=gen)
            return text[len(bos) :] if bos and text.startswith(bos) else text

        return render
    return lambda messages, gen: RENDERERS["gemma"](messages, add_generation_prompt=gen)


def load_tokenizer(path: str) -> Any:
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"Could not load the tokenizer of '{path}': {exc}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def model_type(path: str) -> str:
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(path).model_type
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"Could not read the model config of '{path}': {exc}") from None


def load_model(path: str, cfg: TrainConfig, device: str, precision: str) -> Any:
    """The base model in the training dtype; eager attention for Gemma 2/3; bitsandbytes for QLoRA.
    bf16 on a CPU keeps fp32 weights and runs bf16 autocast (the Trainer's bf16=True): on a CPU with native
    bf16 (AVX512-BF16 / AMX) a step measured 2.1x faster than fp32 here, without bf16 weights' rounding."""
    from transformers import AutoModelForCausalLM

    mixed = precision == "bf16" and device == "cpu" and cfg.quantization == "none"
    dtype = torch_dtype(
        "float32" if mixed else {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}[precision]
    )
    kwargs: dict[str, Any] = {"dtype": dtype}
    if model_type(path) in EAGER_MODEL_TYPES:
        kwargs["attn_implementation"] = "eager"
    if cfg.quantization != "none":
        kwargs["quantization_config"] = quantization_config(cfg.quantization, str(dtype).split(".")[-1])
        kwargs["device_map"] = {"": 0} if device == "cuda" else device
    try:
        model = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    except (OSError, ValueError) as exc:
        raise ModelNotAvailable(f"Could not load model '{path}': {exc}") from None
    if cfg.quantization != "none":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=cfg.gradient_checkpointing)
    return model


def file_token_stats(
    path: str | Path, mapping: dict[str, str] | None, model: str, settings: Settings, max_length: int
) -> dict[str, Any]:
    """Token-length statistics of a dataset file, rendered in `model`'s prompt format."""
    base, template = resolve_base(model, settings)
    tokenizer = load_tokenizer(base)
    examples = datasets.load_file(path, mapping, skip_invalid=True)
    stats = datasets.token_stats(
        examples, make_renderer(template, tokenizer), token_counter(tokenizer), max_length
    )
    stats.pop("lengths", None)
    return stats
