"""Export: a trained LoRA adapter to LoRA, merged FP16/FP32, GGUF (and a GGUF LoRA), ONNX or a
TensorRT engine, each built in a staging folder, verified against the PyTorch model, given a model
card and a manifest, evaluated on request, and published to the Hugging Face Hub.

`exporter` is the entry point (`export`, `list_exports`); `build`, `verify`, `card`, one module per
format (`gguf`, `onnx`, `tensorrt`), `artifact_eval` and `publish` do the parts. No Gradio here.
Public names are imported lazily, so `import medgemma.export` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medgemma import lazy_exports

_EXPORTS = {
    "FORMATS": "exporter",
    "ExportResult": "exporter",
    "export": "exporter",
    "list_exports": "exporter",
    "read_export": "exporter",
    "evaluate_artifact": "artifact_eval",
    # `publish` and the format modules are submodules: `from medgemma.export import publish`
    "plan": "publish",
    "check_available": "tensorrt",
}
__all__ = [
    "ExportResult",
    "FORMATS",
    "check_available",
    "evaluate_artifact",
    "export",
    "list_exports",
    "plan",
    "read_export",
]

if TYPE_CHECKING:
    from medgemma.export.artifact_eval import evaluate_artifact
    from medgemma.export.exporter import FORMATS, ExportResult, export, list_exports, read_export
    from medgemma.export.publish import plan
    from medgemma.export.tensorrt import check_available


__getattr__ = lazy_exports(__name__, _EXPORTS)
