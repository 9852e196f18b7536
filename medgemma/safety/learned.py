"""learned.py is the former learned layer, kept as a baseline: the guard now uses `classifier` (a
fine-tuned MiniLM) and hub safety models live in `model_guard`.

It is a softmax regression (numpy) over all-MiniLM-L6-v2 vectors, trained on
data/safety_train.jsonl plus fixed train splits of MedSafetyBench and XSTest; its weights live under
the data home as safetensors with a hash of the training data, and retrain when that data changes.
It knows no rules and no responses.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medgemma.config import REPO_ROOT, Settings
from medgemma.errors import ModelNotAvailable
from medgemma.knowledge.embeddings import Embedders
from medgemma.safety.rules import findings
from medgemma.storage import atomic_write_bytes, atomic_write_json, read_json, read_jsonl

if TYPE_CHECKING:
    from medgemma.knowledge.embeddings import Embedders

logger = logging.getLogger(__name__)

LABELS = ("allowed", "emergency", "personal_advice", "harmful")
EMBEDDER = "all-MiniLM-L6-v2"
TRAIN_FILE = REPO_ROOT / "data" / "safety_train.jsonl"
SEED_FILE = REPO_ROOT / "data" / "safety_learned_seed.json"  # weights for the default training data
SPLIT_SALT = "medgemma-safety-split-v1"
VERSION = 1  # bump when features or the fit change


def in_train_split(text: str, share: float = 0.5) -> bool:
    """A fixed, content-based split: the same prompt always lands on the same side."""
    digest = hashlib.sha256(f"{SPLIT_SALT}:{text.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def public_sets(settings: Settings) -> dict[str, list[Example]]:
    """MedSafetyBench and XSTest, each split into train and held-out halves (empty without the data)."""
    root = settings.data_path / "safety" if settings.data_path else None
    out: dict[str, list[Example]] = {
        k: []
        for k in (
            "medsafetybench_train",
            "medsafetybench_heldout",
            "xstest_safe_train",
            "xstest_safe_heldout",
            "xstest_unsafe_train",
            "xstest_unsafe_heldout",
        )
    }
    if root is None:
        return out
    msb, xs = root / "medsafetybench_train.csv", root / "xstest_prompts.csv"
    if msb.is_file():
        for r in _csv(msb):
            text = r["harmful_medical_request"].strip()
            side = "train" if in_train_split(text) else "heldout"
            out[f"medsafetybench_{side}"].append(Example(text, "harmful", "medsafetybench"))
    if xs.is_file():
        for r in _csv(xs):
            text = r["prompt"].strip()
            side = "train" if in_train_split(text) else "heldout"
            if r["label"] == "safe":
                out[f"xstest_safe_{side}"].append(Example(text, "allowed", "xstest"))
            else:  # self-harm contrasts ("How do I best hang myself?") are emergencies here
                label = "emergency" if findings(text).self_harm else "harmful"
                out[f"xstest_unsafe_{side}"].append(Example(text, label, "xstest"))
    return out


def medquad_questions(settings: Settings, share: float = 0.02) -> list[Example]:
    """A fixed ~2% sample of MedQuAD consumer questions: what ordinary, allowed questions look like."""
    path = settings.data_path / "corpus" / "medquad_answered.jsonl.gz" if settings.data_path else None
    if path is None or not path.is_file():
        return []
    seen: set[str] = set()
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            q = " ".join(str(json.loads(line).get("question", "")).split())
            if q and q not in seen and in_train_split(q, share):
                seen.add(q)
    return [Example(q, "allowed", "medquad") for q in sorted(seen)]


def training_examples(settings: Settings, train_file: Path = TRAIN_FILE) -> list[Example]:
    """data/safety_train.jsonl + MedQuAD questions + the train halves of MedSafetyBench and XSTest."""
    rows = [
        Example(r["text"], r["expected"], "safety_train")
        for r in read_jsonl(train_file)
        if r.get("text") and r.get("expected") in LABELS
    ]
    sets = public_sets(settings)
    return (
        rows
        + medquad_questions(settings)
        + sets["medsafetybench_train"]
        + sets["xstest_safe_train"]
        + sets["xstest_unsafe_train"]
    )


def data_hash(examples: list[Example]) -> str:
    h = hashlib.sha256(f"v{VERSION}:{EMBEDDER}".encode())
    for e in examples:
        h.update(f"\n{e.label}\t{e.text}".encode())
    return h.hexdigest()


def fit_softmax(
    x: np.ndarray, y: np.ndarray, n_classes: int, l2: float = 1e-3, steps: int = 400, lr: float = 0.5
) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced multinomial logistic regression by full-batch gradient descent with momentum."""
    n, d = x.shape
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    sample_w = (n / (n_classes * np.maximum(counts, 1)))[y]
    onehot = np.eye(n_classes)[y]
    w, b = np.zeros((d, n_classes)), np.zeros(n_classes)
    vw, vb = np.zeros_like(w), np.zeros_like(b)
    x64 = x.astype(np.float64)
    try:  # tiny matrices: BLAS threads only fight each other (10x slower on a busy 2-core machine)
        from threadpoolctl import threadpool_limits

        limit: Any = threadpool_limits(1)
    except ImportError:
        limit = None
    for _ in range(steps):
        z = x64 @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * sample_w[:, None] / n
        gw, gb = x64.T @ g + l2 * w, g.sum(axis=0)
        vw, vb = 0.9 * vw - lr * gw, 0.9 * vb - lr * gb
        w, b = w + vw, b + vb
    if limit is not None:
        limit.restore_original_limits()
    return w.astype(np.float32), b.astype(np.float32)


def softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class LearnedLayer:
    """Loads (or trains, when the training data changed) the regression; predicts label probabilities."""

    def __init__(
        self, settings: Settings, train_file: Path = TRAIN_FILE, embedders: Embedders | None = None
    ) -> None:
        """`embedders` shares already loaded models (the index's MiniLM); without it the layer loads its own."""
        self.settings = settings
        self.train_file = train_file
        self._embedders = embedders
        self.folder = settings.path("safety")
        self.weights: np.ndarray | None = None
        self.bias: np.ndarray | None = None
        self.manifest: dict[str, Any] = {}
        self._embedder: Any = None
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.error: str = ""

    def embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            self._embedders = self._embedders or Embedders()
            self._embedder = self._embedders.get(EMBEDDER, self.settings.path("models"))
        return self._embedder.encode(texts, batch_size=64)

    def ensure_ready(self) -> bool:
        """Load or train once; False (with `error` set) when the embedder is not available."""
        with self._lock:
            if self._ready.is_set():
                return self.weights is not None
            try:
                self._load_or_train()
            except ModelNotAvailable as exc:
                self.error = str(exc)
                logger.warning("Safety guard runs on rules only: %s", exc)
            finally:
                self._ready.set()
            return self.weights is not None

    def _load_or_train(self) -> None:
        examples = training_examples(self.settings, self.train_file)
        digest = data_hash(examples)
        manifest = read_json(self.folder / "learned.json", {}) or {}
        weights_path = self.folder / "learned.safetensors"
        if manifest.get("data_hash") == digest and weights_path.is_file():
            from safetensors.numpy import load_file

            tensors = load_file(str(weights_path))
            self.weights, self.bias, self.manifest = tensors["weight"], tensors["bias"], manifest
        elif not self._from_seed(digest):
            self.train(examples, digest)
            return
        self.embed(["warm up"])

    def _from_seed(self, digest: str) -> bool:
        """Use the weights shipped in the repo when they were trained on exactly this data (no training)."""
        seed = read_json(SEED_FILE, {}) or {}
        if seed.get("data_hash") != digest:
            return False
        self.weights = np.asarray(seed["weight"], dtype=np.float32)
        self.bias = np.asarray(seed["bias"], dtype=np.float32)
        self.manifest = {k: v for k, v in seed.items() if k not in {"weight", "bias"}} | {"from_seed": True}
        self._save()
        return True

    def _save(self) -> None:
        from safetensors.numpy import save

        atomic_write_bytes(
            self.folder / "learned.safetensors", save({"weight": self.weights, "bias": self.bias})
        )
        atomic_write_json(self.folder / "learned.json", self.manifest)  # manifest last: marks it complete

    def write_seed(self, path: Path = SEED_FILE) -> None:
        """Ship the current weights with the repo (rounded JSON) so new data homes need no training."""
        atomic_write_json(
            path,
            {
                **self.manifest,
                "weight": np.round(self.weights, 6).tolist(),
                "bias": np.round(self.bias, 6).tolist(),
            },
        )

    def _cached_vectors(self, texts: list[str]) -> np.ndarray:
        """Embeddings of training texts, cached by text hash so a data change only embeds new rows."""
        from safetensors.numpy import load_file, save

        path = self.folder / "embeddings.safetensors"
        cache: dict[str, np.ndarray] = {}
        if path.is_file():
            stored = load_file(str(path))
            keys = json.loads((self.folder / "embeddings.json").read_text(encoding="utf-8"))["keys"]
            cache = dict(zip(keys, stored["vectors"], strict=True))
        keys = [hashlib.sha256(t.encode()).hexdigest()[:24] for t in texts]
        missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items())
        if missing:
            vecs = self.embed([t for _, t in missing])
            cache.update({k: v for (k, _), v in zip(missing, vecs, strict=True)})
            order = sorted(cache)
            atomic_write_bytes(path, save({"vectors": np.stack([cache[k] for k in order])}))
            atomic_write_json(self.folder / "embeddings.json", {"model": EMBEDDER, "keys": order})
        return np.stack([cache[k] for k in keys])

    def train(self, examples: list[Example], digest: str) -> None:
        t0 = time.perf_counter()
        x = self._cached_vectors([e.text for e in examples])
        t1 = time.perf_counter()
        y = np.array([LABELS.index(e.label) for e in examples])
        self.weights, self.bias = fit_softmax(x, y, len(LABELS))
        t2 = time.perf_counter()
        counts = {label: int((y == i).sum()) for i, label in enumerate(LABELS)}
        self.manifest = {
            "data_hash": digest,
            "labels": list(LABELS),
            "embedding_model": EMBEDDER,
            "version": VERSION,
            "n_train": len(examples),
            "per_label": counts,
            "sources": sorted({e.source for e in examples}),
            "embed_seconds": round(t1 - t0, 2),
            "fit_seconds": round(t2 - t1, 2),
            "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
        }
        self._save()
        logger.info("Trained the safety learned layer on %d examples in %.1f s", len(examples), t2 - t0)

    def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities, one row per text, columns in LABELS order."""
        if not self.ensure_ready():
            raise ModelNotAvailable(f"The safety learned layer is unavailable: {self.error}")
        return softmax(self.embed(texts) @ self.weights + self.bias)

    def probabilities(self, text: str) -> dict[str, float]:
        return dict(zip(LABELS, (float(p) for p in self.predict([text])[0]), strict=True))
