"""devices.py picks the torch device and dtype for this machine (CUDA > MPS > CPU).

It knows nothing about models; callers pass the user's preference ("auto" or an explicit choice).
"""

from __future__ import annotations

import logging

from medgemma.errors import ConfigError

logger = logging.getLogger(__name__)


def pick_device(preference: str = "auto") -> str:
    """Return 'cuda', 'mps' or 'cpu'; an explicit preference that this machine lacks is an error."""
    import torch

    has_cuda = torch.cuda.is_available()
    has_mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if preference == "auto":
        return "cuda" if has_cuda else "mps" if has_mps else "cpu"
    if preference == "cuda" and not has_cuda:
        raise ConfigError("device=cuda was asked for, but torch sees no CUDA GPU on this machine.")
    if preference == "mps" and not has_mps:
        raise ConfigError("device=mps was asked for, but this machine has no Apple MPS backend.")
    if preference not in {"cuda", "mps", "cpu"}:
        raise ConfigError(f"Unknown device '{preference}' (use auto, cuda, mps or cpu).")
    return preference


def cuda_supports_bf16() -> bool:
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())


def pick_dtype(device: str, preference: str = "auto") -> str:
    """bf16 on capable CUDA, fp16 on older CUDA and MPS, fp32 on CPU, unless overridden."""
    if preference != "auto":
        if preference not in {"bfloat16", "float16", "float32"}:
            raise ConfigError(f"Unknown dtype '{preference}' (use auto, bfloat16, float16 or float32).")
        return preference
    if device == "cuda":
        return "bfloat16" if cuda_supports_bf16() else "float16"
    if device == "mps":
        return "float16"
    return "float32"


def torch_dtype(name: str):  # -> torch.dtype
    import torch

    return {"bfloat16": torch.bfloat16, "float16": torch.float16, "float32": torch.float32}[name]
