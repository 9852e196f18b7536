"""jobs.py is the export job kind for medgemma.jobs: an export's arguments checked and turned into a
`python -m medgemma export ...` job; its progress reads as the job's fraction and message.
It knows how to start an export job, not how an export is built (exporter.py).
"""

from __future__ import annotations

from typing import Any

from medgemma import jobs
from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.export.exporter import FORMATS
from medgemma.export.tensorrt import check_available
from medgemma.models.adapters import get_adapter


def _prepare_job(settings: Settings, args: dict[str, Any]) -> jobs.Launch:
    """An export job's `python -m medgemma export` argv from {adapter, format, out, overwrite}; an unknown
    format or adapter is named before a job starts. Progress goes to metrics.jsonl."""
    adapter, fmt = str(args.get("adapter") or "").strip(), str(args.get("format") or "")
    out, overwrite = args.get("out") or "", bool(args.get("overwrite"))
    if fmt not in FORMATS:
        raise InputRejected(f"Unknown export format '{fmt}'. Use one of: {', '.join(FORMATS)}.")
    if fmt == "tensorrt":
        check_available()
    if not adapter:
        raise InputRejected("Pick an adapter to export.")
    argv = [
        "export",
        "--adapter",
        adapter,
        "--format",
        fmt,
        "--config",
        "{run}/settings.yaml",
        "--job",
        "{run}",
    ]
    argv += ["--out", str(out)] if out else []
    argv += ["--overwrite"] if overwrite else []
    config = {"adapter": adapter, "format": fmt, "out": str(out), "overwrite": overwrite}
    return jobs.Launch(argv, config, name=f"{get_adapter(settings, adapter).name}-{fmt}")


job_spec = jobs.JobSpec("export", _prepare_job, jobs.read_fraction)
