"""adapters.py is the registry of finished LoRA adapters and the persisted "active adapter" choice.

An adapter is a PEFT folder with a medgemma.json manifest (base model, data, metrics), written last by
training/trainer.py; the chat backend reads `active(settings)`. The choice is kept in active_adapter.json,
or in the database when one is configured (db/state.py). It knows nothing about training or generation.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from medgemma.config import Settings
from medgemma.db.state import adapter_choice
from medgemma.errors import ConfigError, InputRejected
from medgemma.storage import atomic_write_json, read_json

logger = logging.getLogger(__name__)

MANIFEST = "medgemma.json"
ACTIVE_FILE = "active_adapter.json"
# The cited-answer adapter the project trains and ships (configs/reference-adapter.yaml, `make
# reference-adapter`); the chat's default. It fits its base model only; other models run without it.
REFERENCE = "reference"
REFERENCE_DIR = Path(__file__).resolve().parent / "reference"
REFERENCE_BASE = "gemma-3-270m"
NO_ADAPTER = frozenset({"", "none", "base"})  # adapter setting values that mean the base model


class AdapterChoice(Protocol):
    """The persisted choice: {"name", "path", "base_model"} ("" everywhere for the base model), or None."""

    def get(self) -> dict[str, Any] | None: ...

    def set(self, choice: dict[str, Any]) -> None: ...


class FileAdapterChoice:
    """active_adapter.json under the data home."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def get(self) -> dict[str, Any] | None:
        data = read_json(self.path)
        return data if isinstance(data, dict) else None

    def set(self, choice: dict[str, Any]) -> None:
        atomic_write_json(self.path, choice)


@dataclass(frozen=True)
class AdapterInfo:
    """A finished adapter: where it is, what it was trained from, and how training went."""

    name: str
    path: Path
    base_model: str
    created: str = ""
    data: list[str] = field(default_factory=list)
    examples: int = 0
    metrics: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    gguf: str = ""  # a GGUF LoRA next to the adapter, for the llama.cpp backend (written by export)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["path"] = str(self.path)
        return d


def write_manifest(adapter_dir: Path, **fields: Any) -> None:
    """Called by training/trainer.py after the PEFT files are in place: the manifest marks the adapter complete."""
    atomic_write_json(Path(adapter_dir) / MANIFEST, fields)


def read_adapter(path: Path, name: str = "") -> AdapterInfo | None:
    """An adapter folder with its manifest, or None when it is incomplete (no manifest or no weights)."""
    path = Path(path)
    meta = read_json(path / MANIFEST)
    if not isinstance(meta, dict) or not (path / "adapter_config.json").is_file():
        return None
    gguf = next((str(p) for p in sorted(path.glob("*.gguf"))), "")
    return AdapterInfo(
        name=name or meta.get("name") or path.parent.name,
        path=path,
        base_model=meta.get("base_model", ""),
        created=meta.get("created", ""),
        data=list(meta.get("data", [])),
        examples=int(meta.get("examples", 0)),
        metrics=dict(meta.get("metrics", {})),
        run_id=meta.get("run_id", ""),
        gguf=gguf,
    )


def reference() -> AdapterInfo | None:
    """The shipped reference adapter (None when a checkout lacks its files)."""
    return read_adapter(REFERENCE_DIR, name=REFERENCE)


def list_adapters(settings: Settings) -> list[AdapterInfo]:
    """Adapters of finished training runs (runs/train/<id>/adapter), imported ones (adapters/<name>) and,
    last, the shipped reference adapter."""
    found: list[AdapterInfo] = []
    runs = settings.path("runs", "train")
    if runs.is_dir():
        for run in runs.iterdir():
            info = read_adapter(run / "adapter", name=run.name)
            if info:
                found.append(info)
    imported = settings.path("adapters")
    if imported.is_dir():
        for folder in imported.iterdir():
            info = read_adapter(folder, name=folder.name)
            if info:
                found.append(info)
    shipped = reference()
    return sorted(found, key=lambda a: (a.created, a.name), reverse=True) + ([shipped] if shipped else [])


def adapter_choices(
    settings: Settings, active: str | None = None, base: bool = False, by_name: bool = False
) -> list[tuple[str, str]]:
    """(label, value) pairs for an adapter dropdown; the value is the adapter folder (its name with `by_name`).

    With `active`, the list opens with "the admin's active adapter" (value `active`, the caller's sentinel);
    with `base`, with "Base model (no adapter)" (value "").
    """
    choices = [("Active adapter (chosen by the admin)", active)] if active is not None else []
    if base:
        choices.append(("Base model (no adapter)", ""))
    return choices + [
        (f"{a.name} (base {Path(a.base_model).name or a.base_model})", a.name if by_name else str(a.path))
        for a in list_adapters(settings)
    ]


def get_adapter(settings: Settings, name: str) -> AdapterInfo:
    """An adapter by run id / name, or by the path of its folder."""
    for info in list_adapters(settings):
        if name in (info.name, info.run_id, str(info.path)):
            return info
    path = Path(name).expanduser()
    if path.is_dir():
        info = read_adapter(path)
        if info:
            return info
        raise InputRejected(f"{path} is not a finished adapter (no {MANIFEST} or adapter_config.json).")
    names = ", ".join(a.name for a in list_adapters(settings)[:10]) or "none yet"
    raise InputRejected(f"No adapter named '{name}'. Finished adapters: {names}.")


def resolve(settings: Settings, name: str | None) -> str:
    """What a backend loads for an adapter setting: "" (none), a GGUF LoRA file, a PEFT folder (by path,
    run id or adapter name), or a Hub id such as 'org/adapter' passed on to PEFT."""
    text = (name or "").strip()
    if text.lower() in NO_ADAPTER:
        return ""
    if text == REFERENCE and reference() is None:
        logger.warning("the reference adapter is missing from %s; using the base model", REFERENCE_DIR)
        return ""
    path = Path(text).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise InputRejected(f"The GGUF LoRA adapter {path} does not exist.")
        return str(path.resolve())
    if path.is_dir():
        if not (path / "adapter_config.json").is_file():
            raise InputRejected(f"{path} is not a LoRA adapter folder (no adapter_config.json).")
        return str(path.resolve())
    try:
        return str(get_adapter(settings, text).path)
    except InputRejected:
        if text.count("/") == 1 and not text.startswith((".", "/", "~")):
            return text  # a Hub repo id
        raise


def activate(settings: Settings, name: str, force: bool = False) -> AdapterInfo:
    """Make an adapter active for the chat (persisted); its base model must be the chat model."""
    info = get_adapter(settings, name)
    if not force and info.base_model and settings.model and not _same_model(info.base_model, settings.model):
        raise ConfigError(
            f"Adapter '{info.name}' was trained on '{info.base_model}', but the chat model is "
            f"'{settings.model}'. Switch the chat model first (or force it)."
        )
    adapter_choice(settings).set({"name": info.name, "path": str(info.path), "base_model": info.base_model})
    logger.info("adapter %s is now active", info.name)
    return info


def deactivate(settings: Settings) -> None:
    """Back to the base model."""
    adapter_choice(settings).set({"name": "", "path": "", "base_model": ""})
    logger.info("no adapter is active; the chat uses the base model")


def active_adapter_path(settings: Settings) -> str | None:
    """The admin's choice: None when never made, "" for the base model, else the adapter folder.

    A chosen adapter whose folder has disappeared reads as "" (and is logged), so the chat keeps working.
    """
    data = adapter_choice(settings).get()
    if data is None:
        return None
    path = str(data.get("path") or "")
    if path and not (Path(path) / "adapter_config.json").is_file():
        logger.warning("active adapter %s is missing; using the base model", path)
        return ""
    return path


def active(settings: Settings) -> AdapterInfo | None:
    """The adapter the chat should use: the admin's choice when one was made, else the `adapter` setting."""
    chosen = active_adapter_path(settings)
    choice = settings.adapter if chosen is None else chosen
    if choice.strip().lower() in NO_ADAPTER:
        return None
    try:
        info = get_adapter(settings, choice)
        return info if fits(str(info.path), settings.model) else None
    except InputRejected:
        logger.warning("adapter %r is not a finished adapter; using the base model", choice)
        return None


def fits(adapter_path: str, model_name: str) -> bool:
    """False only for the reference adapter on a model other than its base (it is then left out)."""
    return not adapter_path or Path(adapter_path) != REFERENCE_DIR or model_name == REFERENCE_BASE


def _same_model(a: str, b: str) -> bool:
    norm = [str(Path(x).expanduser().resolve()) if Path(x).expanduser().exists() else x for x in (a, b)]
    return norm[0] == norm[1]
