"""Measured baseline of the default model (Gemma 3 270M base, llama.cpp): MIRAGE subsets closed-book
and with question-only retrieval over the MedQuAD knowledge base, PubMedQA test (with its abstract),
MedQuAD held-out long-form QA. Prints a markdown table with 95 % intervals; writes a small JSON.

Runs live in <data home>/runs/eval/baseline-<suite>-<mode> and resume: a rerun (or a larger n) only
evaluates what is missing, and the runs show up in the Evaluation tab. RAG runs need the index:
    python -m medgemma index build          # the MedQuAD starter corpus (or pass --build-index)
Run (about 35 min on 2 shared cores with the defaults):
    MEDGEMMA_HOME=~/.medgemma-baseline .venv/bin/python benchmarks/baseline.py [--phase closed|rag|all]
    .venv/bin/python benchmarks/baseline.py --report-only      # reprint the table from saved runs
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medgemma.config import load_settings  # noqa: E402
from medgemma.errors import UserFacingError  # noqa: E402
from medgemma.evaluation.dashboard import metric_interval, paired_difference, wilson_interval  # noqa: E402
from medgemma.evaluation.runner import run_eval, runs_root
from medgemma.evaluation.runs import load_eval_run

MIRAGE = [
    ("mirage-mmlu", "MMLU-Med"),
    ("mirage-medqa", "MedQA-US"),
    ("mirage-medmcqa", "MedMCQA"),
    ("mirage-pubmedqa", "PubMedQA*"),
    ("mirage-bioasq", "BioASQ-Y/N"),
]
CHANCE = {
    "mirage-mmlu": 25,
    "mirage-medqa": 25,
    "mirage-medmcqa": 25,
    "mirage-pubmedqa": 100 / 3,
    "mirage-bioasq": 50,
    "pubmedqa": 100 / 3,
}  # uniform guessing over the options, %
OUT = Path(__file__).resolve().parent / "baseline_results.json"


def plan(args: argparse.Namespace) -> list[tuple[str, bool, int]]:
    """(suite, rag, n) in the order they run: everything closed-book first, then RAG."""
    closed = [(s, False, args.n_mirage) for s, _ in MIRAGE]
    closed += [("pubmedqa", False, args.n_pubmedqa), ("medquad", False, args.n_medquad)]
    rag = [(s, True, args.n_mirage_rag) for s, _ in MIRAGE]
    if args.n_medquad_rag:
        rag.append(("medquad", True, args.n_medquad_rag))
    chosen = {"closed": closed, "rag": rag, "all": closed + rag, "none": []}[args.phase]
    return [p for p in chosen if p[2] > 0]


def folder_of(settings, suite: str, rag: bool) -> Path:
    return runs_root(settings) / f"baseline-{suite}-{'rag' if rag else 'closed'}"


def index_ready(services, build: bool) -> bool:
    kb = services.knowledge()
    if kb.snapshot() is None and build:
        print("building the MedQuAD knowledge base (python -m medgemma index build) ...", flush=True)
        print(kb.ensure_starter_index(), flush=True)
    try:
        return bool(kb.search("What causes high blood pressure?", k=1, min_score=-1))
    except UserFacingError as exc:
        print(f"RAG runs skipped: {exc}", flush=True)
        return False


def index_info(settings) -> dict:
    """What the RAG runs retrieved from: the knowledge base's size and whether its build completed."""
    from medgemma.knowledge.base import KnowledgeBase

    stats = KnowledgeBase(settings).stats()
    if not stats["ready"]:
        return {"ready": False}
    sources = stats.get("sources", {})
    return {
        "ready": True,
        **{k: stats.get(k) for k in ("documents", "chunks", "embedding_model", "generation")},
        "complete": all(s.get("complete") for s in sources.values()),
        "sources": sorted(sources),
    }


def run_all(settings, args: argparse.Namespace) -> dict[str, float]:
    from medgemma.chat.services import Services

    services = Services(settings)
    todo = plan(args)
    if any(rag for _, rag, _ in todo) and not index_ready(services, args.build_index):
        todo = [p for p in todo if not p[1]]
    seconds: dict[str, float] = {}
    for suite, rag, n in todo:
        folder = folder_of(settings, suite, rag)
        t0 = time.perf_counter()
        print(f"== {suite} ({'RAG' if rag else 'closed-book'}), n={n} -> {folder}", flush=True)
        summary = run_eval(
            settings, suite, rag=rag, limit=n, services=services, folder=folder, seed=args.seed
        )
        seconds[folder.name] = round(time.perf_counter() - t0, 1)
        headline = {k: v for k, v in summary.items() if k in ("n", "accuracy", "token_f1", "rougeL")}
        print(f"   {headline} in {seconds[folder.name]:.0f} s", flush=True)
    return seconds


def collect(settings, seconds: dict[str, float]) -> dict:
    """Every saved baseline run: summary (no per-example data), 95 % intervals, paired RAG deltas."""
    runs, by_name = [], {}
    root = runs_root(settings)
    for folder in sorted(root.glob("baseline-*")) if root.is_dir() else []:
        try:
            run = load_eval_run(settings, folder.name)
        except UserFacingError:
            continue
        if not run["summary"]:
            continue
        summary = {k: v for k, v in run["summary"].items() if k not in ("confusion", "run_id")}
        ci = {
            m: [round(x, 4) for x in iv]
            for m in ("accuracy", "token_f1", "rougeL")
            if (iv := metric_interval(run["predictions"], m)) and m in summary
        }
        cfg = run["config"]
        letters = Counter(
            p["metrics"].get("predicted") for p in run["predictions"] if "predicted" in p["metrics"]
        )
        top = letters.most_common(1)
        entry = {
            "run": folder.name,
            "suite": cfg["suite"],
            "rag": cfg.get("rag"),
            "model": cfg.get("model"),
            "predictor": cfg.get("predictor"),
            "n": summary["n"],
            "summary": summary,
            "ci95": ci,
            "most_common_answer": {"letter": top[0][0], "share": round(top[0][1] / summary["n"], 3)}
            if top
            else None,
            "example_seconds": round(sum(p.get("latency_s", 0.0) for p in run["predictions"]), 1),
            "seconds_this_call": seconds.get(folder.name),
        }
        runs.append(entry)
        by_name[folder.name] = run
    paired, pooled = {}, {"closed": [], "rag": []}
    for suite, _ in MIRAGE:
        a, b = by_name.get(f"baseline-{suite}-closed"), by_name.get(f"baseline-{suite}-rag")
        for mode, run in (("closed", a), ("rag", b)):
            pooled[mode] += [{**p, "id": f"{suite}/{p['id']}"} for p in run["predictions"]] if run else []
        if a and b:
            d = paired_difference(a["predictions"], b["predictions"])
            paired[suite] = {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}
    if pooled["closed"] and pooled["rag"]:
        d = paired_difference(pooled["closed"], pooled["rag"])
        paired["mirage-pooled"] = {k: round(v, 4) if isinstance(v, float) else v for k, v in d.items()}
    pooled_acc = {}
    for mode, preds in pooled.items():
        if preds:
            hits = sum(p["metrics"]["correct"] for p in preds)
            pooled_acc[mode] = {
                "n": len(preds),
                "accuracy": round(hits / len(preds), 4),
                "ci95": [round(x, 4) for x in wilson_interval(hits, len(preds))],
            }
    return {"runs": runs, "paired_rag_minus_closed": paired, "mirage_pooled": pooled_acc}


def fmt_delta(d: dict | None) -> str:
    return (
        f"{100 * d['mean']:+.1f} [{100 * d['low']:+.0f}, {100 * d['high']:+.0f}] (n={d['n']})" if d else "—"
    )


def pct(summary: dict, ci: dict, key: str = "accuracy") -> str:
    if key not in summary:
        return "—"
    lo, hi = ci.get(key, (None, None))
    band = f" [{100 * lo:.0f}–{100 * hi:.0f}]" if lo is not None else ""
    return f"{100 * summary[key]:.1f}{band}"


def table(report: dict) -> str:
    runs = {(r["suite"], bool(r["rag"])): r for r in report["runs"]}
    lines = [
        "| Benchmark | chance % | closed-book: n | accuracy % [95 % CI] | most common answer | "
        "with RAG: n | accuracy % [95 % CI] | paired Δ RAG − closed, pp [95 % CI] |",
        "|---|---:|---:|---|---|---:|---|---|",
    ]
    for suite, name in MIRAGE + [("pubmedqa", "")]:
        c, r = runs.get((suite, False)), runs.get((suite, True))
        if suite == "pubmedqa" and not c:
            continue
        delta = fmt_delta(report["paired_rag_minus_closed"].get(suite))
        top = (c or {}).get("most_common_answer")
        top = f"{top['letter']} ({100 * top['share']:.0f} %)" if top else "—"
        label = f"MIRAGE {name}" if name else "PubMedQA test (abstract given)"
        lines.append(
            f"| {label} | {CHANCE[suite]:.0f} | {c['n'] if c else '—'} | "
            f"{pct(c['summary'], c['ci95']) if c else '—'} | {top} | {r['n'] if r else '—'} | "
            f"{pct(r['summary'], r['ci95']) if r else '—'} | {delta} |"
        )
    pooled = report.get("mirage_pooled", {})
    if pooled:
        c, r = pooled.get("closed"), pooled.get("rag")
        delta = fmt_delta(report["paired_rag_minus_closed"].get("mirage-pooled"))
        cells = [(x["n"], pct(x, {"accuracy": x["ci95"]})) if x else ("—", "—") for x in (c, r)]
        lines.append(
            f"| MIRAGE, 5 subsets pooled | — | {cells[0][0]} | {cells[0][1]} | — | {cells[1][0]} | "
            f"{cells[1][1]} | {delta} |"
        )
    out = "\n".join(lines)
    qa = [(runs.get(("medquad", rag)), rag) for rag in (False, True)]
    if any(r for r, _ in qa):
        out += (
            "\n\n| MedQuAD held-out long-form QA | n | token F1 % [95 % CI] | ROUGE-L % [95 % CI] | BLEU |"
            "\n|---|---:|---|---|---:|"
        )
        for r, rag in qa:
            if r:
                mode = "chat pipeline with RAG (cited)" if rag else "closed-book"
                out += (
                    f"\n| {mode} | {r['n']} | {pct(r['summary'], r['ci95'], 'token_f1')} | "
                    f"{pct(r['summary'], r['ci95'], 'rougeL')} | {r['summary'].get('bleu', 0):.1f} |"
                )
    lat = [r for r in report["runs"] if "latency_p50_s" in r["summary"]]
    if lat:
        out += "\n\n| Run | latency p50 s | TTFT p50 s | tok/s p50 |\n|---|---:|---:|---:|"
        for r in lat:
            s = r["summary"]
            out += (
                f"\n| {r['run'].removeprefix('baseline-')} | {s['latency_p50_s']:.1f} | "
                f"{s.get('ttft_p50_s', 0):.1f} | {s.get('tok_per_s_p50', 0):.1f} |"
            )
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--phase", choices=["closed", "rag", "all", "none"], default="all")
    parser.add_argument("--n-mirage", type=int, default=40, help="closed-book questions per MIRAGE subset")
    parser.add_argument("--n-mirage-rag", type=int, default=20, help="RAG questions per MIRAGE subset")
    parser.add_argument("--n-pubmedqa", type=int, default=30)
    parser.add_argument("--n-medquad", type=int, default=30)
    parser.add_argument("--n-medquad-rag", type=int, default=0, help="MedQuAD through the full chat pipeline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0, help="llama.cpp threads (default: the setting)")
    parser.add_argument("--build-index", action="store_true", help="build the MedQuAD index when missing")
    parser.add_argument("--report-only", action="store_true", help="only print the table of saved runs")
    parser.add_argument("--out", default=str(OUT), help="JSON file for the summaries")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    settings = load_settings(overrides={"threads": args.threads or None})
    started = time.perf_counter()
    seconds = {} if args.report_only else run_all(settings, args)
    report = collect(settings, seconds)
    report.update(
        {
            "model": settings.model,
            "backend": "llama.cpp (llama-cpp-python), Q4_K_M GGUF, greedy",
            "embedding_model": settings.embedding_model,
            "retrieval_k": settings.retrieval_k,
            "machine": f"{platform.machine()}, {__import__('os').cpu_count()} CPU cores (shared)",
            "threads": settings.threads,
            "date": time.strftime("%Y-%m-%d"),
            "wall_seconds_this_call": round(time.perf_counter() - started, 1),
        }
    )
    report["index"] = index_info(settings)
    if not args.report_only:
        Path(args.out).write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(table(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
