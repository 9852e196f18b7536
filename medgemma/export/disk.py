"""disk.py guards an export against the disk: the space a format needs before it starts, and a full disk or
a file-size limit mid-way turned into one clear ExportDiskError. It knows sizes and errno texts, not formats' files.
"""

from __future__ import annotations

import errno
import shutil
from pathlib import Path
from typing import Any

from medgemma.errors import ExportDiskError, UserFacingError
from medgemma.export.build import Source
from medgemma.storage import read_json

# Disk needed while exporting, in bytes per base-model parameter (staging + intermediate files).
_DISK_PER_PARAM = {
    "lora": 0.0,
    "merged-fp16": 2,
    "merged-fp32": 4,
    "gguf": 6,
    "gguf-q8_0": 7.1,
    "gguf-q4_k_m": 6.6,
    "gguf-lora": 2,
    "onnx": 4,
    "tensorrt": 6,
}


def base_params(source: Source) -> int:
    base = Path(source.base_path)
    weights = sum(p.stat().st_size for p in base.glob("*.safetensors")) if base.is_dir() else 0
    dtype = str(
        (read_json(base / "config.json", {}) or {}).get("dtype")
        or (read_json(base / "config.json", {}) or {}).get("torch_dtype")
        or "float32"
    )
    return weights // (4 if "32" in dtype else 2)


def check_space(folder: Path, source: Source, fmt: str) -> None:
    need = int(base_params(source) * _DISK_PER_PARAM[fmt]) + 50_000_000
    free = shutil.disk_usage(folder).free
    if free < need:
        raise ExportDiskError(
            f"Not enough disk space in {folder}: the {fmt} export needs about "
            f"{need / 1e9:.2f} GB while writing, {free / 1e9:.2f} GB are free."
        )


DISK_TEXT = ("No space left on device", "File too large", "Disk quota exceeded", "os error 28", "os error 27")


class disk_errors:
    """Turn full-disk and permission errors (also from safetensors and subprocesses) into ExportDiskError."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: Any, exc: BaseException | None, tb: Any) -> bool:
        if exc is None or isinstance(exc, UserFacingError):
            return False
        code = getattr(exc, "errno", None)
        if code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG) or any(t in str(exc) for t in DISK_TEXT):
            raise ExportDiskError(
                f"The disk holding {self.folder} is full (or the file is too large for "
                f"it): {exc}. Free some space or choose another output folder."
            ) from exc
        where = getattr(exc, "filename", None)
        ours = where is None or Path(str(where)).resolve().is_relative_to(self.folder)
        if code in (errno.EACCES, errno.EPERM, errno.EROFS) and ours:
            raise ExportDiskError(
                f"Cannot write the export to {self.folder}: "
                f"{getattr(exc, 'strerror', '') or exc}. Choose a folder you can write to."
            ) from exc
        return False
