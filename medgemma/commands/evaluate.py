"""Sub-verbs of `python -m medgemma eval`: run a suite, list, show, compare and export runs, list suites."""

from __future__ import annotations

import argparse
import logging

from medgemma.commands import add_common, print_json, say, settings_from

logger = logging.getLogger(__name__)


def register_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="run an evaluation suite and save the run (config, predictions, summary)")
    add_common(p)
    p.add_argument("--suite", required=True, help="suite name (see `eval suites`)")
    p.add_argument("--model", help="preset, Hub id, folder or .gguf (default: settings)")
    p.add_argument("--adapter", help="LoRA adapter (default: settings)")
    p.add_argument("--rag", choices=["on", "off"], default="on", help="question-only retrieval (default on)")
    p.add_argument("--limit", type=int, help="evaluate a deterministic sample of N examples")
    p.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    p.add_argument(
        "--mode",
        choices=["auto", "generative", "extractive"],
        default="auto",
        help="answer mode of the chat pipeline (long-form QA with RAG)",
    )
    p.add_argument("--data", help="read the suite's examples from this file instead (same shape)")
    p.add_argument("--out", help="run folder (default: a new folder under the data home)")
    p.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    p.set_defaults(handler=_run)

    p = sub.add_parser("list", help="list evaluation runs")
    add_common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_list)

    p = sub.add_parser("show", help="show one run's summary and its worst examples")
    add_common(p)
    p.add_argument("run_id")
    p.add_argument("--worst", type=int, default=5, help="worst examples to print (default 5)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_show)

    p = sub.add_parser("compare", help="compare two or more runs metric by metric")
    add_common(p)
    p.add_argument("run_ids", nargs="+")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_compare)

    p = sub.add_parser("export", help="export a run as CSV or JSON; prints the file path")
    add_common(p)
    p.add_argument("run_id")
    p.add_argument("--format", choices=["csv", "json"], default="csv")
    p.set_defaults(handler=_export)

    p = sub.add_parser("suites", help="list the evaluation suites")
    add_common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_suites)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "-" if value is None else str(value)


def _print_summary(summary: dict) -> None:
    for key, value in summary.items():
        if key == "confusion":
            labels = value["labels"]
            say("confusion (rows expected, columns predicted):")
            say("  " + " ".join(f"{x[:10]:>10}" for x in ["", *labels]))
            for label, row in zip(labels, value["matrix"], strict=True):
                say("  " + " ".join(f"{x:>10}" for x in [label[:10], *row]))
        else:
            say(f"{key:<28} {_fmt(value)}")


def _run(args: argparse.Namespace) -> int:
    from medgemma import jobs
    from medgemma.evaluation.runner import run_eval, run_name
    from medgemma.evaluation.suites import get_suite

    settings = settings_from(args)
    suite = get_suite(args.suite)
    rag = args.rag == "on" and not suite.own_context
    folder = args.out or jobs.run_folder(
        settings,
        "eval",
        jobs.new_run_id(run_name(suite.name, args.model or settings.model, args.adapter, rag, suite.kind)),
    )
    step = {"last": 0.0}

    def progress(done: int, total: int, record: dict) -> None:
        jobs.log_metrics(folder, {"done": done, "total": total, "score": record.get("score")})
        if done == total or done / total - step["last"] >= 0.1:
            step["last"] = done / total
            logger.info("eval %s: %d/%d", suite.name, done, total)

    with jobs.job_context(folder, kind="eval"):
        summary = run_eval(
            settings,
            suite.name,
            model=args.model,
            adapter=args.adapter,
            rag=rag,
            limit=args.limit,
            progress=progress,
            seed=args.seed,
            mode=args.mode,
            data=args.data,
            folder=folder,
        )
        jobs.set_result(folder, **{k: v for k, v in summary.items() if isinstance(v, (int, float))})
    if args.json:
        print_json(summary)
    else:
        _print_summary(summary)
        say(f"run folder: {folder}")
    return 0


def _list(args: argparse.Namespace) -> int:
    from medgemma.evaluation.runs import list_eval_runs

    runs = list_eval_runs(settings_from(args))
    if args.json:
        print_json({"runs": runs})
        return 0
    if not runs:
        say("no evaluation runs yet: python -m medgemma eval run --suite NAME --limit 20")
        return 0
    say(f"{'run id':<52} {'suite':<22} {'state':<10} {'n':>5} {'primary':>16}")
    for r in runs:
        head = f"{r.get('primary', '')}={_fmt(r['headline'])}" if r.get("headline") is not None else "-"
        say(f"{r['run_id'][:52]:<52} {r['suite']:<22} {r['state']:<10} {r.get('n', 0):>5} {head:>16}")
    return 0


def _show(args: argparse.Namespace) -> int:
    from medgemma.evaluation.runs import load_eval_run

    run = load_eval_run(settings_from(args), args.run_id)
    if args.json:
        print_json(run)
        return 0
    say(f"run {run['run_id']} ({run['state']}): {run['config'].get('description', '')}")
    _print_summary(run["summary"])
    scored = [p for p in run["predictions"] if p.get("score") is not None]
    for p in sorted(scored, key=lambda p: p["score"])[: args.worst]:
        say(
            f"\n[{p['score']:.3f}] {p['id']}: {p['question'][:160]}\n  predicted: {str(p['prediction'])[:200]}"
            f"\n  reference: {str(p['reference'])[:200]}"
        )
    return 0


def _compare(args: argparse.Namespace) -> int:
    from medgemma.evaluation.runs import compare_runs

    result = compare_runs(settings_from(args), args.run_ids)
    if args.json:
        print_json(result)
        return 0
    for i, r in enumerate(result["runs"], 1):
        say(
            f"#{i} {r['run_id']}  (model {r.get('model') or '-'}, adapter {r.get('adapter') or '-'}, "
            f"rag {r.get('rag')}, n {r.get('n')})"
        )
    say(f"\n{'metric':<28} " + " ".join(f"{'#' + str(i):>10}" for i in range(1, len(result["runs"]) + 1)))
    for key, values in result["metrics"].items():
        say(f"{key:<28} " + " ".join(f"{_fmt(v):>10}" for v in values))
    for p in result["paired"]:
        say(
            f"{p['run_id']} vs {result['runs'][0]['run_id']}: better {p['better']}, worse {p['worse']}, "
            f"same {p['same']} of {p['common']} shared examples"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    from medgemma.evaluation.runs import export_run

    say(export_run(settings_from(args), args.run_id, args.format))
    return 0


def _suites(args: argparse.Namespace) -> int:
    from medgemma.evaluation.suites import SUITES

    rows = [
        {"name": s.name, "kind": s.kind, "primary": s.primary, "description": s.description}
        for s in SUITES.values()
    ]
    if args.json:
        print_json({"suites": rows})
    else:
        for r in rows:
            say(f"{r['name']:<24} {r['kind']:<10} {r['description']}")
    return 0
