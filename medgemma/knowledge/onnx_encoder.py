"""onnx_encoder.py runs a local sentence-transformers model (Transformer -> mean pooling -> normalise) on
ONNX Runtime, fp32 or int8.

sentence-transformers' own `backend="onnx"` and `export_dynamic_quantized_onnx_model` need Optimum, whose
ONNX Runtime part (optimum-onnx) pins transformers < 4.58 and so cannot be installed beside this project's
transformers; the export is therefore torch.onnx on the model folder, and int8 is that file quantized with
onnxruntime.quantization.quantize_dynamic. Both are written once into the data home. It knows nothing
about indexes.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from medgemma.errors import ModelNotAvailable

logger = logging.getLogger(__name__)

ONNX_BACKENDS = ("onnx", "onnx-int8")
_EXPORT_LOCK = threading.Lock()


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}


def _check_mean_pooling(model_dir: Path) -> None:
    pooling = _read_json(model_dir / "1_Pooling" / "config.json")
    if pooling and not pooling.get("pooling_mode_mean_tokens"):
        raise ModelNotAvailable(
            f"The ONNX backend supports mean-pooling models only; {model_dir.name} pools differently: "
            "use MEDGEMMA_EMBEDDING_BACKEND=torch."
        )


def export_onnx(model_dir: Path, target: Path) -> Path:
    """The model folder's transformer as an fp32 ONNX graph (token embeddings out), written atomically."""
    import torch
    from transformers import AutoModel

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = AutoModel.from_pretrained(str(model_dir)).eval()

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    model = TokenEmbeddings().eval()
    ids = torch.ones((2, 8), dtype=torch.long)
    inputs = (ids, torch.ones_like(ids), torch.zeros_like(ids))
    names = ["input_ids", "attention_mask", "token_type_ids"]
    axes = {n: {0: "batch", 1: "sequence"} for n in names}
    axes["token_embeddings"] = {0: "batch", 1: "sequence"}
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    with torch.no_grad():
        torch.onnx.export(
            model,
            inputs,
            str(tmp),
            input_names=names,
            output_names=["token_embeddings"],
            dynamic_axes=axes,
            opset_version=17,
            dynamo=False,
        )
    os.replace(tmp, target)
    return target


def quantize_int8(fp32: Path, target: Path) -> Path:
    """Dynamic int8 quantization of the weights (activations quantized at run time), written atomically."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    quantize_dynamic(str(fp32), str(tmp), weight_type=QuantType.QInt8)
    os.replace(tmp, target)
    return target


def onnx_file(model_dir: Path, cache_dir: Path, backend: str) -> Path:
    """The ONNX file for `backend` under cache_dir, exported (and quantized) on first use."""
    if not (model_dir / "config.json").is_file():
        raise ModelNotAvailable(
            f"The ONNX backend needs a local model folder; {model_dir} is not one: use "
            "MEDGEMMA_EMBEDDING_BACKEND=torch."
        )
    _check_mean_pooling(model_dir)
    fp32 = cache_dir / "model.onnx"
    with _EXPORT_LOCK:
        if not fp32.is_file():
            logger.info("exporting %s to ONNX in %s (once)", model_dir.name, cache_dir)
            export_onnx(model_dir, fp32)
        if backend == "onnx":
            return fp32
        int8 = cache_dir / "model_qint8.onnx"
        if not int8.is_file():
            logger.info("quantizing %s to int8 (once)", fp32)
            quantize_int8(fp32, int8)
        return int8


class OnnxEncoder:
    """The subset of SentenceTransformer the project uses (encode, tokenizer, max_seq_length, dimension)."""

    def __init__(self, model_dir: Path, onnx_path: Path) -> None:
        import onnxruntime as ort
        from transformers import AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
        config = _read_json(model_dir / "sentence_bert_config.json")
        self.max_seq_length = int(config.get("max_seq_length") or self.tokenizer.model_max_length)
        self.do_lower_case = bool(config.get("do_lower_case", False))
        options = ort.SessionOptions()
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self._inputs = {i.name for i in self.session.get_inputs()}
        self.path = onnx_path
        self._dimension = int(_read_json(model_dir / "config.json").get("hidden_size", 0))

    def get_sentence_embedding_dimension(self) -> int:
        return self._dimension

    def _batch(self, texts: list[str], normalize: bool) -> np.ndarray:
        if self.do_lower_case:
            texts = [t.lower() for t in texts]
        enc = self.tokenizer(
            texts, padding=True, truncation=True, max_length=self.max_seq_length, return_tensors="np"
        )
        feed = {k: np.asarray(v, dtype=np.int64) for k, v in enc.items() if k in self._inputs}
        if "token_type_ids" in self._inputs and "token_type_ids" not in feed:
            feed["token_type_ids"] = np.zeros_like(feed["input_ids"])
        tokens = self.session.run(["token_embeddings"], feed)[0]
        mask = feed["attention_mask"][..., None].astype(np.float32)
        vecs = (tokens * mask).sum(axis=1) / np.clip(mask.sum(axis=1), 1e-9, None)
        if normalize:
            vecs = vecs / np.clip(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12, None)
        return vecs.astype(np.float32)

    def encode(
        self, sentences: Sequence[str], batch_size: int = 32, normalize_embeddings: bool = False, **_: object
    ) -> np.ndarray:
        """Like SentenceTransformer.encode (numpy out); extra keyword arguments are accepted and ignored."""
        texts = [sentences] if isinstance(sentences, str) else list(sentences)
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), self._dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._batch([texts[i] for i in rows], normalize_embeddings)
        return out[0] if isinstance(sentences, str) else out
