"""Embedding backends: which runtime a setting picks (pure), and the real ONNX export of the packaged
MiniLM against its torch vectors (slow: export plus three encodes)."""

from __future__ import annotations

import numpy as np
import pytest

from medgemma.config import load_settings
from medgemma.errors import ModelNotAvailable
from medgemma.knowledge.embeddings import (
    AUTO_BACKEND_CPU,
    Embedder,
    default_embedding_model,
    resolve_backend,
    split_name,
    vector_space,
)


def test_backend_choice_and_names():
    assert resolve_backend("auto", "cpu") == AUTO_BACKEND_CPU
    assert resolve_backend("auto", "cuda") == "torch"
    assert resolve_backend("onnx-int8", "cpu") == "onnx-int8"
    assert resolve_backend("onnx", "cuda") == "torch"  # the exported graph runs on the CPU provider only
    assert default_embedding_model("auto", "cpu", "torch") == "all-MiniLM-L6-v2"
    assert default_embedding_model("sentence-transformers/all-MiniLM-L6-v2", "cpu", "onnx-int8") == (
        "all-MiniLM-L6-v2@onnx-int8"
    )
    assert split_name("all-MiniLM-L6-v2@onnx") == ("all-MiniLM-L6-v2", "onnx")
    assert split_name("all-mpnet-base-v2") == ("all-mpnet-base-v2", "torch")
    with pytest.raises(ModelNotAvailable):
        split_name("all-MiniLM-L6-v2@tensorrt")
    assert vector_space("all-MiniLM-L6-v2@onnx") == vector_space("all-MiniLM-L6-v2") == "all-MiniLM-L6-v2"
    assert vector_space("sentence-transformers/all-MiniLM-L6-v2@onnx-int8") == "all-MiniLM-L6-v2@onnx-int8"


def test_backend_setting_from_the_environment(monkeypatch):
    monkeypatch.setenv("MEDGEMMA_EMBEDDING_BACKEND", "onnx-int8")
    assert load_settings().embedding_backend == "onnx-int8"
    monkeypatch.setenv("MEDGEMMA_EMBEDDING_BACKEND", "tflite")
    with pytest.raises(Exception, match="embedding_backend"):
        load_settings()


@pytest.mark.slow
def test_onnx_export_matches_torch(tmp_path):
    pytest.importorskip("onnxruntime")
    texts = [
        "What are the symptoms of gout? Sudden, severe attacks of pain, redness and swelling in a joint.",
        "High blood pressure usually has no symptoms.",
        "short",
    ]
    torch_vecs = Embedder("all-MiniLM-L6-v2", tmp_path).encode(texts)
    fp32 = Embedder("all-MiniLM-L6-v2@onnx", tmp_path)
    int8 = Embedder("all-MiniLM-L6-v2@onnx-int8", tmp_path)
    assert (tmp_path / "onnx" / "all-MiniLM-L6-v2" / "model.onnx").is_file()
    assert (tmp_path / "onnx" / "all-MiniLM-L6-v2" / "model_qint8.onnx").is_file()
    assert fp32.name == "all-MiniLM-L6-v2" and fp32.dimension == 384  # same vectors: an index is kept
    assert int8.name == "all-MiniLM-L6-v2@onnx-int8"  # other vectors: an index built on torch is rebuilt
    v32, v8 = fp32.encode(texts), int8.encode(texts)
    assert np.allclose(np.linalg.norm(v32, axis=1), 1.0, atol=1e-5)
    assert float((v32 * torch_vecs).sum(axis=1).min()) > 0.9999
    cos8 = (v8 * torch_vecs).sum(axis=1)
    assert 0.8 < float(cos8.min()) < 0.99999  # quantized: close, not equal
    assert int8.encode([texts[0]]).shape == (1, 384)


@pytest.mark.slow
def test_switching_to_int8_rebuilds_and_onnx_keeps_the_index(tmp_path, monkeypatch):
    from medgemma.knowledge.base import KnowledgeBase

    monkeypatch.setenv("MEDGEMMA_HOME", str(tmp_path / "home"))
    (tmp_path / "flu.txt").write_text("Influenza is a contagious respiratory illness caused by flu viruses.")
    (tmp_path / "gout.txt").write_text("Gout is a painful arthritis: uric acid crystals build up in a joint.")
    (tmp_path / "asthma.txt").write_text(
        "Asthma narrows the airways; wheezing and chest tightness are common."
    )
    KnowledgeBase(load_settings(overrides={"embedding_backend": "torch"})).add_files([tmp_path / "flu.txt"])

    onnx = KnowledgeBase(load_settings(overrides={"embedding_backend": "onnx"}))
    assert "warning" not in onnx.stats()  # the same vectors: nothing to rebuild
    messages: list[str] = []
    onnx.add_files([tmp_path / "gout.txt"], progress=lambda f, m: messages.append(m))
    assert not any("rebuilding" in m for m in messages)
    assert onnx.snapshot().manifest["embedding_backend"] == "onnx"

    int8 = KnowledgeBase(load_settings(overrides={"embedding_backend": "onnx-int8"}))
    assert "all-MiniLM-L6-v2@onnx-int8" in int8.stats()["warning"]
    int8.add_files([tmp_path / "asthma.txt"], progress=lambda f, m: messages.append(m))
    assert any("built with all-MiniLM-L6-v2 but" in m and "rebuilding all 2 documents" in m for m in messages)
    snap = int8.snapshot()
    assert snap.model == "all-MiniLM-L6-v2@onnx-int8" and len({c.doc_id for c in snap.chunks}) == 3
    assert int8.search("swollen big toe joint", k=1)[0].chunk.doc_id == "gout.txt"
