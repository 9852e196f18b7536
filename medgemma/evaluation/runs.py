"""runs.py reads saved evaluation runs back: list them, load one, compare several, export one as CSV/JSONL.
It knows the run folder's files (runner.py writes them), not how a run is scored.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.evaluation.runner import CONFIG, PREDICTIONS, SUMMARY, runs_root
from medgemma.jobs import get_run, run_folder
from medgemma.storage import atomic_write_text, read_json, read_jsonl


def _folder(settings: Settings, run_id: str) -> Path:

    folder = run_folder(settings, "eval", run_id)
    if not (folder / CONFIG).is_file():
        raise InputRejected(f"No evaluation run named '{run_id}'.")
    return folder


def _state(folder: Path) -> str:
    if (folder / SUMMARY).is_file():
        return "done"
    status = read_json(folder / "status.json", {}) or {}
    if status:
        return get_run(folder).state
    return "incomplete"


def list_eval_runs(settings: Settings) -> list[dict[str, Any]]:
    """Every evaluation run, newest first: its config, state and headline (primary) metric."""
    root = runs_root(settings)
    rows = []
    for folder in root.iterdir() if root.is_dir() else []:
        config = read_json(folder / CONFIG)
        if not config:
            continue
        summary = read_json(folder / SUMMARY, {}) or {}
        rows.append(
            {
                **config,
                "run_id": folder.name,
                "state": _state(folder),
                "headline": summary.get(config.get("primary", "")),
                "folder": str(folder),
            }
        )
    return sorted(rows, key=lambda r: (r.get("created", ""), r["run_id"]), reverse=True)


def load_eval_run(settings: Settings, run_id: str) -> dict[str, Any]:
    """A run's config, summary (empty until it ends), state and scored predictions."""
    folder = _folder(settings, run_id)
    return {
        "run_id": run_id,
        "folder": str(folder),
        "state": _state(folder),
        "config": read_json(folder / CONFIG, {}),
        "summary": read_json(folder / SUMMARY, {}) or {},
        "predictions": list(read_jsonl(folder / PREDICTIONS)),
    }


def compare_runs(settings: Settings, run_ids: Sequence[str]) -> dict[str, Any]:
    """Side by side: each numeric summary metric per run, its change against the first run, and a
    paired per-example count (better / worse / same on the primary score) over shared example ids."""
    if len(run_ids) < 2:
        raise InputRejected("Pick at least two runs to compare.")
    runs = [load_eval_run(settings, r) for r in run_ids]
    names = [
        k
        for r in runs
        for k, v in r["summary"].items()
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k != "n"
    ]
    names = list(dict.fromkeys(names))
    table = {k: [r["summary"].get(k) for r in runs] for k in names}
    base = runs[0]
    base_scores = {p["id"]: p.get("score") for p in base["predictions"]}
    paired = []
    for run in runs[1:]:
        better = worse = same = 0
        for p in run["predictions"]:
            b, s = base_scores.get(p["id"]), p.get("score")
            if b is None or s is None:
                continue
            better, worse, same = better + (s > b), worse + (s < b), same + (s == b)
        paired.append(
            {
                "run_id": run["run_id"],
                "common": better + worse + same,
                "better": better,
                "worse": worse,
                "same": same,
            }
        )
    return {
        "runs": [
            {
                "run_id": r["run_id"],
                **{k: r["config"].get(k) for k in ("suite", "model", "adapter", "rag", "mode", "n")},
            }
            for r in runs
        ],
        "metrics": table,
        "delta": {
            k: [None if v is None or vals[0] is None else round(v - vals[0], 4) for v in vals]
            for k, vals in table.items()
        },
        "paired": paired,
        "same_suite": len({r["config"].get("suite") for r in runs}) == 1,
    }


def _flat_row(p: dict[str, Any]) -> dict[str, Any]:
    row = {
        "id": p["id"],
        "question": p["question"],
        "prediction": p["prediction"],
        "reference": p["reference"] if isinstance(p["reference"], str) else " | ".join(p["reference"]),
        "score": p.get("score"),
    }
    row.update({k: v for k, v in p["metrics"].items() if k != "score"})
    for key in ("latency_s", "ttft_s", "tokens", "tok_per_s", "support", "label"):
        if key in p:
            row[key] = p[key]
    return row


def export_run(settings: Settings, run_id: str, fmt: str = "csv") -> Path:
    """Write the run as export.csv (one row per example) or export.json (config, summary, predictions)."""
    run = load_eval_run(settings, run_id)
    folder = Path(run["folder"])
    if fmt == "json":
        path = folder / "export.json"
        atomic_write_text(
            path,
            json.dumps(
                {k: run[k] for k in ("run_id", "state", "config", "summary", "predictions")},
                ensure_ascii=False,
                indent=1,
            ),
        )
        return path
    if fmt != "csv":
        raise InputRejected(f"Unknown export format '{fmt}' (use csv or json).")
    rows = [_flat_row(p) for p in run["predictions"]]
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns or ["id"])
    writer.writeheader()
    writer.writerows(rows)
    path = folder / "export.csv"
    atomic_write_text(path, buffer.getvalue())
    return path
