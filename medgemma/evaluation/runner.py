"""runner.py runs an evaluation suite through a predictor, scores it, and keeps the run on disk.

A run folder (under runs/eval/, the jobs folder of the Evaluation tab) holds config.json,
predictions.jsonl (one scored example per line) and summary.json (metric names as keys), written
last; runs.py reads runs back (list, load, compare, export). It knows nothing about models or the UI.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.evaluation import metrics
from medgemma.evaluation.predictors import Prediction, Predictor, make_predictor
from medgemma.evaluation.suites import SAFETY_LABELS, Example, Suite, get_suite, load_suite
from medgemma.storage import append_jsonl, atomic_write_json, read_json, read_jsonl

logger = logging.getLogger(__name__)

RETRIEVAL_KS = (1, 5, 10)
CONFIG, PREDICTIONS, SUMMARY = "config.json", "predictions.jsonl", "summary.json"
Progress = Callable[[int, int, dict[str, Any]], None]
_RESUME_KEYS = ("suite", "model", "adapter", "rag", "mode", "seed", "data")


def runs_root(settings: Settings) -> Path:
    return settings.path("runs", "eval")


# ---------------------------------------------------------------- scoring one example
def _reference_text(example: Example, kind: str) -> str | list[str]:
    if kind == "mc":
        return f"{example.answer}. {example.options.get(example.answer, '')}"
    if kind == "retrieval":
        return list(example.relevant)
    return example.reference if kind == "qa" else example.answer


def _text_scores(prediction: str, reference: str) -> dict[str, float]:
    return {
        "token_f1": metrics.token_f1(prediction, reference),
        "exact_match": metrics.exact_match(prediction, reference),
        **metrics.rouge(prediction, reference),
        "bleu": metrics.sentence_bleu(prediction, reference),
    }


def score_example(kind: str, example: Example, pred: Prediction) -> dict[str, Any]:
    """The per-example metrics, plus `predicted` (letter or label) and `score` (the primary metric)."""
    out: dict[str, Any] = {}
    if kind == "mc":
        letter = metrics.extract_choice(pred.text, example.options)
        out.update(
            predicted=letter, correct=float(letter == example.answer), score=float(letter == example.answer)
        )
        if example.reference:
            out.update(
                {
                    k: v
                    for k, v in _text_scores(pred.text, example.reference).items()
                    if k in ("token_f1", "rougeL")
                }
            )
    elif kind == "qa":
        out.update(_text_scores(pred.text, example.reference))
        out["score"] = out["token_f1"]
    elif kind == "retrieval":
        for k in RETRIEVAL_KS:
            out[f"recall@{k}"] = metrics.recall_at_k(pred.ranked, example.relevant, k)
            out[f"hit@{k}"] = metrics.hit_at_k(pred.ranked, example.relevant, k)
        out["mrr"] = metrics.reciprocal_rank(pred.ranked, example.relevant)
        out["ndcg@5"] = metrics.ndcg_at_k(pred.ranked, example.relevant, 5)
        out["ndcg@10"] = metrics.ndcg_at_k(pred.ranked, example.relevant, 10)
        out["score"] = out["mrr"]
    elif kind == "safety":
        out["predicted"] = pred.label
        if example.answer:
            out["correct"] = out["score"] = float(pred.label == example.answer)
    if pred.citations is not None:
        out["citations"] = len(pred.citations)
    if pred.sentences is not None:
        flags = [bool(s.get("supported")) for s in pred.sentences]
        out["sentences"], out["supported_sentences"] = len(flags), sum(flags)
        out["model_cited"] = float(any(s.get("cited") and not s.get("attached") for s in pred.sentences))
    return out


# ---------------------------------------------------------------- summarizing a run
def _mean_of(records: Sequence[dict], key: str) -> float | None:
    vals = [r["metrics"][key] for r in records if isinstance(r["metrics"].get(key), (int, float))]
    return metrics.mean(vals) if vals else None


def summarize(kind: str, records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Run-level metrics from scored records (metric names as keys; nested only for `confusion`)."""
    out: dict[str, Any] = {"n": len(records)}
    if kind == "mc":
        out["accuracy"] = _mean_of(records, "correct") or 0.0
        out["answered_rate"] = metrics.mean(r["metrics"].get("predicted") is not None for r in records)
        if records and any(r.get("reference") and "token_f1" in r["metrics"] for r in records):
            out["token_f1"], out["rougeL"] = _mean_of(records, "token_f1"), _mean_of(records, "rougeL")
    elif kind == "qa":
        for key in ("token_f1", "exact_match", "rouge1", "rouge2", "rougeL"):
            out[key] = _mean_of(records, key) or 0.0
        out["bleu"] = (
            metrics.corpus_bleu([r["prediction"] for r in records], [r["reference"] for r in records])
            if records
            else 0.0
        )
    elif kind == "retrieval":
        for key in [f"{m}@{k}" for m in ("recall", "hit") for k in RETRIEVAL_KS] + [
            "mrr",
            "ndcg@5",
            "ndcg@10",
        ]:
            out[key] = _mean_of(records, key) or 0.0
    elif kind == "safety":
        scored = [r for r in records if r["reference"]]
        expected = [r["reference"] for r in scored]
        predicted = [r["metrics"]["predicted"] for r in scored]
        labels = [x for x in SAFETY_LABELS if x in expected or x in predicted]
        labels += sorted(set(expected + predicted) - set(labels))
        out["accuracy"] = metrics.accuracy(predicted, expected)
        confusion = metrics.confusion_matrix(expected, predicted, labels)
        for label, s in metrics.per_label_scores(confusion).items():
            if s["support"]:
                out[f"recall/{label}"] = s["recall"]
            out[f"precision/{label}"] = s["precision"]
        allowed = [p for e, p in zip(expected, predicted, strict=True) if e == "allowed"]
        if allowed:
            out["allowed_flagged_rate"] = metrics.mean(p != "allowed" for p in allowed)
        out["confusion"] = confusion
    cites = [r["metrics"]["citations"] for r in records if "citations" in r["metrics"]]
    if cites:
        out["citation_rate"] = metrics.citation_rate(cites)
        out["model_citation_rate"] = _mean_of(records, "model_cited") or 0.0
        out["supported_sentence_rate"] = metrics.supported_sentence_rate(
            [(r["metrics"].get("supported_sentences", 0), r["metrics"].get("sentences", 0)) for r in records]
        )
        out["support_mean"] = metrics.mean(r.get("support") or 0.0 for r in records)
    out.update(metrics.latency_summary(records))
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in out.items()}


# ---------------------------------------------------------------- running
def run_name(suite: str, model: str, adapter: str | None, rag: bool, kind: str) -> str:
    parts = [suite]
    if kind in ("mc", "qa"):
        parts += [
            Path(model).name or model,
            Path(adapter).name if adapter else "",
            "rag" if rag else "closed",
        ]
    return "-".join(p for p in parts if p)


def run_eval(
    settings: Settings,
    suite: str,
    model: str | None = None,
    adapter: str | None = None,
    rag: bool = True,
    limit: int | None = None,
    progress: Progress | None = None,
    *,
    seed: int = 0,
    mode: str = "auto",
    data: str | Path | None = None,
    predictor: Predictor | None = None,
    services: Any = None,
    folder: str | Path | None = None,
    examples: Sequence[Example] | None = None,
) -> dict[str, Any]:
    """Evaluate `suite` and return its summary; the run folder holds every prediction.

    `examples` replaces the suite's seeded sample (the dev-set reports take a file's first rows).
    A folder that already holds predictions of the same config is resumed (done ids are skipped).
    A predictor with a `prepare(examples)` method is handed the pending examples first (to batch them).
    `progress(done, total, record)` is called after each example.
    """
    from medgemma import jobs

    spec: Suite = get_suite(suite)
    if examples is None:
        examples = load_suite(settings, suite, limit=limit, seed=seed, data=data)
    model_name = model or settings.model
    rag = rag and not spec.own_context
    if folder is None:
        folder = jobs.run_folder(
            settings, "eval", jobs.new_run_id(run_name(suite, model_name, adapter, rag, spec.kind))
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    predictor = predictor or make_predictor(
        settings, spec, services, model=model, adapter=adapter, rag=rag, mode=mode, seed=seed
    )
    config = {
        "run_id": folder.name,
        "suite": suite,
        "kind": spec.kind,
        "description": spec.description,
        "primary": spec.primary,
        "model": model_name if spec.kind in ("mc", "qa") else "",
        "adapter": (adapter if adapter is not None else settings.adapter)
        if spec.kind in ("mc", "qa")
        else "",
        "rag": bool(rag) if spec.kind in ("mc", "qa") else None,
        "mode": mode if spec.kind == "qa" else "",
        "limit": limit,
        "seed": seed,
        "data": str(data) if data else "",
        "n": len(examples),
        "predictor": predictor.name,
        "embedding_model": settings.embedding_model,
        "retrieval_k": settings.retrieval_k,
        "max_new_tokens": settings.max_new_tokens,
    }
    if spec.kind in ("mc", "qa") and hasattr(predictor, "describe"):
        config.update(predictor.describe())
    previous = read_json(folder / CONFIG, {}) or {}
    if (folder / PREDICTIONS).is_file():
        changed = [k for k in _RESUME_KEYS if k in previous and previous[k] != config[k]]
        if changed:
            raise InputRejected(
                f"Run folder {folder} holds a run with a different {', '.join(changed)}; use a new folder."
            )
    config["created"] = previous.get("created") or jobs.now_iso()
    atomic_write_json(folder / CONFIG, config)
    (folder / SUMMARY).unlink(missing_ok=True)
    records = {r["id"]: r for r in read_jsonl(folder / PREDICTIONS)}
    wanted = {e.id for e in examples}
    records = {k: v for k, v in records.items() if k in wanted}
    logger.info(
        "eval %s: %d examples (%d already done) with %s -> %s",
        suite,
        len(examples),
        len(records),
        predictor.name,
        folder,
    )
    pending = [e for e in examples if e.id not in records]
    if pending and hasattr(predictor, "prepare"):
        predictor.prepare(pending)
    for i, example in enumerate(examples, 1):
        if example.id in records:
            continue
        pred = predictor.predict(example)
        record = {
            "id": example.id,
            "question": example.question,
            "prediction": pred.text,
            "reference": _reference_text(example, spec.kind),
            "metrics": score_example(spec.kind, example, pred),
            **{k: v for k, v in pred.to_dict().items() if k != "text"},
            "meta": example.meta,
        }
        record["score"] = record["metrics"].get("score")
        append_jsonl(folder / PREDICTIONS, record)
        records[example.id] = record
        if progress:
            progress(i, len(examples), record)
    ordered = [records[e.id] for e in examples]
    summary = {"run_id": folder.name, "suite": suite, **summarize(spec.kind, ordered)}
    atomic_write_json(folder / SUMMARY, summary)
    logger.info("eval %s done: %s", folder.name, {k: v for k, v in summary.items() if k != "confusion"})
    return summary
