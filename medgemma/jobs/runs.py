"""runs.py is the process layer of jobs: run folders, status.json, starting `python -m medgemma ...`
detached and stopping it; the job side (`job_context`) is child.py.

Each run has a folder under settings.path("runs", kind, run_id) holding config.json/config.yaml,
status.json, log.txt and metrics.jsonl; status is read back from files and pid liveness, so runs
survive app restarts, and recorded in the job registry (registry.py: the files, or a database table).
It knows nothing about what a job does: callers pass the verb's arguments.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import yaml

from medgemma.config import REPO_ROOT, Settings, child_environment
from medgemma.db.state import job_registry
from medgemma.errors import InputRejected
from medgemma.storage import (
    atomic_write_json,
    atomic_write_text,
    process_exists,
    read_json,
    read_jsonl,
)

logger = logging.getLogger(__name__)

KINDS = ("train", "eval", "export", "index")
ACTIVE = ("queued", "running")
FINAL = ("done", "failed", "cancelled")
STATUS_FILE, LOG_FILE, METRICS_FILE = "status.json", "log.txt", "metrics.jsonl"
RUN_PLACEHOLDER = "{run}"

# Popen objects of the jobs this process started, so their exit is reaped and seen at once.
_CHILDREN: dict[int, subprocess.Popen] = {}


@dataclass(frozen=True)
class RunInfo:
    """One run as read from its folder; `state` already accounts for a dead process."""

    kind: str
    run_id: str
    folder: Path
    state: str
    pid: int | None = None
    created: str = ""
    started: str = ""
    ended: str = ""
    error: str = ""
    command: str = ""
    config: dict[str, Any] = field(default_factory=dict)
    result: dict[str, Any] = field(default_factory=dict)
    host: str = ""  # the machine it runs on, when the registry is shared by several

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["folder"] = str(self.folder)
        return d


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def new_run_id(name: str = "") -> str:
    """Sortable, unique and filesystem-safe: 20250101-120000-ab12[-name]."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S")
    slug = "".join(c if c.isalnum() or c in "-_" else "-" for c in name.strip())[:40].strip("-")
    return f"{stamp}-{secrets.token_hex(2)}" + (f"-{slug}" if slug else "")


def runs_root(settings: Settings, kind: str) -> Path:
    if kind not in KINDS:
        raise InputRejected(f"Unknown job kind '{kind}' (use one of {', '.join(KINDS)}).")
    return settings.path("runs", kind)


def run_folder(settings: Settings, kind: str, run_id: str) -> Path:
    """The folder of a run; refuses ids that would escape the runs folder."""
    if not run_id or "/" in run_id or "\\" in run_id or run_id.startswith("."):
        raise InputRejected(f"Invalid run id {run_id!r}.")
    return runs_root(settings, kind) / run_id


# ---- status files -----------------------------------------------------------------------------


def write_status(folder: Path, **fields: Any) -> dict[str, Any]:
    """Merge fields into status.json atomically and return the new status."""
    status = read_json(Path(folder) / STATUS_FILE, default={}) or {}
    status.update(fields)
    atomic_write_json(Path(folder) / STATUS_FILE, status)
    return status


def pid_alive(pid: int | None) -> bool:
    """True while the process runs (zombies and recycled pids of other programs count as dead)."""
    if not pid:
        return False
    child = _CHILDREN.get(pid)
    if child is not None:
        return child.poll() is None
    if not process_exists(pid):
        return False
    proc = Path(f"/proc/{pid}")
    if proc.is_dir():
        try:
            if ") Z" in (proc / "stat").read_text():
                return False
            return b"medgemma" in (proc / "cmdline").read_bytes()
        except OSError:
            return False
    return True


def create_run(
    settings: Settings, kind: str, config: dict[str, Any], run_id: str = "", folder: Path | None = None
) -> Path:
    """Make the run folder with config.json/config.yaml, a settings.yaml for the child and status queued."""
    folder = Path(folder) if folder else run_folder(settings, kind, run_id or new_run_id())
    if (folder / STATUS_FILE).exists() and read_json(folder / STATUS_FILE, {}).get("state") in ACTIVE:
        if pid_alive(read_json(folder / STATUS_FILE, {}).get("pid")):
            raise InputRejected(f"Run folder {folder} already has a running job.")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "config.json", config)
    atomic_write_text(folder / "config.yaml", yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    atomic_write_text(
        folder / "settings.yaml", yaml.safe_dump(settings.public_dict(), sort_keys=False, allow_unicode=True)
    )
    atomic_write_json(
        folder / STATUS_FILE,
        {
            "kind": kind,
            "run_id": folder.name,
            "state": "queued",
            "pid": None,
            "created": now_iso(),
            "started": "",
            "ended": "",
            "error": "",
            "command": "",
        },
    )
    job_registry(settings).record(folder)
    return folder


def launch(
    settings: Settings,
    kind: str,
    argv: Sequence[str],
    config: dict[str, Any],
    run_id: str = "",
    folder: Path | None = None,
) -> RunInfo:
    """Create a run folder and start `python -m medgemma *argv` detached, logging to log.txt.

    "{run}" inside argv is replaced by the run folder, so the verb can write its files there.
    """
    folder = create_run(settings, kind, config, run_id=run_id, folder=folder)
    args = [sys.executable, "-m", "medgemma", *[a.replace(RUN_PLACEHOLDER, str(folder)) for a in argv]]
    command = shlex.join(["python", "-m", "medgemma", *args[3:]])
    with (folder / LOG_FILE).open("ab") as log:
        proc = subprocess.Popen(
            args,
            cwd=str(REPO_ROOT),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=child_environment(folder / "settings.yaml", settings),  # the app's settings, not the shell's
        )
    _CHILDREN[proc.pid] = proc
    status = read_json(folder / STATUS_FILE, {})
    if status.get("state") == "queued":  # the child may already have marked itself running
        write_status(folder, pid=proc.pid, command=command)
    else:
        write_status(folder, command=command)
    job_registry(settings).record(folder)
    logger.info("started %s run %s (pid %s): %s", kind, folder.name, proc.pid, command)
    return get_run(folder)


# ---- reading runs ----------------------------------------------------------------------------


def get_run(folder: Path) -> RunInfo:
    """Read a run folder; a queued/running run whose process is gone reads as failed."""
    folder = Path(folder)
    status = read_json(folder / STATUS_FILE)
    if status is None:
        raise InputRejected(f"No run at {folder} (status.json is missing).")
    return run_info(folder, status, read_json(folder / "config.json", {}) or {})


def run_info(folder: Path, status: dict[str, Any], config: dict[str, Any], host: str = "") -> RunInfo:
    """A run from its status and config; `host` names the machine of a run listed from a shared registry:
    only on this machine can its pid be checked (elsewhere the recorded state stands)."""
    from medgemma.jobs.registry import HOST

    state, error = status.get("state", "failed"), status.get("error", "")
    local = not host or host == HOST
    if local and state == "running" and not pid_alive(status.get("pid")):
        state, error = "failed", error or "The job process exited without reporting (killed or crashed)."
    elif local and state == "queued" and status.get("pid") and not pid_alive(status["pid"]):
        state, error = "failed", error or "The job process exited before it started."
    return RunInfo(
        kind=status.get("kind", folder.parent.name),
        run_id=status.get("run_id", folder.name),
        folder=folder,
        state=state,
        pid=status.get("pid"),
        created=status.get("created", ""),
        started=status.get("started", ""),
        ended=status.get("ended", ""),
        error=error,
        command=status.get("command", ""),
        config=config,
        result=status.get("result", {}) or {},
        host=host,
    )


def find_run(settings: Settings, run_id: str, kind: str = "") -> RunInfo:
    """A run by id (searching every kind when none is given)."""
    run_folder(settings, kind or KINDS[0], run_id)  # refuses ids that would escape the runs folder
    found = job_registry(settings).find(run_id, kind)
    if found is not None:
        return found
    raise InputRejected(f"No run named '{run_id}'" + (f" among {kind} runs." if kind else "."))


def list_runs(settings: Settings, kind: str = "") -> list[RunInfo]:
    """All runs, newest first (every replica's, when the registry is a shared database)."""
    if kind:
        runs_root(settings, kind)  # refuses an unknown kind
    return job_registry(settings).runs(kind)


def read_metrics(folder: Path) -> list[dict[str, Any]]:
    return list(read_jsonl(Path(folder) / METRICS_FILE))


def tail_log(folder: Path, max_chars: int = 20_000) -> str:
    path = Path(folder) / LOG_FILE
    if not path.is_file():
        return ""
    with path.open("rb") as fh:
        fh.seek(max(0, path.stat().st_size - max_chars))
        return fh.read().decode("utf-8", errors="replace")


# ---- cancelling ------------------------------------------------------------------------------


def stop(folder: Path, grace_s: float = 15.0) -> RunInfo:
    """SIGTERM the job's process group, SIGKILL it after grace_s; the status ends as cancelled."""
    run = get_run(folder)
    if not run.active:
        return run
    write_status(folder, cancel_requested=now_iso())
    if run.pid and pid_alive(run.pid):
        _signal_group(run.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace_s
        while pid_alive(run.pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if pid_alive(run.pid):
            logger.warning("run %s ignored SIGTERM for %.0fs; killing it", run.run_id, grace_s)
            _signal_group(run.pid, signal.SIGKILL)
            while pid_alive(run.pid) and time.monotonic() < deadline + 10:
                time.sleep(0.1)
    status = read_json(Path(folder) / STATUS_FILE, {})
    if status.get("state") != "cancelled":
        write_status(folder, state="cancelled", ended=now_iso(), error="Cancelled by the user.")
    for leftover in Path(folder).glob(".*.tmp"):  # half-written outputs of a killed job
        if leftover.is_dir():
            shutil.rmtree(leftover, ignore_errors=True)
        else:
            leftover.unlink(missing_ok=True)
    _CHILDREN.pop(run.pid or -1, None)
    return get_run(folder)


def _signal_group(pid: int, sig: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
