"""api.py is the one job API: start a job of a kind from its arguments, read its progress, cancel it,
list them. Every kind (train, eval, export, index) goes through it.

Each kind's own package owns a `job_spec` (how its arguments become the `python -m medgemma ...` argv and
config, and how its progress is read); this module imports it lazily by name and knows none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NewType

from medgemma.config import Settings
from medgemma.db.state import job_registry
from medgemma.errors import InputRejected
from medgemma.jobs import runs
from medgemma.jobs.registry import HOST

JobId = NewType("JobId", str)

# Where each kind's `job_spec` lives (imported on first use, so jobs stays independent of them).
SPEC_MODULES = {
    "train": "medgemma.training.dashboard",
    "eval": "medgemma.evaluation.dashboard",
    "export": "medgemma.export.jobs",
    "index": "medgemma.knowledge.jobs",
    "safety": "medgemma.safety.jobs",
}


@dataclass(frozen=True)
class Launch:
    """What a kind makes of its arguments: the verb's argv ("{run}" stands for the run folder), the
    run's config, and the run id (or a name to make one from) or an existing folder to run in again."""

    argv: list[str]
    config: dict[str, Any]
    name: str = ""
    run_id: str = ""
    folder: Path | None = None


@dataclass(frozen=True)
class Reading:
    """A kind's view of a run's progress: how far (0..1), a short message and the latest numbers."""

    fraction: float = 0.0
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class JobSpec:
    """How one kind of job starts and reports. `prepare` validates the arguments (raising a
    UserFacingError naming the problem before anything starts); `read` turns the run and its
    metrics.jsonl records into a Reading."""

    kind: str
    prepare: Callable[[Settings, dict[str, Any]], Launch]
    read: Callable[[Settings, runs.RunInfo, list[dict[str, Any]]], Reading]


@dataclass(frozen=True)
class JobProgress:
    """Everything a panel shows about one job, read from its run folder."""

    job_id: str
    kind: str
    state: str
    active: bool
    fraction: float
    message: str
    metrics: dict[str, Any]
    log: str
    command: str
    error: str
    result: dict[str, Any]
    config: dict[str, Any]
    created: str = ""


def spec(kind: str) -> JobSpec:
    """The registered spec of a kind (its package's `job_spec`)."""
    if kind not in SPEC_MODULES:
        raise InputRejected(f"Unknown job kind '{kind}' (use one of {', '.join(SPEC_MODULES)}).")
    found = importlib.import_module(SPEC_MODULES[kind]).job_spec
    if found.kind != kind:
        raise RuntimeError(f"{SPEC_MODULES[kind]}.job_spec is for '{found.kind}', not '{kind}'")
    return found


def start(settings: Settings, kind: str, args: Mapping[str, Any]) -> JobId:
    """Validate the kind's arguments and start its `python -m medgemma ...` job in the background."""
    launch = spec(kind).prepare(settings, dict(args))
    run_id = launch.run_id or ("" if launch.folder else runs.new_run_id(launch.name))
    run = runs.launch(settings, kind, launch.argv, launch.config, run_id=run_id, folder=launch.folder)
    return JobId(run.run_id)


def progress(settings: Settings, job_id: str, log_chars: int = 6000) -> JobProgress:
    """State, progress, latest numbers, log tail, command, error and result of a job."""
    return _progress(settings, runs.find_run(settings, job_id), log_chars)


def cancel(settings: Settings, job_id: str, grace_s: float = 15.0) -> JobProgress:
    """Stop a job (SIGTERM, then SIGKILL after grace_s); what it wrote so far stays. Returns its progress."""
    run = runs.find_run(settings, job_id)
    if run.active and run.host and run.host != HOST:
        raise InputRejected(f"Job {job_id} runs on {run.host}: cancel it from the app on that machine.")
    runs.stop(run.folder, grace_s=grace_s)
    job_registry(settings).record(run.folder)
    return _progress(settings, runs.get_run(run.folder), 6000)


def list_jobs(settings: Settings, kind: str = "", log_chars: int = 0) -> list[JobProgress]:
    """The jobs of a kind (every kind when none is given), newest first; no log tail unless asked."""
    return [_progress(settings, run, log_chars) for run in runs.list_runs(settings, kind)]


def _progress(settings: Settings, run: runs.RunInfo, log_chars: int) -> JobProgress:
    reading = spec(run.kind).read(settings, run, runs.read_metrics(run.folder))
    return JobProgress(
        job_id=run.run_id,
        kind=run.kind,
        state=run.state,
        active=run.active,
        fraction=max(0.0, min(1.0, float(reading.fraction or 0.0))),
        message=reading.message,
        metrics=dict(reading.metrics),
        log=runs.tail_log(run.folder, log_chars) if log_chars else "",
        command=run.command,
        error=run.error,
        result=dict(run.result),
        config=dict(run.config),
        created=run.created,
    )


def last_record(records: list[dict[str, Any]], key: str = "fraction") -> dict[str, Any]:
    """The newest metrics record that has `key` ({} when none has)."""
    return next((r for r in reversed(records) if key in r), {})


def read_fraction(settings: Settings, run: runs.RunInfo, records: list[dict[str, Any]]) -> Reading:
    """The Reading of a job that logs {"fraction", "message"} records (export, index)."""
    last = last_record(records)
    return Reading(float(last.get("fraction", 0.0) or 0.0), str(last.get("message", "")))
