"""child.py is the job side of jobs, used inside the `python -m medgemma <verb>` process: `job_context` marks
the run running and records how it ended (in status.json and the job registry), SIGTERM becomes Cancelled
(deferred while a checkpoint is written), and the verb reports its result and metrics. It knows the run
folder's files, not what the job does.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from medgemma.errors import Cancelled, UserFacingError
from medgemma.jobs.registry import job_side_registry
from medgemma.jobs.runs import LOG_FILE, METRICS_FILE, STATUS_FILE, now_iso, write_status
from medgemma.storage import (
    append_jsonl,
    atomic_write_json,
    atomic_write_text,
    read_json,
)

logger = logging.getLogger(__name__)


@contextlib.contextmanager
def job_context(folder: Path, kind: str = "", config: dict[str, Any] | None = None) -> Iterator[Path]:
    """Mark the run running (creating its folder when the verb was started by hand), turn SIGTERM
    into `Cancelled`, log to log.txt, and record done / failed / cancelled when the block ends."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if config is not None:
        atomic_write_json(folder / "config.json", config)
        atomic_write_text(folder / "config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    previous = read_json(folder / STATUS_FILE, {}) or {}
    registry = job_side_registry()
    write_status(
        folder,
        kind=previous.get("kind") or kind or folder.parent.name,
        run_id=folder.name,
        state="running",
        pid=os.getpid(),
        created=previous.get("created") or now_iso(),
        started=now_iso(),
        ended="",
        error="",
        command=previous.get("command") or shlex.join(["python", "-m", "medgemma", *sys.argv[1:]]),
    )
    registry.record(folder)
    handler = _log_to_file(folder)
    _PENDING.clear()
    old_term = signal.signal(signal.SIGTERM, _raise_cancelled)
    try:
        yield folder
    except Cancelled:
        write_status(folder, state="cancelled", ended=now_iso(), error="Cancelled by the user.")
        registry.record(folder)
        logger.warning("run %s cancelled", folder.name)
        raise
    except BaseException as exc:
        message = str(exc) if isinstance(exc, UserFacingError) else f"{type(exc).__name__}: {exc}"
        write_status(folder, state="failed", ended=now_iso(), error=message)
        registry.record(folder)
        logger.error("run %s failed: %s", folder.name, message)
        raise
    else:
        write_status(folder, state="done", ended=now_iso())
        registry.record(folder)
        logger.info("run %s done", folder.name)
    finally:
        signal.signal(signal.SIGTERM, old_term)
        _PENDING.clear()
        if handler is not None:
            logging.getLogger().removeHandler(handler)
            handler.close()


def set_result(run: Path, /, **result: Any) -> None:
    """Record a job's outcome (e.g. adapter path, final loss, an export's folder) in status.json under
    `result`. `run` is positional-only, so any key (even "folder") can be part of the result."""
    status = read_json(Path(run) / STATUS_FILE, {}) or {}
    write_status(run, result={**(status.get("result") or {}), **result})
    job_side_registry().record(Path(run))


def log_metrics(folder: Path, record: dict[str, Any]) -> None:
    append_jsonl(Path(folder) / METRICS_FILE, {"time": round(time.time(), 3), **record})


_CANCEL_ARMED = True


@contextlib.contextmanager
def cancel_deferred() -> Iterator[None]:
    """Within this block SIGTERM only sets a flag (see `cancel_pending`): for steps that must not
    be torn, such as writing a checkpoint. The flag is turned into `Cancelled` at the block's end."""
    global _CANCEL_ARMED
    _CANCEL_ARMED = False
    try:
        yield
    finally:
        _CANCEL_ARMED = True
    if _PENDING:
        raise Cancelled("Cancelled by the user.")


_PENDING: list[int] = []


def cancel_pending() -> bool:
    return bool(_PENDING)


def _raise_cancelled(signum: int, frame: Any) -> None:
    _PENDING.append(signum)
    if _CANCEL_ARMED:
        raise Cancelled("Cancelled by the user.")


def _log_to_file(folder: Path) -> logging.Handler | None:
    """Send log records to log.txt unless stderr already goes there (a job started by `launch`)."""
    log = folder / LOG_FILE
    log.touch()
    with contextlib.suppress(OSError):
        if os.path.samestat(os.fstat(2), os.stat(log)):
            return None
    handler = logging.FileHandler(log, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)
    return handler
