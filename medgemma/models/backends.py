"""backends.py streams text from a model through one interface, whatever runs it.

Backends: llama.cpp on a GGUF file (fast on CPU), transformers (training, adapters, GPUs, Hub models),
and an OpenAI-compatible HTTP endpoint (vLLM, TGI, llama.cpp server). It knows nothing about
retrieval, citations or safety.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol

from medgemma.chat.prompts import RENDERERS
from medgemma.config import Settings
from medgemma.errors import ModelNotAvailable
from medgemma.models.adapters import REFERENCE_BASE
from medgemma.models.adapters import fits as adapter_fits
from medgemma.models.adapters import resolve as resolve_adapter
from medgemma.models.devices import pick_device, pick_dtype, torch_dtype
from medgemma.models.llamacpp_load import load_llama
from medgemma.models.presets import ModelSpec, gguf_file, hf_model_path, resolve_model
from medgemma.models.remote import OpenAIBackend
from medgemma.models.streaming import timed, until_stop_strings
from medgemma.types import GenerationParams, GenerationStats

logger = logging.getLogger(__name__)


class Backend(Protocol):
    name: str
    spec: ModelSpec
    adapter: str

    def render(self, messages: Sequence[dict]) -> str: ...

    def count_tokens(self, text: str) -> int: ...

    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        stats: GenerationStats | None = None,
        stop_event: threading.Event | None = None,
    ) -> Iterator[str]: ...


def _close_llama(ref: weakref.ref) -> None:
    llm = ref()
    if llm is not None:
        llm.close()


class LlamaCppBackend:
    """A GGUF model in llama.cpp (llama-cpp-python), optionally with a GGUF LoRA adapter."""

    name = "llamacpp"

    def __init__(self, spec: ModelSpec, path: Path, settings: Settings, lora_path: str = "") -> None:
        try:
            import llama_cpp  # noqa: F401
        except ImportError:
            raise ModelNotAvailable(
                "llama-cpp-python is not installed (pip install llama-cpp-python)."
            ) from None
        self.spec = spec
        self.adapter = lora_path
        self.path = path
        kwargs = dict(
            model_path=str(path),
            n_ctx=settings.context_window,
            verbose=False,
            n_threads=settings.threads or None,
            seed=0,
        )
        if lora_path:
            kwargs["lora_path"] = lora_path
        try:
            self._llm = load_llama(extra=settings.llamacpp_extra_buffers, **kwargs)
        except (ValueError, RuntimeError) as exc:
            raise ModelNotAvailable(f"llama.cpp could not load {path.name}: {exc}") from None
        self._lock = threading.Lock()
        atexit.register(_close_llama, weakref.ref(self._llm))  # free it before interpreter teardown

    def render(self, messages: Sequence[dict]) -> str:
        return RENDERERS.get(self.spec.template, RENDERERS["gemma"])(messages)

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        stats: GenerationStats | None = None,
        stop_event: threading.Event | None = None,
    ) -> Iterator[str]:
        with self._lock:  # one llama context: one generation at a time
            if stats is not None:
                stats.prompt_tokens = self.count_tokens(prompt) + 1
            chunks = self._llm.create_completion(
                prompt,
                max_tokens=params.max_new_tokens,
                temperature=params.temperature,
                top_p=params.top_p,
                repeat_penalty=params.repetition_penalty,
                stop=list(self.spec.stop_strings) + list(params.stop),
                stream=True,
                seed=params.seed if params.seed is not None else -1,
            )
            yield from timed((c["choices"][0]["text"] for c in chunks), stats, stop_event)


class TransformersBackend:
    """A causal LM in transformers with TextIteratorStreamer; LoRA adapters through PEFT."""

    name = "transformers"

    def __init__(self, spec: ModelSpec, model_path: str, settings: Settings, adapter: str = "") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.spec = spec
        self.adapter = adapter
        self.device = pick_device(settings.device)
        self.dtype = pick_dtype(self.device, settings.dtype)
        kwargs: dict = {"dtype": torch_dtype(self.dtype)}
        if "gemma" in (spec.hub_id or spec.location or "").lower():
            kwargs["attn_implementation"] = "eager"
        if settings.quantization != "none":
            kwargs["quantization_config"] = quantization_config(settings.quantization, self.dtype)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(model_path)
            model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
        except OSError as exc:
            raise ModelNotAvailable(f"Could not load model '{model_path}': {exc}") from None
        if settings.quantization == "none":
            model = model.to(self.device)
        if adapter:
            from peft import PeftModel

            try:
                model = PeftModel.from_pretrained(model, adapter)
            except (OSError, ValueError) as exc:
                raise ModelNotAvailable(f"Could not load adapter '{adapter}': {exc}") from None
        model.eval()
        if settings.threads:
            torch.set_num_threads(settings.threads)
        self.model = model
        self._lock = threading.Lock()

    def render(self, messages: Sequence[dict]) -> str:
        if self.spec.template in RENDERERS:
            return RENDERERS[self.spec.template](messages)
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                list(messages), tokenize=False, add_generation_prompt=True
            )
            bos = self.tokenizer.bos_token or ""
            return text[len(bos) :] if bos and text.startswith(bos) else text
        return RENDERERS["gemma"](messages)

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _stop_ids(self) -> list[int]:
        ids = set(self.spec.stop_token_ids)
        if self.tokenizer.eos_token_id is not None:
            ids.add(int(self.tokenizer.eos_token_id))
        for s in self.spec.stop_strings:
            tid = self.tokenizer.convert_tokens_to_ids(s)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                ids.add(tid)
        return sorted(ids)

    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        stats: GenerationStats | None = None,
        stop_event: threading.Event | None = None,
    ) -> Iterator[str]:
        import torch
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        halt = threading.Event()

        class _Stop(StoppingCriteria):
            def __call__(self, input_ids, scores, **kwargs) -> bool:  # noqa: ANN001
                return halt.is_set() or bool(stop_event is not None and stop_event.is_set())

        class _CountingStreamer(TextIteratorStreamer):
            n_tokens = 0

            def put(self, value):  # noqa: ANN001
                if not (self.skip_prompt and self.next_tokens_are_prompt):
                    self.n_tokens += int(value.numel())
                super().put(value)

        inputs = self.tokenizer(prompt, return_tensors="pt").to(self.model.device)
        streamer = _CountingStreamer(self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=600)
        sample = params.temperature > 0
        gen_kwargs = dict(
            **inputs,
            streamer=streamer,
            max_new_tokens=params.max_new_tokens,
            do_sample=sample,
            repetition_penalty=params.repetition_penalty,
            eos_token_id=self._stop_ids(),
            pad_token_id=self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
            stopping_criteria=StoppingCriteriaList([_Stop()]),
        )
        if sample:
            gen_kwargs.update(temperature=params.temperature, top_p=params.top_p)
        errors: list[BaseException] = []

        def work() -> None:
            try:
                if params.seed is not None:
                    torch.manual_seed(params.seed)
                with torch.inference_mode():
                    self.model.generate(**gen_kwargs)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the consumer thread
                errors.append(exc)
                streamer.end()

        local = stats if stats is not None else GenerationStats()
        with self._lock:
            thread = threading.Thread(target=work, daemon=True)
            thread.start()
            try:
                yield from timed(until_stop_strings(streamer, params.stop), local, stop_event)
            finally:
                halt.set()
                thread.join()
                local.prompt_tokens = int(inputs["input_ids"].shape[1])
                local.tokens = streamer.n_tokens
        if errors:
            raise errors[0]


def quantization_config(mode: str, dtype: str):
    """bitsandbytes 4-bit (NF4) or 8-bit loading; bitsandbytes 0.50 also runs on CPU."""
    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError:
        raise ModelNotAvailable("quantization needs bitsandbytes (pip install bitsandbytes).") from None

    if mode == "4bit":
        return BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_compute_dtype=torch_dtype(dtype),
            bnb_4bit_use_double_quant=True,
        )
    return BitsAndBytesConfig(load_in_8bit=True)


def choose_backend(spec: ModelSpec, settings: Settings, adapter: str = "") -> str:
    """auto: llama.cpp for GGUF models on CPU (5x faster here), transformers otherwise. A PEFT adapter
    needs transformers unless its verified GGUF LoRA sits next to it (see gguf_lora_of)."""
    if settings.backend != "auto":
        return settings.backend
    if spec.source == "gguf":
        return "llamacpp"
    if spec.packaged:
        if adapter and not adapter.endswith(".gguf") and not gguf_lora_of(adapter):
            return "transformers"
        return "llamacpp" if pick_device(settings.device) == "cpu" else "transformers"
    return "transformers"


def gguf_lora_of(adapter: str) -> str:
    """The GGUF LoRA that a gguf-lora export put next to a PEFT adapter folder (adapter.gguf), or ""."""
    if not adapter or adapter.endswith(".gguf"):
        return adapter or ""
    path = Path(adapter) / "adapter.gguf"
    return str(path) if path.is_file() else ""


def load_backend(settings: Settings, model: str | None = None, adapter: str | None = None) -> Backend:
    """Load the configured model on the configured backend (optionally with a LoRA adapter)."""

    spec = resolve_model(model or settings.model)
    adapter = resolve_adapter(settings, settings.adapter if adapter is None else adapter)
    if not adapter_fits(adapter, spec.name):
        logger.info("the reference adapter is trained for %s; %s runs without it", REFERENCE_BASE, spec.name)
        adapter = ""
    kind = choose_backend(spec, settings, adapter)
    logger.info("Loading %s on %s%s", spec.name, kind, f" with adapter {adapter}" if adapter else "")
    if kind == "llamacpp":
        lora = gguf_lora_of(adapter)
        if adapter and not lora:
            raise ModelNotAvailable(
                "llama.cpp applies GGUF LoRA adapters only; export the adapter to "
                "GGUF or use backend=transformers."
            )
        return LlamaCppBackend(spec, gguf_file(spec, settings), settings, lora)
    if kind == "transformers":
        return TransformersBackend(spec, hf_model_path(spec, settings), settings, adapter)
    if kind == "openai":
        return OpenAIBackend(spec, settings)
    raise ModelNotAvailable(f"Unknown backend '{kind}'.")
