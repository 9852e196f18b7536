"""reports.py owns the two dev-set reports of the CLI, each made of runs of the runner:
`eval retrieval` (dense, BM25 and hybrid ranking at one k) and `eval safety` (the guard's per-label
precision/recall and confusion matrix). It knows nothing about argparse, file formats or the UI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from medgemma import jobs
from medgemma.config import Settings
from medgemma.evaluation import metrics
from medgemma.evaluation.predictors import RetrievalPredictor, SafetyPredictor
from medgemma.evaluation.runner import run_eval
from medgemma.evaluation.runs import load_eval_run
from medgemma.evaluation.suites import SAFETY_LABELS, Example, read_examples
from medgemma.knowledge.retrieve import MODES

if TYPE_CHECKING:
    from medgemma.knowledge.retrieve import Retriever

SEARCH_DEPTH = 6  # chunks fetched per document asked for: several chunks of one document count once


def _records(settings: Settings, summary: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["id"]: p for p in load_eval_run(settings, summary["run_id"])["predictions"]}


def _new_folder(settings: Settings, name: str) -> Path:

    return jobs.run_folder(settings, "eval", jobs.new_run_id(name))


def retrieval_modes(
    settings: Settings,
    retriever: Retriever,
    data: str | Path | None = None,
    k: int = 5,
    min_score: float | None = None,
    limit: int = 0,
) -> dict[str, Any]:
    """Document-level recall@k, MRR (within k) and nDCG@k of dense, BM25 and hybrid ranking over the
    retrieval suite (or `data`, its first `limit` rows), one run per mode; rows show each ranking.
    Hits under `min_score` (dense cosine) are dropped; none are by default. `run_ids` names the runs."""

    examples: list[Example] = read_examples(settings, "retrieval", data)
    examples = examples[:limit] if limit else examples
    names = (f"recall@{k}", "mrr", f"ndcg@{k}")
    result: dict[str, Any] = {}
    rows: list[dict[str, Any]] = [{"question": e.question} for e in examples]
    run_ids = []
    for mode in MODES:

        def search(query: str, n: int, mode: str = mode) -> list:
            return retriever.search(query, k=n, min_score=min_score, mode=mode, collapse=False)

        predictor = RetrievalPredictor(search, depth=SEARCH_DEPTH * k, name=f"retrieval:{mode}")
        summary = run_eval(
            settings,
            "retrieval",
            data=data,
            examples=examples,
            predictor=predictor,
            folder=_new_folder(settings, f"retrieval-{mode}"),
            limit=limit or None,
        )
        run_ids.append(summary["run_id"])
        records = _records(settings, summary)
        totals = dict.fromkeys(names, 0.0)
        for example, row in zip(examples, rows, strict=True):
            ranked = records[example.id].get("ranked", [])[:k]
            scores = (
                metrics.recall_at_k(ranked, example.relevant, k),
                metrics.reciprocal_rank(ranked, example.relevant, k),
                metrics.ndcg_at_k(ranked, example.relevant, k),
            )
            for name, value in zip(names, scores, strict=True):
                totals[name] += value
            row[mode] = {"ranked": ranked, **{n: round(v, 4) for n, v in zip(names, scores, strict=True)}}
        result[mode] = {name: round(v / max(len(examples), 1), 4) for name, v in totals.items()}
    return {**result, "rows": rows, "k": k, "questions": len(examples), "run_ids": run_ids}


def safety_report(
    settings: Settings,
    check: Callable[[str], Any],
    check_many: Callable[[Sequence[str]], Sequence[Any]] | None = None,
    data: str | Path | None = None,
    examples: Sequence[Example] | None = None,
) -> dict[str, Any]:
    """Label the safety suite (or `data`, or these `examples`) with a guard in one run; per-label
    precision/recall/F1 and the confusion matrix over every label (rows: the expected label).
    `run_ids` names the run."""
    examples = list(examples) if examples is not None else read_examples(settings, "safety", data)
    summary = run_eval(
        settings,
        "safety",
        data=data,
        examples=examples,
        predictor=SafetyPredictor(check, check_many),
        folder=_new_folder(settings, "safety-dev"),
    )
    records = _records(settings, summary)
    rows = []
    for e in examples:
        r = records[e.id]
        extra = r.get("extra", {})
        rows.append(
            {
                "text": e.question,
                "predicted": r["label"],
                "expected": e.answer or None,
                "rules": extra.get("rules", []),
                "score": extra.get("score"),
            }
        )
    scored = [r for r in rows if r["expected"]]
    confusion = metrics.confusion_matrix(
        [r["expected"] for r in scored], [r["predicted"] for r in scored], SAFETY_LABELS
    )
    per_label = {
        label: {m: round(v[m], 4) for m in ("precision", "recall", "f1", "support")}
        for label, v in metrics.per_label_scores(confusion).items()
        if v["support"] or any(r["predicted"] == label for r in scored)
    }
    allowed = [r["predicted"] for r in scored if r["expected"] == "allowed"]
    # Escalation: a same-day problem or an emergency must reach one of the two; urgent -> emergency is
    # over-escalation ("call 911" for a mild problem), emergency -> urgent is under-escalation.
    acute = [r["predicted"] for r in scored if r["expected"] in {"urgent", "emergency"}]
    urgent = [r["predicted"] for r in scored if r["expected"] == "urgent"]
    seconds = sum(r.get("latency_s", 0.0) for r in records.values())
    return {
        "n": len(rows),
        "rows": rows,
        "metrics": per_label,
        "confusion": confusion,
        "accuracy": round(
            metrics.accuracy([r["predicted"] for r in scored], [r["expected"] for r in scored]), 4
        ),
        "allowed_flagged": round(metrics.mean(p != "allowed" for p in allowed), 4),
        "escalation": {
            "n": len(acute),
            "urgent_or_emergency_recall": round(metrics.mean(p in {"urgent", "emergency"} for p in acute), 4),
            "urgent_over_escalated": sum(p == "emergency" for p in urgent),
        },
        "ms_per_row": round(1000 * seconds / max(1, len(rows)), 2),
        "run_ids": [summary["run_id"]],
    }
