"""exporter.py exports a trained LoRA adapter to a deployable format, verified, into a folder of its own.

Every export is built in a hidden staging folder next to the target, verified against the PyTorch model,
given a model card and a manifest, and only then renamed into place: a failed or cancelled export leaves
nothing half-written. It also lists finished exports. The per-format work is build.py; card and manifest
are card.py; publishing is publish.py; the export job kind (medgemma.jobs) is jobs.py.
"""

from __future__ import annotations

import logging
import os
import secrets
import shlex
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from medgemma import jobs
from medgemma.config import Settings
from medgemma.errors import InputRejected, UserFacingError, VerificationFailed
from medgemma.export.build import Builder, Source
from medgemma.export.card import MANIFEST, CardInfo, dataset_names, latest_evals, write_card_and_manifest
from medgemma.export.disk import check_space, disk_errors
from medgemma.export.tensorrt import check_available
from medgemma.models.adapters import MANIFEST as ADAPTER_MANIFEST
from medgemma.models.adapters import get_adapter
from medgemma.models.presets import hf_model_path, resolve_model
from medgemma.storage import process_exists, read_json, safe_join

logger = logging.getLogger(__name__)

FORMATS: dict[str, str] = {
    "lora": "LoRA adapter (PEFT safetensors)",
    "merged-fp16": "merged checkpoint, FP16 safetensors",
    "merged-fp32": "merged checkpoint, FP32 safetensors",
    "gguf": "GGUF f16 (llama.cpp)",
    "gguf-q8_0": "GGUF q8_0 (llama.cpp)",
    "gguf-q4_k_m": "GGUF q4_k_m (llama.cpp)",
    "gguf-lora": "GGUF LoRA adapter (llama.cpp)",
    "onnx": "ONNX (onnxruntime, no KV cache)",
    "tensorrt": "TensorRT engine (CUDA)",
}
QUANT_WARNING = (
    "q4_k_m of a fine-tuned 270M model can lose what it learned; q8_0 keeps it. "
    "Evaluate the exported file before you ship it."
)
Progress = Callable[[float, str], None]


@dataclass
class ExportResult:
    fmt: str
    folder: Path
    adapter: str
    files: dict[str, dict[str, Any]]
    size_bytes: int
    seconds: float
    verified: bool
    checks: list[dict[str, Any]] = field(default_factory=list)
    created: str = ""

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["folder"] = str(self.folder)
        return d


def resolve_source(settings: Settings, adapter: str) -> Source:
    """A finished adapter (run name, adapter name or folder) and the transformers folder of its base."""

    if not (adapter or "").strip():
        raise InputRejected("Pick an adapter to export (a training run name or an adapter folder).")
    info = get_adapter(settings, adapter.strip())
    meta = read_json(info.path / ADAPTER_MANIFEST, {}) or {}
    base_model = meta.get("base_model") or info.base_model
    spec, base_path = None, ""
    try:
        spec = resolve_model(base_model)
        base_path = hf_model_path(spec, settings)
    except UserFacingError as exc:
        recorded = meta.get("base_model_path", "")
        if not recorded or not Path(recorded).is_dir():
            raise UserFacingError(
                f"The base model '{base_model}' of adapter '{info.name}' is not available: {exc}"
            ) from None
        base_path = recorded
    template = meta.get("template") or (spec.template if spec else "auto")
    return Source(
        name=info.name,
        adapter_dir=info.path,
        base_model=base_model,
        base_path=base_path,
        spec=spec,
        template=template,
        meta=meta,
    )


def default_out(settings: Settings, adapter_name: str, fmt: str) -> Path:
    return settings.path("exports", f"{adapter_name}-{fmt}")


def web_out(settings: Settings, typed: str | None) -> Path | None:
    """The output folder typed in the Export tab, confined to <home>/exports: a name, or a path inside it
    (None when blank: the default folder). The CLI may write anywhere."""
    text = (typed or "").strip()
    if not text:
        return None
    root = settings.path("exports")
    target = safe_join(root, str(Path(text).expanduser()))  # an absolute path must lie under root too
    if target == root.resolve():
        raise InputRejected("Type a folder name under the exports folder, not the exports folder itself.")
    return target


def listed_folder(settings: Settings, folder: str | None) -> str:
    """A folder picked in the Export tab must be one of the finished exports it lists."""
    wanted = str(Path(folder or "").expanduser().resolve()) if (folder or "").strip() else ""
    if not wanted or wanted not in {row["folder"] for row in list_exports(settings)}:
        raise InputRejected("Pick one of the finished exports listed above (press Refresh if it is new).")
    return wanted


def command(adapter: str, fmt: str, out: str | Path | None = None, overwrite: bool = False) -> str:
    """The equivalent shell command (shown in the Export tab)."""
    args = ["python", "-m", "medgemma", "export", "--adapter", adapter, "--format", fmt]
    args += ["--out", str(out)] if out else []
    return shlex.join(args + (["--overwrite"] if overwrite else []))


def export(
    settings: Settings,
    adapter: str,
    fmt: str,
    out: str | Path | None = None,
    progress: Progress | None = None,
    overwrite: bool = False,
) -> ExportResult:
    """Export `adapter` as `fmt` into `out` (default <home>/exports/<adapter>-<fmt>); see the module doc."""
    if fmt not in FORMATS:
        raise InputRejected(f"Unknown export format '{fmt}'. Use one of: {', '.join(FORMATS)}.")
    report = progress or (lambda fraction, message: None)
    if fmt == "tensorrt":
        check_available()
    started = time.perf_counter()
    target = Path(out).expanduser().resolve() if out else None
    if target is not None:  # fail before minutes of model loading when the folder cannot be written
        _probe_writable(target.parent)
    report(0.02, "resolving the adapter and its base model")
    source = resolve_source(settings, adapter)
    target = target or default_out(settings, source.name, fmt).resolve()
    _check_target(target, source, overwrite)
    stage = target.parent / f".{target.name}.tmp-{os.getpid()}-{secrets.token_hex(3)}"
    work = target.parent / f".{target.name}.work-{os.getpid()}-{secrets.token_hex(3)}"
    try:
        with disk_errors(target.parent):
            _remove_stale(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            check_space(target.parent, source, fmt)
            stage.mkdir()
            work.mkdir()
            builder = Builder(settings, source, stage, work, report)
            checks = builder.build(fmt)
            failed = [c for c in checks if not c.passed]
            if failed:
                raise VerificationFailed(
                    f"The {FORMATS[fmt]} export failed verification against the PyTorch model: "
                    + "; ".join(f"{c.name}: {', '.join(c.notes) or 'mismatch'}" for c in failed)
                )
            report(0.95, "writing the model card and the manifest")
            shutil.rmtree(work, ignore_errors=True)
            info = _card_info(settings, source, fmt, stage, checks, builder.notes)
            created = jobs.now_iso()
            manifest = write_card_and_manifest(
                stage,
                info,
                {
                    "format": fmt,
                    "label": FORMATS[fmt],
                    "adapter": source.name,
                    "base_model": source.base_model,
                    "base_hub_id": info.base_hub_id,
                    "template": source.template,
                    "created": created,
                    "seconds": round(time.perf_counter() - started, 1),
                    "verified": True,
                    "checks": [c.to_dict() for c in checks],
                    "evaluations": info.evals,
                    "notes": builder.notes,
                },
            )
            _move_into_place(stage, target)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if fmt == "gguf-lora":
        _attach_gguf_lora(source, target, info.files[0])
    seconds = time.perf_counter() - started
    size = sum(f["bytes"] for f in manifest["files"].values())
    report(1.0, f"done: {FORMATS[fmt]} in {target} ({size / 1e6:.1f} MB, {seconds:.0f} s)")
    return ExportResult(
        fmt=fmt,
        folder=target,
        adapter=source.name,
        files=manifest["files"],
        size_bytes=size,
        seconds=round(seconds, 1),
        verified=True,
        checks=manifest["checks"],
        created=created,
    )


def _card_info(
    settings: Settings, source: Source, fmt: str, stage: Path, checks: list, notes: list[str]
) -> CardInfo:
    keys = {source.name, str(source.adapter_dir), source.meta.get("run_id", "")}
    if source.adapter_dir.name == "adapter":  # runs/train/<run id>/adapter
        keys.add(source.adapter_dir.parent.name)
    files = sorted(p.name for p in stage.iterdir() if p.is_file())
    main = [f for f in files if f.endswith((".gguf", ".onnx", ".engine", ".safetensors"))]
    hub = source.spec.hub_id if source.spec is not None else ""
    if not hub and source.base_model.count("/") == 1 and not Path(source.base_model).exists():
        hub = source.base_model
    return CardInfo(
        name=source.name,
        fmt=fmt,
        label=FORMATS[fmt],
        base_model=source.base_model,
        base_hub_id=hub,
        template=source.template,
        datasets=dataset_names(list(source.meta.get("data", []))),
        training=source.meta,
        evals=latest_evals(settings, keys),
        checks=[c.to_dict() for c in checks],
        files=main or files,
        notes=notes + ([QUANT_WARNING] if fmt.startswith("gguf-q") else []),
    )


def _check_target(target: Path, source: Source, overwrite: bool) -> None:
    for protected in (source.adapter_dir, Path(source.base_path)):
        p = protected.resolve() if protected.exists() else None
        if p is not None and (target == p or target in p.parents or p in target.parents):
            raise InputRejected(
                f"The export folder {target} overlaps the adapter or base model folder {p}; "
                "choose another --out."
            )
    if target.exists() and not target.is_dir():
        raise InputRejected(f"{target} exists and is a file; choose a folder for --out.")
    if target.is_dir() and any(target.iterdir()):
        if not overwrite:
            raise InputRejected(
                f"{target} already exists and is not empty; choose another folder or overwrite it."
            )
        if read_export(target) is None:
            raise InputRejected(
                f"{target} is not an earlier export (no {MANIFEST}); overwrite replaces only "
                "exports. Choose an empty or new folder."
            )


def _probe_writable(folder: Path) -> None:
    with disk_errors(folder):
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test-", dir=folder)
        os.close(fd)
        os.unlink(probe)


def _move_into_place(stage: Path, target: Path) -> None:
    """Atomic rename of the verified staging folder; an old export is swapped out, then removed."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    try:
        os.replace(stage, target)
    except OSError:
        if old is not None:
            os.replace(old, target)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _remove_stale(target: Path) -> None:
    """Staging folders of exports whose process died (killed, power loss) are removed."""
    for pattern in (f".{target.name}.tmp-*", f".{target.name}.work-*"):
        for leftover in target.parent.glob(pattern):
            pid = leftover.name.split("-")[-2]
            if pid.isdigit() and not process_exists(int(pid)):
                logger.info("removing %s, left by an interrupted export", leftover.name)
                shutil.rmtree(leftover, ignore_errors=True)


def _attach_gguf_lora(source: Source, target: Path, name: str) -> None:
    """Put the verified GGUF LoRA next to its PEFT adapter too, so the llama.cpp chat backend can use it."""
    dest = source.adapter_dir / "adapter.gguf"
    tmp = source.adapter_dir / ".adapter.gguf.tmp"
    try:
        shutil.copy2(target / name, tmp)
        os.replace(tmp, dest)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        logger.warning("could not copy the GGUF LoRA next to the adapter: %s", exc)


# ---- finished exports ------------------------------------------------------------------------------


def read_export(folder: Path) -> dict[str, Any] | None:
    """An export folder's manifest with its size, or None when it is not a finished export."""
    manifest = read_json(Path(folder) / MANIFEST)
    if not isinstance(manifest, dict) or "format" not in manifest:
        return None
    files = manifest.get("files", {})
    return {
        "folder": str(folder),
        "format": manifest["format"],
        "adapter": manifest.get("adapter", ""),
        "created": manifest.get("created", ""),
        "seconds": manifest.get("seconds"),
        "size_bytes": sum(f.get("bytes", 0) for f in files.values()),
        "files": sorted(files),
        "verified": bool(manifest.get("verified")),
        "checks": manifest.get("checks", []),
    }


def list_exports(settings: Settings) -> list[dict[str, Any]]:
    """Finished exports under <home>/exports and those written elsewhere by export jobs, newest first."""
    folders = {
        p.resolve() for p in settings.path("exports").glob("*") if p.is_dir() and not p.name.startswith(".")
    }
    for run in jobs.list_runs(settings, "export"):
        if run.result.get("folder"):
            folders.add(Path(run.result["folder"]).resolve())
    rows = [row for row in (read_export(f) for f in folders) if row]
    return sorted(rows, key=lambda r: r["created"], reverse=True)
