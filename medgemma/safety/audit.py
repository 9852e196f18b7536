"""audit.py owns the audit logs: the safety guard's flagged messages ("safety") and admin actions ("admin"),
one record per event, kept in an AuditLog: JSONL under <home>/audit (FileAudit, the default) or PostgreSQL
when MEDGEMMA_DATABASE_URL is set (medgemma/db/state.py picks). It decides nothing about what is logged.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from medgemma.config import Settings
from medgemma.db.state import audit_log
from medgemma.storage import append_jsonl, read_jsonl

STREAMS = ("safety", "admin")


class AuditLog(Protocol):
    """Append-only records per stream, oldest first."""

    def append(self, stream: str, record: dict[str, Any]) -> None: ...

    def records(self, stream: str) -> Iterator[dict[str, Any]]: ...


class FileAudit:
    """<home>/audit/<stream>.jsonl: one JSON line per record, appended."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, stream: str) -> Path:
        return self.root / f"{_stream(stream)}.jsonl"

    def append(self, stream: str, record: dict[str, Any]) -> None:
        append_jsonl(self.path(stream), record)

    def records(self, stream: str) -> Iterator[dict[str, Any]]:
        return read_jsonl(self.path(stream))


def write(settings: Settings, stream: str, record: dict[str, Any]) -> None:
    """Store one audit record."""
    audit_log(settings).append(_stream(stream), record)


def read(settings: Settings, stream: str) -> Iterator[dict[str, Any]]:
    """A stream's records, oldest first."""
    return audit_log(settings).records(_stream(stream))


def _stream(stream: str) -> str:
    if stream not in STREAMS:
        raise ValueError(f"unknown audit stream {stream!r} (use one of {', '.join(STREAMS)})")
    return stream
