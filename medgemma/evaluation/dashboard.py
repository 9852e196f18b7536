"""dashboard.py turns saved evaluation runs into tables for dashboards and reports: confidence
intervals, per-metric rows, run comparisons, filtered per-example rows, latency samples, the safety
confusion matrix, and the evaluation `job_spec` (how medgemma.jobs starts and reads one).

It reads run folders through evaluation.runs; it knows nothing about Gradio or plotting.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from medgemma import jobs
from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.evaluation.runner import run_name
from medgemma.evaluation.runs import compare_runs, list_eval_runs, load_eval_run
from medgemma.evaluation.suites import get_suite

Z95 = 1.959964
# Summary metrics that are fractions of examples (accuracy-like): Wilson intervals apply.
PROPORTIONS = ("accuracy", "answered_rate", "exact_match", "citation_rate", "allowed_flagged_rate")
# Per-example keys averaged into a summary metric: a normal interval over the examples applies.
PER_EXAMPLE_KEY = {
    "accuracy": "correct",
    "token_f1": "token_f1",
    "rougeL": "rougeL",
    "rouge1": "rouge1",
    "rouge2": "rouge2",
    "exact_match": "exact_match",
    "mrr": "mrr",
    "recall@5": "recall@5",
    "recall@10": "recall@10",
    "recall@1": "recall@1",
    "ndcg@10": "ndcg@10",
    "ndcg@5": "ndcg@5",
}
# Metrics on a 0..1 scale that the bar charts show (latency and BLEU have their own scales).
BAR_METRICS = (
    "accuracy",
    "answered_rate",
    "token_f1",
    "exact_match",
    "rouge1",
    "rouge2",
    "rougeL",
    "recall@1",
    "recall@5",
    "recall@10",
    "hit@1",
    "hit@5",
    "hit@10",
    "mrr",
    "ndcg@5",
    "ndcg@10",
    "citation_rate",
    "model_citation_rate",
    "supported_sentence_rate",
    "support_mean",
    "allowed_flagged_rate",
)


# ---------------------------------------------------------------- confidence intervals
def wilson_interval(successes: float, n: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion (95 % by default); (0, 1) when n is 0."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, centre - half), min(1.0, centre + half)


def mean_interval(values: Sequence[float], z: float = Z95) -> tuple[float, float, float]:
    """(mean, low, high): the normal-approximation interval of a mean (sample standard deviation)."""
    vals = [float(v) for v in values]
    if not vals:
        return 0.0, 0.0, 0.0
    mean = sum(vals) / len(vals)
    if len(vals) < 2:
        return mean, mean, mean
    sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / (len(vals) - 1))
    half = z * sd / math.sqrt(len(vals))
    return mean, mean - half, mean + half


def metric_interval(predictions: Sequence[dict[str, Any]], metric: str) -> tuple[float, float] | None:
    """The 95 % interval of a summary metric from the run's scored examples, or None when it has none."""
    key = PER_EXAMPLE_KEY.get(metric)
    if key is None:
        return None
    vals = [p["metrics"][key] for p in predictions if isinstance(p.get("metrics", {}).get(key), (int, float))]
    if not vals:
        return None
    if metric in PROPORTIONS and all(v in (0, 1) for v in vals):
        return wilson_interval(sum(vals), len(vals))
    _, low, high = mean_interval(vals)
    return low, high


def paired_difference(
    a: Sequence[dict[str, Any]], b: Sequence[dict[str, Any]], key: str = "score"
) -> dict[str, float]:
    """Mean of b - a over the example ids both runs scored, with its 95 % interval (paired)."""
    first = {p["id"]: p.get(key) for p in a if isinstance(p.get(key), (int, float))}
    diffs = [p[key] - first[p["id"]] for p in b if p["id"] in first and isinstance(p.get(key), (int, float))]
    mean, low, high = mean_interval(diffs)
    return {"n": len(diffs), "mean": mean, "low": low, "high": high}


# ---------------------------------------------------------------- runs as rows
def run_label(config: dict[str, Any]) -> str:
    """A short human label: suite, model, adapter and RAG mode (what distinguishes runs)."""
    parts = [config.get("suite", "?")]
    if config.get("model"):
        parts.append(Path(str(config["model"])).name)
    if config.get("adapter"):
        parts.append("+" + Path(str(config["adapter"])).name)
    if config.get("rag") is not None and config.get("kind") in ("mc", "qa"):
        parts.append("RAG" if config["rag"] else "closed")
    return " · ".join(parts)


def load_runs(settings: Settings, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The runs (as load_eval_run gives them) with a `label` each, unique among them for plot legends."""
    runs = [load_eval_run(settings, r) for r in dict.fromkeys(r for r in run_ids if r)]
    labels = [run_label(r["config"]) for r in runs]
    for run, label in zip(runs, labels, strict=True):
        run["label"] = label if labels.count(label) == 1 else f"{label} ({run['run_id'][:20]})"
    return runs


def run_choices(settings: Settings) -> list[tuple[str, str]]:
    """(label, run_id) for every run, newest first; the label names state and headline metric."""
    out = []
    for r in list_eval_runs(settings):
        head = (
            f"{r.get('primary')} {r['headline']:.3f}"
            if isinstance(r.get("headline"), (int, float))
            else r["state"]
        )
        out.append((f"{run_label(r)} — n={r.get('n', '?')}, {head} ({r['run_id'][:20]})", r["run_id"]))
    return out


def runs_table(settings: Settings) -> pd.DataFrame:
    """One row per run: id, label, state, n, primary metric and its value."""
    rows = [
        {
            "run_id": r["run_id"],
            "run": run_label(r),
            "state": r["state"],
            "n": r.get("n"),
            "primary": r.get("primary", ""),
            "value": r.get("headline"),
            "created": r.get("created", ""),
        }
        for r in list_eval_runs(settings)
    ]
    return pd.DataFrame(rows, columns=["run_id", "run", "state", "n", "primary", "value", "created"])


def metric_rows(run: dict[str, Any], metrics: Sequence[str] = BAR_METRICS) -> list[dict[str, Any]]:
    """The run's 0..1 summary metrics as rows (run, metric, value, low, high); intervals where known."""
    rows = []
    for metric in metrics:
        value = run["summary"].get(metric)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            continue
        ci = metric_interval(run["predictions"], metric)
        rows.append(
            {
                "run_id": run["run_id"],
                "run": run.get("label") or run_label(run["config"]),
                "metric": metric,
                "value": float(value),
                "low": ci[0] if ci else None,
                "high": ci[1] if ci else None,
                "n": run["summary"].get("n"),
            }
        )
    return rows


def metrics_frame(settings: Settings, run_ids: Sequence[str]) -> pd.DataFrame:
    """Long table of summary metrics (one row per run and metric) for grouped bar charts."""
    rows = [row for run in load_runs(settings, run_ids) for row in metric_rows(run)]
    return pd.DataFrame(rows, columns=["run_id", "run", "metric", "value", "low", "high", "n"])


# ---------------------------------------------------------------- dashboard data
def _example_row(run: dict[str, Any], p: dict[str, Any]) -> dict[str, Any]:
    m = p.get("metrics", {})
    reference = p.get("reference", "")
    return {
        "run": run["label"],
        "suite": run["config"].get("suite", ""),
        "id": p["id"],
        "score": p.get("score"),
        **{k: v for k, v in m.items() if isinstance(v, (int, float)) and k != "score"},
        "predicted": m.get("predicted", p.get("label", "")),
        "question": p.get("question", ""),
        "prediction": p.get("prediction", ""),
        "reference": reference if isinstance(reference, str) else " | ".join(reference),
        "latency_s": p.get("latency_s"),
        "ttft_s": p.get("ttft_s"),
        "tok_per_s": p.get("tok_per_s"),
    }


def example_metrics(settings: Settings, run_ids: Sequence[str]) -> list[str]:
    """Per-example numeric metrics present in the runs (the primary `score` first), for the filter."""
    names: dict[str, None] = {"score": None}
    for run in load_runs(settings, run_ids):
        for p in run["predictions"][:50]:
            names.update({k: None for k, v in p.get("metrics", {}).items() if isinstance(v, (int, float))})
    return list(names)


def examples_frame(
    settings: Settings,
    run_ids: Sequence[str],
    suite: str = "",
    metric: str = "score",
    max_value: float | None = None,
    query: str = "",
    limit: int = 500,
) -> pd.DataFrame:
    """Scored examples of the runs, worst first by `metric`, filtered by suite, a threshold
    (metric <= max_value) and a case-insensitive text search over question, prediction and reference."""
    rows = []
    needle = query.strip().lower()
    for run in load_runs(settings, run_ids):
        if suite and run["config"].get("suite") != suite:
            continue
        for p in run["predictions"]:
            row = _example_row(run, p)
            value = row.get(metric)
            if max_value is not None and (not isinstance(value, (int, float)) or value > max_value):
                continue
            if (
                needle
                and needle
                not in " ".join(str(row[k]) for k in ("id", "question", "prediction", "reference")).lower()
            ):
                continue
            rows.append(row)
    frame = pd.DataFrame(rows)
    if frame.empty:
        return pd.DataFrame(columns=["run", "suite", "id", metric, "question", "prediction", "reference"])
    if metric in frame:
        frame = frame.sort_values(metric, kind="stable", na_position="last")
    first = ["run", "suite", "id", metric, "predicted", "question", "prediction", "reference"]
    columns = [c for c in first if c in frame] + [c for c in frame.columns if c not in first]
    return frame[columns].head(limit).reset_index(drop=True)


def latency_frame(settings: Settings, run_ids: Sequence[str]) -> pd.DataFrame:
    """Long table (run, measure, value) of per-example latency, time to first token and tokens/s."""
    rows = []
    for run in load_runs(settings, run_ids):
        for p in run["predictions"]:
            for measure in ("latency_s", "ttft_s", "tok_per_s"):
                value = p.get(measure)
                if isinstance(value, (int, float)) and (value > 0 or measure == "latency_s"):
                    rows.append(
                        {
                            "run": run["label"],
                            "run_id": run["run_id"],
                            "measure": measure,
                            "value": float(value),
                        }
                    )
    return pd.DataFrame(rows, columns=["run", "run_id", "measure", "value"])


def confusion(settings: Settings, run_ids: Sequence[str]) -> dict[str, Any] | None:
    """The safety confusion matrix of the first selected run that has one (labels, matrix, run)."""
    for run in load_runs(settings, run_ids):
        matrix = run["summary"].get("confusion")
        if matrix:
            return {**matrix, "run": run["label"], "run_id": run["run_id"]}
    return None


def dashboard(settings: Settings, run_ids: Sequence[str]) -> dict[str, Any]:
    """Everything the dashboard draws for the selected runs: metric rows, the comparison (two or more
    runs: paired better/worse counts against the first, and a note when suites differ), latency
    samples, the safety confusion matrix, and the suites and per-example metrics for the filters."""
    run_ids = list(dict.fromkeys(r for r in run_ids if r))
    frame = metrics_frame(settings, run_ids)
    paired = pd.DataFrame(columns=["run_id", "common", "better", "worse", "same"])
    note = "Pick two or more runs to compare them." if len(run_ids) < 2 else ""
    if len(run_ids) >= 2:
        result = compare_runs(settings, run_ids)
        paired = pd.DataFrame(result["paired"], columns=paired.columns)
        note = (
            f"Compared against the first run, **{result['runs'][0]['run_id']}**: better / worse / same "
            "counts the primary score per shared example."
        )
        if not result["same_suite"]:
            note += " ⚠️ The runs are on different suites: their metrics are not directly comparable."
    suites = list(dict.fromkeys(r["config"].get("suite", "") for r in load_runs(settings, run_ids)))
    return {
        "metrics": frame,
        "paired": paired,
        "note": note,
        "latency": latency_frame(settings, run_ids),
        "confusion": confusion(settings, run_ids),
        "suites": suites,
        "example_metrics": example_metrics(settings, run_ids),
    }


# ---------------------------------------------------------------- evaluation jobs
ACTIVE_ADAPTER = "(active)"


def _argv(suite: str, model: str, adapter: str | None, rag: bool, limit: int | None, seed: int) -> list[str]:
    """The `python -m medgemma` arguments of an evaluation run writing into the job's folder."""
    argv = ["eval", "run", "--suite", suite, "--rag", "on" if rag else "off"]
    if model:
        argv += ["--model", model]
    if adapter is not None:
        argv += ["--adapter", adapter]
    if limit:
        argv += ["--limit", str(int(limit))]
    if seed:
        argv += ["--seed", str(int(seed))]
    return [*argv, "--out", jobs.RUN_PLACEHOLDER, "--config", f"{jobs.RUN_PLACEHOLDER}/settings.yaml"]


def _prepare_job(settings: Settings, args: dict[str, Any]) -> jobs.Launch:
    """`python -m medgemma eval run ...` from {suite, model, adapter, rag, limit, seed}.

    `adapter` None (or missing) means the admin's active adapter, "" the base model. The child reads the
    app's settings from the run folder's settings.yaml, so it evaluates what this app would serve.
    """
    suite, model, adapter = str(args.get("suite") or ""), str(args.get("model") or ""), args.get("adapter")
    limit, seed = args.get("limit"), int(args.get("seed") or 0)
    spec = get_suite(suite)
    if limit is not None and int(limit) <= 0:
        raise InputRejected(f"The limit must be a positive number of examples; got {limit}.")
    rag = bool(args.get("rag", True)) and not spec.own_context and spec.kind in ("mc", "qa")
    generative = spec.kind in ("mc", "qa")
    model_name = (model or settings.model) if generative else ""
    config = {
        "suite": suite,
        "kind": spec.kind,
        "description": spec.description,
        "primary": spec.primary,
        "model": model_name,
        "adapter": (adapter or "") if generative else "",
        "rag": rag if generative else None,
        "limit": int(limit) if limit else None,
        "seed": seed,
        "n": int(limit) if limit else None,
        "created": jobs.now_iso(),
    }
    argv = _argv(suite, model if generative else "", adapter if generative else None, rag, limit, seed)
    return jobs.Launch(
        argv, config, name=run_name(suite, model_name or settings.model, adapter, rag, spec.kind)
    )


def _read_job(settings: Settings, run: jobs.RunInfo, records: list[dict[str, Any]]) -> jobs.Reading:
    """Examples done of total and the running mean of the primary score."""
    scores = [r["score"] for r in records if isinstance(r.get("score"), (int, float))]
    last = records[-1] if records else {}
    done, total = int(last.get("done", 0)), int(last.get("total") or run.config.get("n") or 0)
    metrics = {
        "done": done,
        "total": total,
        "score_mean": sum(scores) / len(scores) if scores else None,
        "primary": run.config.get("primary", ""),
    }
    return jobs.Reading(done / total if total else 0.0, f"{done}/{total or '?'} examples", metrics)


job_spec = jobs.JobSpec("eval", _prepare_job, _read_job)
