"""build.py makes the files of one export format in a staging folder and verifies them.

A Builder loads the base model plus the LoRA adapter once (fp32, CPU or the configured device), takes the
PyTorch greedy reference, merges when a format needs it, writes the artifact and runs the checks of
export_verify. It knows nothing about output folders, model cards or jobs (export/exporter.py owns those).
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from medgemma.chat.prompts import chat_template_for
from medgemma.config import Settings
from medgemma.errors import FeatureUnavailable, UserFacingError
from medgemma.export import verify
from medgemma.export.verify import Check, Reference
from medgemma.models.presets import ModelSpec
from medgemma.storage import atomic_write_json, read_json

logger = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "chat_template.jinja",
    "added_tokens.json",
)
ADAPTER_FILES = ("adapter_config.json", "adapter_model.safetensors")
GGUF_QUANT = {"gguf-q8_0": "q8_0", "gguf-q4_k_m": "q4_k_m"}


@dataclass
class Source:
    """What an export starts from: a finished adapter and the base model it was trained on."""

    name: str
    adapter_dir: Path
    base_model: str  # as recorded by training: preset, folder or Hub id
    base_path: str  # a transformers folder or Hub id
    spec: ModelSpec | None
    template: str
    meta: dict[str, Any] = field(default_factory=dict)  # the adapter's medgemma.json


class Builder:
    def __init__(
        self, settings: Settings, source: Source, stage: Path, work: Path, progress: Progress
    ) -> None:
        self.settings, self.source, self.stage, self.work = settings, source, stage, work
        self.progress = progress
        self._peft: Any = None
        self._merged: Any = None
        self._tokenizer: Any = None
        self.ref: Reference | None = None
        self.notes: list[str] = []
        self.merged_type = ""

    # ---- models -----------------------------------------------------------------------------
    def _load_base(self) -> Any:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM

        kwargs: dict[str, Any] = {"dtype": torch.float32}
        if AutoConfig.from_pretrained(self.source.base_path).model_type.startswith("gemma"):
            kwargs["attn_implementation"] = "eager"
        try:
            return AutoModelForCausalLM.from_pretrained(self.source.base_path, **kwargs)
        except (OSError, ValueError) as exc:
            raise UserFacingError(f"Could not load the base model '{self.source.base_path}': {exc}") from None

    def _peft_from(self, folder: Path) -> Any:
        from peft import PeftModel

        base = self._load_base()
        try:
            return PeftModel.from_pretrained(base, str(folder)).eval()
        except Exception as exc:  # noqa: BLE001 - any loader failure (e.g. SafetensorError) means unreadable
            raise UserFacingError(f"Could not load the adapter in {folder}: {exc}") from None

    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from medgemma.training.model import load_tokenizer

            self._tokenizer = load_tokenizer(self.source.base_path)
        return self._tokenizer

    def shipped_ids(self) -> list[int]:
        """The verification prompt as the tokenizer files written into the export tokenize it."""
        from transformers import AutoTokenizer

        return list(AutoTokenizer.from_pretrained(self.stage)(self.reference().prompt)["input_ids"])

    def reference(self) -> Reference:
        """Load base + adapter in fp32 and take the greedy reference (before any merge)."""
        if self.ref is None:
            import torch

            from medgemma.training.model import make_renderer

            if self.settings.threads:
                torch.set_num_threads(self.settings.threads)
            self.progress(0.1, "loading the base model and the adapter")
            self._peft = self._peft_from(self.source.adapter_dir)
            render = make_renderer(self.source.template, self.tokenizer())
            prompt = render([{"role": "user", "content": verify.VERIFY_QUESTION}], True)
            self.progress(0.2, "PyTorch reference (greedy tokens and logits)")
            self.ref = verify.build_reference(self._peft, self.tokenizer(), prompt)
        return self.ref

    def merged(self) -> Any:
        if self._merged is None:
            self.reference()
            self.progress(0.3, "merging the LoRA weights into the base model")
            self._merged = self._peft.merge_and_unload()
            self._peft = None
        return self._merged

    # ---- writers ----------------------------------------------------------------------------
    def save_tokenizer(self, folder: Path) -> None:
        """The base's tokenizer files as they are (tokenizer.model kept for GGUF), plus a chat template."""
        base = Path(self.source.base_path)
        copied = False
        if base.is_dir():
            for name in TOKENIZER_FILES:
                if (base / name).is_file():
                    shutil.copy2(base / name, folder / name)
                    copied = True
        if not copied:
            self.tokenizer().save_pretrained(folder)
        template = chat_template_for(self.source.template)
        if template and not (folder / "chat_template.jinja").is_file():
            config = read_json(folder / "tokenizer_config.json", {}) or {}
            if not config.get("chat_template"):
                (folder / "chat_template.jinja").write_text(template, encoding="utf-8")

    def conversion_view(self, folder: Path, into: Path | None = None) -> Path:
        """A folder llama.cpp's converter reads right: transformers 5 no longer writes added_tokens_decoder,
        without which a sentencepiece vocab loses its special tokens (<start_of_turn> becomes text).
        With `into`, the source files are linked there instead of changing `folder`."""
        config = read_json(folder / "tokenizer_config.json", {}) or {}
        added = (read_json(folder / "tokenizer.json", {}) or {}).get("added_tokens", [])
        if config.get("added_tokens_decoder") or not added or not (folder / "tokenizer.model").is_file():
            return folder
        if into is not None:
            into.mkdir()
            for p in folder.iterdir():
                if p.name != "tokenizer_config.json":
                    (into / p.name).symlink_to(p.resolve())
            folder = into
        keys = ("content", "lstrip", "normalized", "rstrip", "single_word", "special")
        config["added_tokens_decoder"] = {str(t["id"]): {k: t[k] for k in keys if k in t} for t in added}
        atomic_write_json(folder / "tokenizer_config.json", config)
        return folder

    def save_merged(self, folder: Path, dtype: str) -> None:
        import torch

        model = self.merged()
        self.merged_type = model.config.model_type
        model.to(getattr(torch, dtype))
        model.save_pretrained(folder, safe_serialization=True)
        self.save_tokenizer(folder)

    # ---- formats ----------------------------------------------------------------------------
    def build(self, fmt: str) -> list[Check]:
        if fmt == "lora":
            return self.lora()
        if fmt in ("merged-fp32", "merged-fp16"):
            return self.merged_checkpoint("float32" if fmt.endswith("32") else "float16")
        if fmt == "gguf" or fmt in GGUF_QUANT:
            return self.gguf(GGUF_QUANT.get(fmt, "f16"))
        if fmt == "gguf-lora":
            return self.gguf_lora()
        if fmt == "onnx":
            return self.onnx()
        if fmt == "tensorrt":
            return self.tensorrt()
        raise UserFacingError(f"Unknown export format '{fmt}'.")

    def lora(self) -> list[Check]:
        ref = self.reference()
        self.progress(0.4, "copying the adapter, tokenizer and chat template")
        for name in ADAPTER_FILES:
            shutil.copy2(self.source.adapter_dir / name, self.stage / name)
        config = read_json(self.stage / "adapter_config.json", {})
        if self.source.spec is not None and self.source.spec.hub_id:
            config["base_model_name_or_path"] = self.source.spec.hub_id
        atomic_write_json(self.stage / "adapter_config.json", config)
        meta = {k: v for k, v in self.source.meta.items() if k != "base_model_path"}
        atomic_write_json(self.stage / "medgemma.json", meta)
        self.save_tokenizer(self.stage)
        self.progress(0.7, "verifying: base + exported adapter with PEFT")
        model = self._peft_from(self.stage)
        return [
            verify.check_logits_fn(
                ref,
                "PEFT reload",
                "exact",
                verify.torch_logits_fn(model),
                self.shipped_ids(),
                self.tokenizer().decode,
            )
        ]

    def merged_checkpoint(self, dtype: str) -> list[Check]:
        ref = self.reference()
        self.merged()
        self.progress(0.4, f"saving the merged checkpoint ({dtype})")
        self.save_merged(self.stage, dtype)
        self.progress(0.7, "verifying: reload with plain transformers")
        if dtype == "float32":
            return [verify.check_transformers(ref, self.stage, "exact", dtype)]
        # the fp16 weights, computed in fp32: Gemma 3 activations overflow in fp16 arithmetic (NaN logits
        # measured with the 270M), so the card tells users to compute in bfloat16 or float32
        check = verify.check_transformers(ref, self.stage, "close", "float32")
        check.name = "transformers float16 weights (float32 compute)"
        if self.merged_type.startswith("gemma"):
            self.notes.append(
                "Load with dtype=torch.bfloat16 or torch.float32: Gemma 3 overflows in float16 "
                "arithmetic (NaN logits)."
            )
        return [check]

    def _gguf_supported(self, config: Any) -> None:
        """llama.cpp scales Gemma 3 attention by 1/sqrt(head_dim); other scalars would convert wrongly."""
        if config.model_type.startswith("gemma3"):
            qpas, head = getattr(config, "query_pre_attn_scalar", None), getattr(config, "head_dim", None)
            if qpas and head and qpas != head:
                raise FeatureUnavailable(
                    f"This Gemma 3 model has query_pre_attn_scalar={qpas} but head_dim={head}; llama.cpp "
                    "assumes they are equal, so its GGUF would give wrong answers. Use ONNX or a merged export."
                )

    def gguf(self, qtype: str) -> list[Check]:
        from medgemma.export import gguf as export_gguf

        ref = self.reference()
        hf = self.work / "merged-hf"
        hf.mkdir()
        self._gguf_supported(self.merged().config)
        self.progress(0.35, "saving the merged model for conversion")
        self.save_merged(hf, "float32")
        self.conversion_view(hf)
        self._merged = None  # free memory: conversion runs in a subprocess
        name = f"{self.source.name}-{qtype}.gguf"
        f16 = self.stage / name if qtype == "f16" else self.work / f"{self.source.name}-f16.gguf"
        self.progress(0.45, "converting to GGUF f16 (llama.cpp convert_hf_to_gguf)")
        export_gguf.convert_hf(self.settings, hf, f16, "f16")
        if qtype != "f16":
            self.progress(0.6, f"quantizing to {qtype} (llama.cpp)")
            export_gguf.quantize(f16, self.stage / name, qtype, self.settings.threads)
        shutil.rmtree(hf, ignore_errors=True)
        self.progress(0.75, "verifying: load in llama.cpp and generate")
        checks = [
            verify.check_llamacpp(
                ref,
                self.stage / name,
                "close" if qtype == "f16" else "quantized",
                threads=self.settings.threads,
            )
        ]
        if qtype != "f16":
            checks.append(verify.check_llamacpp(ref, f16, "close", threads=self.settings.threads))
            checks[-1].name += " (f16 before quantizing)"
        return checks

    def gguf_lora(self) -> list[Check]:
        from medgemma.export import gguf as export_gguf
        from medgemma.models.presets import gguf_file

        ref = self.reference()
        self._gguf_supported(self._peft.get_base_model().config)
        name = f"{self.source.name}-lora-f16.gguf"
        self.progress(0.4, "converting the adapter to a GGUF LoRA (llama.cpp convert_lora_to_gguf)")
        export_gguf.convert_lora(
            self.settings, self.source.adapter_dir, Path(self.source.base_path), self.stage / name, "f16"
        )
        spec = self.source.spec
        if spec is not None and (spec.packaged or spec.source == "gguf"):
            base, level = gguf_file(spec, self.settings), "quantized"
            self.notes.append(f"Verified on top of the packaged base {base.name}.")
        else:
            self.progress(0.55, "converting the base model to GGUF f16 for the check")
            view = self.conversion_view(Path(self.source.base_path), self.work / "base-view")
            base, level = (
                export_gguf.convert_hf(self.settings, view, self.work / "base-f16.gguf", "f16"),
                "close",
            )
            self.notes.append("Apply it on a GGUF of the same base model (verified on an f16 conversion).")
        self.progress(0.75, "verifying: base GGUF + LoRA in llama.cpp")
        return [
            verify.check_llamacpp(ref, base, level, lora=self.stage / name, threads=self.settings.threads)
        ]

    def onnx(self) -> list[Check]:
        from medgemma.export import onnx as export_onnx

        ref = self.reference()
        model = self.merged()
        self.progress(0.4, "exporting to ONNX (torch.onnx dynamo; a few minutes for 270M)")
        path = export_onnx.export_onnx(model, self.stage, self._max_length())
        model.config.save_pretrained(self.stage)
        self.save_tokenizer(self.stage)
        self._merged = None
        self.progress(0.75, "verifying with onnxruntime")
        run = export_onnx.logits_fn(export_onnx.session(path, self.settings.threads))
        return [
            verify.check_logits_fn(
                ref, "onnxruntime", "exact", run, self.shipped_ids(), self.tokenizer().decode
            )
        ]

    def tensorrt(self) -> list[Check]:
        from medgemma.export import onnx as export_onnx
        from medgemma.export import tensorrt as export_tensorrt

        export_tensorrt.check_available()
        ref = self.reference()
        limit = min(self._max_length(), 4096)
        self.progress(0.4, "exporting to ONNX for TensorRT")
        onnx = export_onnx.export_onnx(self.merged(), self.work, limit)
        self.merged().config.save_pretrained(self.stage)
        self.save_tokenizer(self.stage)
        self._merged = None
        self.progress(0.55, "building the TensorRT engine")
        engine = export_tensorrt.build_engine(onnx, self.stage / export_tensorrt.ENGINE_FILE, limit)
        self.progress(0.75, "verifying the engine")
        return [
            verify.check_logits_fn(
                ref, "TensorRT", "close", export_tensorrt.runner(engine), decode=self.tokenizer().decode
            )
        ]

    def _max_length(self) -> int:
        config = self.merged().config
        return int(
            min(getattr(config, "max_position_embeddings", 4096) or 4096, self.settings.context_window)
        )
