"""MedGemma AI Platform: a guarded, cited medical chat with indexing, training, evaluation and export.

The package is a library with no UI imports; `app.py` and `admin/` build the Gradio app on top of it.
Subpackages re-export their public names lazily through `lazy_exports`, so importing one stays cheap.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

__version__ = "0.1.0"


def lazy_exports(package: str, exports: dict[str, str | tuple[str, str]]) -> Callable[[str], Any]:
    """A module `__getattr__` for `package`: each public name maps to the submodule that defines it
    (or to `(submodule, name_there)`), imported on first use."""

    def __getattr__(name: str) -> Any:
        target = exports.get(name)
        if target is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module, attr = target if isinstance(target, tuple) else (target, name)
        return getattr(importlib.import_module(f"{package}.{module}"), attr)

    return __getattr__
