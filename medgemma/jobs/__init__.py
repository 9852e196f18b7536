"""Background jobs: long admin work (training, evaluation, export, index builds) as `python -m medgemma ...`
subprocesses, started, read and cancelled through one API (`start`, `progress`, `cancel`, `list`).

runs.py is the process layer (run folders, status files, start and stop); child.py is the job side
(`job_context`, results, metrics, deferred cancel); api.py is the API
and the registry of each kind's `job_spec`. It knows nothing about what a job does.
"""

from __future__ import annotations

from medgemma.errors import Cancelled  # raised inside a job when it is cancelled
from medgemma.jobs.api import (
    SPEC_MODULES,
    JobId,
    JobProgress,
    JobSpec,
    Launch,
    Reading,
    cancel,
    last_record,
    list_jobs,
    progress,
    read_fraction,
    spec,
    start,
)
from medgemma.jobs.api import list_jobs as list  # noqa: A001 - `jobs.list(settings, kind)` reads as meant
from medgemma.jobs.child import cancel_deferred, cancel_pending, job_context, log_metrics, set_result
from medgemma.jobs.runs import (
    ACTIVE,
    FINAL,
    KINDS,
    LOG_FILE,
    METRICS_FILE,
    RUN_PLACEHOLDER,
    STATUS_FILE,
    RunInfo,
    create_run,
    find_run,
    get_run,
    launch,
    list_runs,
    new_run_id,
    now_iso,
    pid_alive,
    read_metrics,
    run_folder,
    runs_root,
    stop,
    tail_log,
    write_status,
)

__all__ = [
    "ACTIVE",
    "FINAL",
    "KINDS",
    "LOG_FILE",
    "METRICS_FILE",
    "RUN_PLACEHOLDER",
    "SPEC_MODULES",
    "STATUS_FILE",
    "Cancelled",
    "JobId",
    "JobProgress",
    "JobSpec",
    "Launch",
    "Reading",
    "RunInfo",
    "cancel",
    "cancel_deferred",
    "cancel_pending",
    "create_run",
    "find_run",
    "get_run",
    "job_context",
    "last_record",
    "launch",
    "list",
    "list_jobs",
    "list_runs",
    "log_metrics",
    "new_run_id",
    "now_iso",
    "pid_alive",
    "progress",
    "read_fraction",
    "read_metrics",
    "run_folder",
    "runs_root",
    "set_result",
    "spec",
    "start",
    "stop",
    "tail_log",
    "write_status",
]
