"""dashboard.py is the Training tab's back end: the form's values as a TrainConfig, dataset previews
with token statistics, the runs and adapters tables, and the train `job_spec` (how medgemma.jobs starts a
run and reads its step, ETA and loss curve). It knows nothing about Gradio or plotting.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from medgemma import jobs
from medgemma.config import Settings
from medgemma.errors import ConfigError, InputRejected, ModelNotAvailable
from medgemma.models import adapters
from medgemma.training import datasets
from medgemma.training import trainer as train
from medgemma.training.config import FIELDS, TrainConfig, from_dict
from medgemma.training.model import file_token_stats
from medgemma.training.sources import parse_spec
from medgemma.training.trainer import last_checkpoint

SOURCE_LABELS = {
    "medquad-rag": "MedQuAD RAG-aware (question + passages → answer citing [n])",
    "medquad": "MedQuAD Q&A (no passages)",
    "pubmedqa": "PubMedQA train (never its 500 test ids)",
    "medsafetybench": "MedSafetyBench safe responses",
    "feedback": "Chat answers rated 👍",
}
# Form keys that are not TrainConfig fields: how the data list and the column mapping are chosen.
DATA_KEYS = ("sources", "per_source", "use_upload", "col_prompt", "col_extra", "col_answer", "col_messages")
RUN_COLUMNS = ["run", "state", "created", "model", "data", "step", "loss", "eval loss", "wall s", "error"]
ADAPTER_COLUMNS = [
    "active",
    "name",
    "base model",
    "data",
    "examples",
    "steps",
    "final loss",
    "eval loss",
    "created",
]


# ---- the form -----------------------------------------------------------------------------------


def default_form(settings: Settings) -> dict[str, Any]:
    """The form's starting values: TrainConfig defaults on the chat's own model (so the adapter fits it)."""
    cfg = TrainConfig(model=settings.model)
    values = cfg.to_dict()
    sources = [parse_spec(d)[0] for d in cfg.data]
    limits = [parse_spec(d)[1] for d in cfg.data]
    values.update(
        sources=sources,
        per_source=max(limits, default=0),
        use_upload=True,
        col_prompt="",
        col_extra="",
        col_answer="",
        col_messages="",
    )
    return values


def column_mapping(prompt: str = "", answer: str = "", extra: str = "", messages: str = "") -> dict[str, str]:
    """The tab's four column pickers as a datasets mapping; all empty = detect the columns."""
    if messages:
        return {"messages": messages}
    if not (prompt or answer or extra):
        return {}
    if extra:
        return {"instruction": prompt, "input": extra, "output": answer}
    return {"question": prompt, "answer": answer}


def pickers_from_roles(roles: dict[str, str]) -> tuple[str, str, str, str]:
    """(prompt, extra input, answer, messages) columns from a detected or given role mapping."""
    return (
        roles.get("question") or roles.get("instruction") or "",
        roles.get("input", ""),
        roles.get("answer") or roles.get("output") or "",
        roles.get("messages", ""),
    )


def data_specs(sources: Sequence[str], per_source: int, upload: str = "") -> list[str]:
    """Built-in sources (each optionally ':N' limited) plus the uploaded file."""
    specs = [f"{name}:{int(per_source)}" if per_source else name for name in sources or []]
    return [*specs, upload] if upload else specs


def config_from_form(form: dict[str, Any], upload: str = "") -> TrainConfig:
    """A validated TrainConfig from the form; the uploaded file joins the data when the form says so."""
    values = {k: v for k, v in form.items() if k in FIELDS}
    use = upload if upload and form.get("use_upload", True) else ""
    values["data"] = data_specs(form.get("sources") or [], form.get("per_source") or 0, use)
    mapping = column_mapping(
        form.get("col_prompt", ""),
        form.get("col_answer", ""),
        form.get("col_extra", ""),
        form.get("col_messages", ""),
    )
    values["columns"] = mapping if use else {}
    return from_dict(values)


def start_args(
    settings: Settings, form: dict[str, Any], upload: str = "", pending: str = ""
) -> dict[str, Any]:
    """The train job's arguments for the form (validated). `pending` is a file still in the upload box
    whose stored copy (`upload`) is not there yet: it is stored first."""
    if pending and not upload and form.get("use_upload"):
        upload = str(datasets.store_upload(settings, pending, Path(str(pending)).name))
    return {"config": config_from_form(form, upload).to_dict()}


# ---- datasets -----------------------------------------------------------------------------------


def preview_upload(
    settings: Settings, path: str | Path, mapping: dict[str, str] | None, model: str, max_length: int
) -> dict[str, Any]:
    """datasets.preview plus the file's columns and token statistics in the base model's prompt format.

    When the model's tokenizer cannot be loaded, `tokens_error` says why and the rest still shows.
    """
    result = datasets.preview(path, mapping or None)
    rows = datasets.read_rows(path)
    result["all_columns"] = list(dict.fromkeys(str(k) for r in rows[:200] for k in r if k is not None))
    try:
        result["tokens"] = file_token_stats(path, mapping or None, model, settings, int(max_length))
    except ModelNotAvailable as exc:
        result["tokens_error"] = str(exc)
    return result


def store_and_preview(
    settings: Settings, upload: str | Path, mapping: dict[str, str] | None, model: str, max_length: int
) -> dict[str, Any]:
    """Keep an uploaded file under <home>/datasets (where background runs read it) and preview it."""
    stored = datasets.store_upload(settings, upload, Path(str(upload)).name)
    return {**preview_upload(settings, stored, mapping, model, max_length), "stored": str(stored)}


# ---- runs ---------------------------------------------------------------------------------------


def _r(value: Any) -> Any:
    """Metrics rounded for tables (4 decimals); anything else as is."""
    return round(value, 4) if isinstance(value, float) else value


def _last(metrics: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    return next((m for m in reversed(metrics) if key in m), {})


def run_choices(settings: Settings) -> list[tuple[str, str]]:
    return [(f"{r.run_id} — {r.state}", r.run_id) for r in jobs.list_runs(settings, "train")]


def runs_table(settings: Settings) -> pd.DataFrame:
    """Every training run, newest first, with its status, data and latest metrics."""
    rows = []
    for r in jobs.list_runs(settings, "train"):
        metrics = jobs.read_metrics(r.folder)
        last = _last(metrics, "loss")
        step = r.result.get("steps") or _last(metrics, "step").get("step") or 0
        total = r.config.get("max_steps") or _last(metrics, "max_steps").get("max_steps") or "?"
        rows.append(
            [
                r.run_id,
                r.state,
                r.created,
                r.config.get("model", ""),
                ", ".join(r.config.get("data", [])),
                f"{step}/{total}",
                _r(r.result.get("final_loss", last.get("loss"))),
                _r(r.result.get("eval_loss")),
                r.result.get("wall_s"),
                r.error,
            ]
        )
    return pd.DataFrame(rows, columns=RUN_COLUMNS)


# ---- the train job (medgemma.jobs) ----------------------------------------------------------------


def _prepare_job(settings: Settings, args: dict[str, Any]) -> jobs.Launch:
    """`python -m medgemma train` of {"config": TrainConfig fields, "folder": optional run folder}, or
    {"resume": run id}: a cancelled or failed run continues from its newest checkpoint."""

    if args.get("resume"):
        run = jobs.find_run(settings, str(args["resume"]), "train")
        if run.state == "done":
            raise InputRejected(
                f"Run {run.run_id} has finished; its adapter is ready. Start a new run to train more."
            )
        if run.active:
            raise ConfigError(f"Run {run.run_id} is still {run.state}.")
        return jobs.Launch(
            train.command_args(resume=True), from_dict(run.config).to_dict(), folder=run.folder
        )
    cfg = train.absolute_paths(from_dict(dict(args.get("config") or {})))
    folder = Path(args["folder"]) if args.get("folder") else None
    return jobs.Launch(train.command_args(), cfg.to_dict(), name=cfg.name, folder=folder)


def _read_job(settings: Settings, run: jobs.RunInfo, records: list[dict[str, Any]]) -> jobs.Reading:
    """Step of max steps, ETA, speed, the latest loss, the loss/learning-rate curve, and whether a stopped
    run can resume from a checkpoint."""
    last, last_loss = _last(records, "step"), _last(records, "loss")
    max_steps = int(last.get("max_steps") or run.config.get("max_steps") or 0)
    step = int(run.result.get("steps") or last.get("step") or 0)
    curve = [{k: m[k] for k in ("step", "loss", "lr", "eval_loss") if k in m} for m in records if "step" in m]
    metrics = {
        "step": step,
        "max_steps": max_steps,
        "eta_s": last.get("eta_s"),
        "s_per_step": last.get("s_per_step"),
        "loss": last_loss.get("loss"),
        "curve": curve,
        "resumable": not run.active and run.state != "done" and _has_checkpoint(run.folder),
    }
    return jobs.Reading(step / max_steps if max_steps else 0.0, f"step {step}/{max_steps or '?'}", metrics)


def _has_checkpoint(folder: Path) -> bool:

    return last_checkpoint(folder) is not None


job_spec = jobs.JobSpec("train", _prepare_job, _read_job)


# ---- adapters -----------------------------------------------------------------------------------


def adapters_table(settings: Settings) -> pd.DataFrame:
    """Finished adapters with base model, data and metrics; ✓ marks the one the chat uses."""
    current = adapters.active(settings)
    rows = [
        [
            "✓" if current and current.path == a.path else "",
            a.name,
            a.base_model,
            ", ".join(a.data),
            a.examples,
            a.metrics.get("steps"),
            _r(a.metrics.get("final_loss")),
            _r(a.metrics.get("eval_loss")),
            a.created,
        ]
        for a in adapters.list_adapters(settings)
    ]
    return pd.DataFrame(rows, columns=ADAPTER_COLUMNS)


def active_adapter_line(settings: Settings) -> str:
    current = adapters.active(settings)
    if current is None:
        return f"The chat uses the base model **{settings.model}** (no adapter)."
    return f"The chat uses adapter **{current.name}** on **{current.base_model}**."
