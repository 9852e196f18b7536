"""storage.py owns safe file writes under the data home (atomic replace, JSONL appends, path checks) and the
one YAML reader. It knows nothing about what is stored. No pickle anywhere: JSON, JSONL, YAML, safetensors, FAISS.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from medgemma.errors import ConfigError, InputRejected

_APPEND_LOCK = threading.Lock()


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write to a temp file in the same folder, fsync, then os.replace into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, ensure_ascii=False, indent=2, default=str) + "\n")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return default


def read_yaml(path: str | Path, what: str = "Config file") -> dict[str, Any]:
    """A YAML file whose top level is a mapping (an empty file is {}). `what` names the file in errors:
    ConfigError when it is missing, is not valid YAML (naming the line) or holds something else."""
    import yaml

    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"{what} not found: {p}")
    text = p.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else text.count("\n", 0, getattr(exc, "position", 0)) + 1
        reason = getattr(exc, "problem", None) or getattr(exc, "reason", None) or str(exc).splitlines()[0]
        raise ConfigError(f"{what} {p} is not valid YAML (line {line}: {reason}).") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{what} {p} must hold a mapping of names to values, not a {type(data).__name__}.")
    return data


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    """Append one JSON line (thread-safe within the process; one write call per line)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps(record, ensure_ascii=False, default=str) + "\n"
    with _APPEND_LOCK, path.open("a", encoding="utf-8") as fh:
        fh.write(line)


def write_jsonl(path: Path, records: Iterable[dict[str, Any]]) -> int:
    """Atomically (re)write a JSONL file; returns the number of lines."""
    lines = [json.dumps(r, ensure_ascii=False, default=str) for r in records]
    atomic_write_text(Path(path), "\n".join(lines) + ("\n" if lines else ""))
    return len(lines)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Yield records; a torn last line (from a crash mid-append) is skipped."""
    p = Path(path)
    if not p.is_file():
        return
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def safe_join(root: Path, *parts: str) -> Path:
    """Join user-supplied parts under root; refuse anything that escapes it (.., absolute, symlinks)."""
    root = Path(root).resolve()
    candidate = root.joinpath(*parts).resolve()
    if candidate != root and root not in candidate.parents:
        raise InputRejected(f"Path {'/'.join(parts)!r} is outside the data home.")
    return candidate


def process_exists(pid: int | None) -> bool:
    """True while a process with this pid exists (for stale lock and staging folders left by a dead one)."""
    if not pid or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
