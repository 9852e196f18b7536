"""onnx.py writes a causal LM as ONNX (torch.onnx.export, dynamo; no KV cache) and runs it.

The graph maps input_ids [1, seq] to logits [1, seq, vocab]; weights go to model.onnx.data. OnnxBackend
serves an exported folder through onnxruntime with the chat backends' interface (render, count_tokens,
stream), so the evaluation runner can score it. It knows nothing about adapters or model cards.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from medgemma.chat.prompts import RENDERERS
from medgemma.config import Settings
from medgemma.errors import FeatureUnavailable, ModelNotAvailable
from medgemma.models.presets import GEMMA_STOPS, ModelSpec
from medgemma.types import GenerationParams, GenerationStats

logger = logging.getLogger(__name__)

ONNX_FILE, DATA_FILE = "model.onnx", "model.onnx.data"
OPSET = 18


def export_onnx(model: Any, folder: Path, max_length: int = 4096) -> Path:
    """Export `model` (a transformers causal LM in fp32) to folder/model.onnx (+ model.onnx.data)."""
    import torch

    class LogitsOnly(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
            return self.inner(input_ids=input_ids, use_cache=False).logits

    try:
        import onnxscript  # noqa: F401 - torch's dynamo exporter needs it
    except ImportError:
        raise FeatureUnavailable(
            "ONNX export needs onnx and onnxscript (pip install onnx onnxscript)."
        ) from None
    for noisy in ("onnx_ir", "onnxscript"):  # one INFO line per rewritten initializer otherwise
        logging.getLogger(noisy).setLevel(logging.WARNING)
    wrapper = LogitsOnly(model).eval()
    example = torch.tensor([[int(getattr(model.config, "bos_token_id", None) or 1)] * 8])
    seq = torch.export.Dim("seq", min=1, max=max_length)
    started = time.perf_counter()
    with torch.inference_mode(False), torch.no_grad():
        program = torch.onnx.export(
            wrapper,
            (example,),
            dynamo=True,
            input_names=["input_ids"],
            output_names=["logits"],
            dynamic_shapes={"input_ids": {1: seq}},
            opset_version=OPSET,
            external_data=True,
            optimize=True,
            verbose=False,
        )
    path = folder / ONNX_FILE
    program.save(str(path), external_data=True)
    logger.info("ONNX graph written in %.0f s", time.perf_counter() - started)
    return path


def session(path: Path, threads: int = 0) -> Any:
    try:
        import onnxruntime as ort
    except ImportError:
        raise FeatureUnavailable("Running ONNX models needs onnxruntime (pip install onnxruntime).") from None
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own exception types
        raise ModelNotAvailable(f"onnxruntime could not load {path.name}: {exc}") from None


def logits_fn(sess: Any):
    """ids -> logits [len(ids), vocab] through an onnxruntime session."""

    def run(ids: list[int]) -> np.ndarray:
        return sess.run(["logits"], {"input_ids": np.array([ids], dtype=np.int64)})[0][0]

    return run


def is_onnx_export(path: str | Path) -> bool:
    return (Path(path) / ONNX_FILE).is_file() or Path(path).suffix == ".onnx"


class OnnxBackend:
    """An exported ONNX folder served through onnxruntime (greedy or sampled; recomputes the full
    sequence per token, as the graph has no KV cache)."""

    name = "onnx"

    def __init__(self, folder: str | Path, settings: Settings) -> None:
        from transformers import AutoTokenizer

        folder = Path(folder)
        folder = folder.parent if folder.suffix == ".onnx" else folder
        if not (folder / ONNX_FILE).is_file():
            raise ModelNotAvailable(f"No {ONNX_FILE} in {folder}.")
        meta = _read(folder / "manifest.json")
        gemma = (
            "gemma" in json.dumps(_read(folder / "config.json").get("model_type", ""))
            or "gemma" in str(meta.get("base_model", "")).lower()
        )
        self.spec = ModelSpec(
            name=folder.name,
            source="local",
            location=str(folder),
            template=meta.get("template") or "auto",
            instruct=True,
            stop_strings=GEMMA_STOPS if gemma else (),
            description="Exported ONNX model",
        )
        self.adapter = ""
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self._run = logits_fn(session(folder / ONNX_FILE, settings.threads))
        self._lock = threading.Lock()
        stops = {self.tokenizer.eos_token_id}
        for s in self.spec.stop_strings:
            tid = self.tokenizer.convert_tokens_to_ids(s)
            if isinstance(tid, int) and tid != self.tokenizer.unk_token_id:
                stops.add(tid)
        self._stop_ids = {t for t in stops if t is not None}

    def render(self, messages: Sequence[dict]) -> str:

        if self.spec.template in RENDERERS:
            return RENDERERS[self.spec.template](messages)
        text = self.tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)
        bos = self.tokenizer.bos_token or ""
        return text[len(bos) :] if bos and text.startswith(bos) else text

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def stream(
        self,
        prompt: str,
        params: GenerationParams,
        stats: GenerationStats | None = None,
        stop_event: threading.Event | None = None,
    ) -> Iterator[str]:
        stats = stats if stats is not None else GenerationStats()
        rng = np.random.default_rng(params.seed)
        ids = list(self.tokenizer(prompt)["input_ids"])
        stats.prompt_tokens = len(ids)
        start, new, emitted = time.perf_counter(), [], ""
        with self._lock:
            try:
                for _ in range(params.max_new_tokens):
                    if stop_event is not None and stop_event.is_set():
                        break
                    nxt = _pick(self._run(ids)[-1], ids, params, rng)
                    if stats.tokens == 0:
                        stats.ttft_s = time.perf_counter() - start
                    stats.tokens += 1
                    if nxt in self._stop_ids:
                        break
                    ids.append(nxt)
                    new.append(nxt)
                    text = self.tokenizer.decode(new, skip_special_tokens=True)
                    cut = min((text.find(s) for s in params.stop if s in text), default=-1)
                    if cut >= 0:
                        if cut > len(emitted):
                            yield text[len(emitted) : cut]
                        break
                    if len(text) > len(emitted) and not text.endswith("\ufffd"):
                        yield text[len(emitted) :]
                        emitted = text
            finally:
                stats.total_s = time.perf_counter() - start


def _pick(logits: np.ndarray, ids: list[int], params: GenerationParams, rng: np.random.Generator) -> int:
    """Next token: HF-style repetition penalty, then greedy or temperature + top-p sampling."""
    logits = logits.astype(np.float64)
    if params.repetition_penalty and params.repetition_penalty != 1.0:
        seen = np.unique(np.array(ids))
        vals = logits[seen]
        logits[seen] = np.where(vals > 0, vals / params.repetition_penalty, vals * params.repetition_penalty)
    if params.temperature <= 0:
        return int(np.argmax(logits))
    probs = np.exp((logits - logits.max()) / params.temperature)
    probs /= probs.sum()
    order = np.argsort(-probs)
    keep = order[: int(np.searchsorted(np.cumsum(probs[order]), params.top_p) + 1)]
    return int(rng.choice(keep, p=probs[keep] / probs[keep].sum()))


def _read(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
