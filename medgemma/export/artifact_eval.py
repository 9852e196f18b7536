"""artifact_eval.py scores an exported artifact with the evaluation runner (evaluate.run_eval), so a
conversion or quantization can be compared with the PyTorch adapter on the same suite and sample.

GGUF files run in llama.cpp, merged folders in transformers, ONNX folders in onnxruntime (OnnxBackend),
GGUF LoRAs on the packaged base. It knows nothing about metrics or how the artifact was made.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.export.card import MANIFEST
from medgemma.storage import read_json


def artifact_model(path: str | Path) -> tuple[str, str, str]:
    """(kind, model, adapter) for load_backend / OnnxBackend: kind is gguf, gguf-lora, merged, lora or onnx."""
    from medgemma.export.onnx import is_onnx_export

    p = Path(path).expanduser().resolve()
    if p.is_file() and p.suffix == ".gguf":
        return "gguf", str(p), ""
    if not p.is_dir():
        raise InputRejected(f"{p} is neither a .gguf file nor an export folder.")
    manifest = read_json(p / MANIFEST, {}) or {}
    fmt = manifest.get("format", "")
    if is_onnx_export(p):
        return "onnx", str(p), ""
    ggufs = sorted(p.glob("*.gguf"))
    if fmt == "gguf-lora" and ggufs:
        return "gguf-lora", manifest.get("base_model", ""), str(ggufs[0])
    if ggufs:
        return "gguf", str(ggufs[0]), ""
    if (p / "adapter_config.json").is_file():
        return "lora", manifest.get("base_model", ""), str(p)
    if (p / "config.json").is_file():
        return "merged", str(p), ""
    raise InputRejected(f"{p} holds no model this platform can evaluate (GGUF, ONNX, merged or LoRA).")


def evaluate_artifact(
    settings: Settings,
    path: str | Path,
    suite: str,
    rag: bool = False,
    limit: int | None = None,
    seed: int = 0,
    folder: str | Path | None = None,
    progress: Any = None,
    data: str | Path | None = None,
    mode: str = "auto",
) -> dict[str, Any]:
    """Run `suite` on the exported model at `path` and return the summary (the run is kept on disk)."""
    from medgemma.chat.services import Services
    from medgemma.evaluation.runner import run_eval

    kind, model, adapter = artifact_model(path)
    services = None
    if kind == "onnx":
        from medgemma.export.onnx import OnnxBackend

        services = Services(settings, backend=OnnxBackend(model, settings))
    if not model:
        raise InputRejected(f"{path}: its manifest does not name the base model to apply the adapter to.")
    return run_eval(
        settings,
        suite,
        model=model,
        adapter=adapter,
        rag=rag,
        limit=limit,
        progress=progress,
        seed=seed,
        services=services,
        folder=folder,
        data=data,
        mode=mode,
    )
