"""jobs.py is the knowledge base's job kind for medgemma.jobs: uploads (checked, staged under <home>/uploads),
rebuilds and the starter build as `python -m medgemma index ...` jobs, and how their progress reads.
It knows how to start and read an index job, not how an index is built (base.py and builder.py).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from medgemma import jobs
from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.knowledge import uploads
from medgemma.knowledge.builder import FileStatus

JOB_ACTIONS = {
    "rebuild": ["index", "build", "--rebuild"],
    "starter": ["index", "build"],
    "add": ["index", "add", "--limits"],
}


def _prepare_job(settings: Settings, args: dict[str, Any]) -> jobs.Launch:
    """{action: rebuild | starter | add, index, files, columns}: one index job at a time. An upload ("add")
    is checked first (too many files, or no usable file, is refused naming each problem) and its usable
    files are copied under <home>/uploads/<job id>, where the job reads them."""
    action, name = str(args.get("action") or ""), str(args.get("index") or "default")
    if action not in JOB_ACTIONS:
        raise InputRejected(f"Unknown index job '{action}' (use {', '.join(JOB_ACTIONS)}).")
    running = [r for r in jobs.list_runs(settings, "index") if r.active]
    if running:
        raise InputRejected(f"Index job {running[0].run_id} is still running; wait for it or cancel it.")
    _prune_uploads(settings)
    run_id = jobs.new_run_id(f"index-{action}")
    argv = [*JOB_ACTIONS[action], "--index", name, "--quiet", "--run-folder", jobs.RUN_PLACEHOLDER]
    config: dict[str, Any] = {"action": action, "index": name}
    if action == "add":
        columns = {
            k: str(v) for k, v in (args.get("columns") or {}).items() if v and k in ("text", "title", "url")
        }
        copies, config["files"], config["refused"] = _stage_upload(
            settings, args.get("files") or [], settings.path("uploads", run_id)
        )
        argv[2:2] = [str(c) for c in copies]
        argv += [a for key, value in columns.items() for a in (f"--{key}-column", value)]
        config["columns"] = columns
    return jobs.Launch(argv, config, run_id=run_id)


def _prune_uploads(settings: Settings) -> None:
    """Staged upload copies are read only by their job: with no index job running, none is needed any more
    (the index keeps the documents' text), so a finished, failed or killed upload leaves no copy behind."""
    root = settings.path("uploads")
    if root.is_dir():
        for folder in root.iterdir():
            shutil.rmtree(folder, ignore_errors=True)


def _stage_upload(
    settings: Settings, files: Iterable[str | Path], folder: Path
) -> tuple[list[Path], list[str], list[dict[str, Any]]]:
    """Copies of the usable files in `folder`, every file's name in order, and the refused files' statuses."""
    paths = [Path(str(f)) for f in files]
    if not paths:
        raise InputRejected("Choose one or more files first.")
    uploads.check_count(len(paths), settings)
    problems = {i: problem for i, p in enumerate(paths) if (problem := uploads.file_problem(p, settings))}
    if len(problems) == len(paths):
        raise InputRejected(
            "No file can be added: " + "; ".join(f"{paths[i].name}: {m}" for i, m in problems.items())
        )
    copies = []
    for i, path in enumerate(paths):
        if i in problems:
            continue
        target = folder / path.name if not (folder / path.name).exists() else folder / str(i) / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
        copies.append(target)
    refused = [FileStatus(paths[i].name, "failed", message=m).to_dict() for i, m in problems.items()]
    return copies, [p.name for p in paths], refused


def _read_job(settings: Settings, run: jobs.RunInfo, records: list[dict[str, Any]]) -> jobs.Reading:
    """The build's last progress line; for an upload, the per-file statuses (refused ones included) in
    the order the files were given, as metrics["files"], once the job has reported them."""
    reading = jobs.read_fraction(settings, run, records)
    if run.config.get("action") != "add" or "files" not in run.result:
        return reading
    found = {f["name"]: f for f in [*run.config.get("refused", []), *run.result["files"]]}
    order = [*run.config.get("files", []), *found]
    files = [found[n] for n in dict.fromkeys(order) if n in found]
    return jobs.Reading(reading.fraction, reading.message, {"files": files})


job_spec = jobs.JobSpec("index", _prepare_job, _read_job)
