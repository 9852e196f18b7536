"""gguf.py turns transformers folders and PEFT adapters into GGUF files for llama.cpp.

llama.cpp's converter scripts (convert_hf_to_gguf.py, convert_lora_to_gguf.py and their gguf-py) come
from the llama-cpp-python source distribution of the installed version, fetched once with pip into
<home>/tools/; they run as subprocesses. K-quants go through `llama_cpp.llama_model_quantize`.
It knows nothing about adapters, model cards or verification.
"""

from __future__ import annotations

import collections
import ctypes
import importlib.metadata
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from pathlib import Path

from medgemma.config import Settings
from medgemma.errors import FeatureUnavailable, UserFacingError

logger = logging.getLogger(__name__)

PACKAGE = "llama-cpp-python"
QUANT_TYPES = {
    "q8_0": "LLAMA_FTYPE_MOSTLY_Q8_0",
    "q4_k_m": "LLAMA_FTYPE_MOSTLY_Q4_K_M",
    "q5_k_m": "LLAMA_FTYPE_MOSTLY_Q5_K_M",
    "q6_k": "LLAMA_FTYPE_MOSTLY_Q6_K",
}
_WANTED = ("convert_hf_to_gguf.py", "convert_lora_to_gguf.py", "LICENSE", "conversion/", "gguf-py/")
_FETCH_LOCK = threading.Lock()
DISK_MARKERS = ("No space left on device", "File too large", "Disk quota exceeded")


def llama_cpp_version() -> str:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        raise FeatureUnavailable(
            "GGUF export needs llama-cpp-python (pip install llama-cpp-python)."
        ) from None


def tools_dir(settings: Settings) -> Path:
    """Where the converter scripts of the installed llama-cpp-python version live (may not exist yet)."""
    return settings.path("tools", f"llama.cpp-{llama_cpp_version()}")


def ensure_tools(settings: Settings) -> Path:
    """The converter folder, fetched from PyPI on first use (`pip download` of the sdist, ~75 MB)."""
    target = tools_dir(settings)
    if (target / "complete.json").is_file():
        return target
    with _FETCH_LOCK:
        if (target / "complete.json").is_file():
            return target
        version = llama_cpp_version()
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix=".fetch-", dir=target.parent) as tmp:
            logger.info(
                "Fetching llama.cpp's converter scripts (%s==%s source from PyPI, once)", PACKAGE, version
            )
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--disable-pip-version-check",
                "-d",
                tmp,
                f"{PACKAGE}=={version}",
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            sdists = list(Path(tmp).glob("*.tar.gz"))
            if proc.returncode != 0 or not sdists:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                raise FeatureUnavailable(
                    f"GGUF export needs llama.cpp's converter scripts, taken from the {PACKAGE}=={version} "
                    f"source on PyPI, and they could not be downloaded (no network?): {' '.join(tail)} "
                    f"Run `python -m medgemma export-tools` where PyPI is reachable, or copy the folder "
                    f"{target} from a machine that has it."
                )
            staging = Path(tmp) / "tools"
            _extract(sdists[0], staging)
            (staging / "complete.json").write_text(
                json.dumps({"package": PACKAGE, "version": version, "sdist": sdists[0].name})
            )
            shutil.rmtree(target, ignore_errors=True)
            os.replace(staging, target)
    logger.info("llama.cpp converter scripts ready in %s", target)
    return target


def _extract(sdist: Path, dest: Path) -> None:
    """Copy only vendor/llama.cpp's converter scripts, conversion/ and gguf-py/ out of the sdist."""
    dest.mkdir(parents=True)
    with tarfile.open(sdist, "r:gz") as tar:
        members = []
        for m in tar.getmembers():
            _, _, rel = m.name.partition("/vendor/llama.cpp/")
            if rel and (rel in _WANTED or rel.startswith(tuple(w for w in _WANTED if w.endswith("/")))):
                if m.isfile():
                    m.name = rel
                    members.append(m)
        tar.extractall(dest, members=members, filter="data")
    if not (dest / "convert_hf_to_gguf.py").is_file():
        raise FeatureUnavailable(f"{sdist.name} has no vendor/llama.cpp/convert_hf_to_gguf.py.")


def _run_script(script: Path, args: list[str], what: str) -> None:
    """Run a converter with this venv's python, logging its output; raise with its last lines on failure."""
    cmd = [sys.executable, str(script), *args]
    logger.info("%s: %s", what, " ".join(Path(a).name if os.sep in a else a for a in cmd[1:]))
    tail: collections.deque[str] = collections.deque(maxlen=25)
    proc = subprocess.Popen(
        cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        stdin=subprocess.DEVNULL,
        cwd=str(script.parent),
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line and "Writing:" not in line:
                tail.append(line)
                logger.debug("%s", line)
        code = proc.wait()
    finally:
        if proc.poll() is None:  # cancelled or failed while the converter ran
            proc.kill()
            proc.wait()
    if code != 0:
        text = "\n".join(tail)
        if any(marker in text for marker in DISK_MARKERS):
            raise OSError(28, f"{what} ran out of disk space")
        raise UserFacingError(f"{what} failed (exit {code}). Last lines:\n{text}")


def convert_hf(settings: Settings, model_dir: Path, outfile: Path, outtype: str = "f16") -> Path:
    """A transformers folder -> one GGUF file (f32, f16, bf16 or q8_0)."""
    tools = ensure_tools(settings)
    _run_script(
        tools / "convert_hf_to_gguf.py",
        [str(model_dir), "--outfile", str(outfile), "--outtype", outtype],
        "convert_hf_to_gguf",
    )
    if not outfile.is_file():
        raise UserFacingError(f"convert_hf_to_gguf did not write {outfile.name}.")
    return outfile


def convert_lora(
    settings: Settings, adapter_dir: Path, base_dir: Path, outfile: Path, outtype: str = "f16"
) -> Path:
    """A PEFT LoRA folder -> a GGUF LoRA that llama.cpp applies on top of a GGUF of `base_dir`."""
    tools = ensure_tools(settings)
    _run_script(
        tools / "convert_lora_to_gguf.py",
        ["--base", str(base_dir), "--outfile", str(outfile), "--outtype", outtype, str(adapter_dir)],
        "convert_lora_to_gguf",
    )
    if not outfile.is_file():
        raise UserFacingError(f"convert_lora_to_gguf did not write {outfile.name}.")
    return outfile


def quantize(src: Path, dst: Path, qtype: str, threads: int = 0) -> Path:
    """Quantize an f16/f32 GGUF with llama.cpp (K-quants included) through its C API."""
    import llama_cpp

    name = QUANT_TYPES.get(qtype)
    if name is None or not hasattr(llama_cpp, name):
        raise FeatureUnavailable(
            f"llama.cpp here cannot quantize to {qtype} (known: {', '.join(QUANT_TYPES)})."
        )
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = getattr(llama_cpp, name)
    params.nthread = threads
    logger.info("quantizing %s -> %s (%s)", src.name, dst.name, qtype)
    code = llama_cpp.llama_model_quantize(str(src).encode(), str(dst).encode(), ctypes.byref(params))
    if code != 0 or not dst.is_file():
        free = shutil.disk_usage(dst.parent).free
        if free < src.stat().st_size // 2:
            raise OSError(28, f"quantizing to {qtype} ran out of disk space")
        raise UserFacingError(f"llama.cpp could not quantize {src.name} to {qtype} (code {code}).")
    return dst
