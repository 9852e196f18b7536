"""Models: named presets and packaged weights, device and dtype choice, LoRA adapters, and the
generation backends (llama.cpp, transformers, an OpenAI-compatible server) behind one interface.

It knows nothing of retrieval, prompts or safety: a backend turns prompt text into streamed text.
Public names are imported lazily, so `import medgemma.models` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medgemma import lazy_exports

_EXPORTS = {
    "AdapterInfo": "adapters",
    "list_adapters": "adapters",
    "get_adapter": "adapters",
    "active_adapter_path": "adapters",
    "Backend": "backends",
    "load_backend": "backends",
    "choose_backend": "backends",
    "pick_device": "devices",
    "pick_dtype": "devices",
    "PRESETS": "presets",
    "ModelSpec": "presets",
    "resolve_model": "presets",
    "prepare": "presets",
}
__all__ = [
    "AdapterInfo",
    "Backend",
    "ModelSpec",
    "PRESETS",
    "active_adapter_path",
    "choose_backend",
    "get_adapter",
    "list_adapters",
    "load_backend",
    "pick_device",
    "pick_dtype",
    "prepare",
    "resolve_model",
]

if TYPE_CHECKING:
    from medgemma.models.adapters import AdapterInfo, active_adapter_path, get_adapter, list_adapters
    from medgemma.models.backends import Backend, choose_backend, load_backend
    from medgemma.models.devices import pick_device, pick_dtype
    from medgemma.models.presets import PRESETS, ModelSpec, prepare, resolve_model


__getattr__ = lazy_exports(__name__, _EXPORTS)
