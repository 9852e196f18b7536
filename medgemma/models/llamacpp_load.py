"""llamacpp_load.py loads llama.cpp models with or without llama.cpp's CPU extra buffers, in-process
(`load_llama`) or as llama.cpp's own OpenAI-compatible server (`python -m medgemma.models.llamacpp_load`).

The extra buffer types hold weights repacked for AMX or AVX-512 kernels. With llama-cpp-python 0.3.36
built on this project's machine (a Xeon with AMX), every `decode` on them segfaults, the packaged Gemma
included; without them the same build generates at 32-34 tokens/s. `Llama(...)` has no keyword for
llama.cpp's `use_extra_bufts`, so the default model parameters are swapped for one load, under a lock.
"""

from __future__ import annotations

import runpy
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_LOCK = threading.Lock()


@contextmanager
def extra_buffers(enabled: bool) -> Iterator[None]:
    """While inside, llama.cpp models load with (`True`, llama.cpp's default) or without extra buffers."""
    if enabled:
        yield
        return
    from llama_cpp import llama as llama_module

    low = llama_module.llama_cpp
    with _LOCK:
        default = low.llama_model_default_params

        def without() -> Any:
            params = default()
            params.use_extra_bufts = False
            return params

        low.llama_model_default_params = without
        try:
            yield
        finally:
            low.llama_model_default_params = default


def load_llama(extra: bool = False, **kwargs: Any) -> Any:
    """`llama_cpp.Llama(**kwargs)`, with llama.cpp's CPU extra buffers only when `extra`."""
    from llama_cpp import Llama

    with extra_buffers(extra):
        return Llama(**kwargs)


def main(argv: list[str] | None = None) -> None:
    """`python -m llama_cpp.server ARGS` with models loaded without extra buffers (its ARGS unchanged)."""
    from llama_cpp import llama as llama_module

    low = llama_module.llama_cpp
    default = low.llama_model_default_params

    def without() -> Any:
        params = default()
        params.use_extra_bufts = False
        return params

    low.llama_model_default_params = without  # the server loads its model in this process, once
    sys.argv = ["llama_cpp.server", *(sys.argv[1:] if argv is None else argv)]
    runpy.run_module("llama_cpp.server", run_name="__main__")


if __name__ == "__main__":
    main()
