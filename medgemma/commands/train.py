"""CLI verbs for fine-tuning: `train`, `runs list|show|cancel|resume`, `adapters list|activate|deactivate`,
`dataset preview`. Handlers parse flags, call one medgemma function and print the result."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from medgemma import jobs
from medgemma.commands import print_json, say
from medgemma.config import load_settings
from medgemma.errors import ConfigError
from medgemma.models import adapters
from medgemma.training import datasets


def _settings(args: argparse.Namespace):
    return load_settings(getattr(args, "settings", None))


def _add_settings(p: argparse.ArgumentParser, json_flag: bool = True) -> None:
    p.add_argument(
        "--settings", help="platform settings YAML (data home, model, ...); env MEDGEMMA_* also apply"
    )
    p.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR")
    if json_flag:
        p.add_argument("--json", action="store_true", help="print one JSON object")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="fine-tune a LoRA adapter (foreground, or --detach for a background run)"
    )
    p.add_argument("--config", help="training recipe YAML (see configs/train-medquad-rag.yaml)")
    p.add_argument(
        "--data",
        action="append",
        help="JSON/JSONL/CSV file or built-in source; repeat to mix (replaces the recipe's data)",
    )
    p.add_argument("--model", help="base model: preset, local folder or Hub id")
    p.add_argument("--max-steps", type=int, help="optimizer steps (overrides epochs)")
    p.add_argument("--name", help="run / adapter name")
    p.add_argument("--out", help="run folder (default: a new folder under <home>/runs/train/)")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--detach", action="store_true", help="start in the background and print the run id")
    _add_settings(p)
    p.set_defaults(handler=cmd_train)

    runs = sub.add_parser("runs", help="list, show, cancel or resume background runs")
    rsub = runs.add_subparsers(dest="runs_verb", metavar="ACTION", required=True)
    r = rsub.add_parser("list", help="runs, newest first")
    r.add_argument("--kind", choices=jobs.KINDS, default="")
    _add_settings(r)
    r.set_defaults(handler=cmd_runs_list)
    for verb, fn, text in (
        ("show", cmd_runs_show, "status, config, metrics and log tail of a run"),
        ("cancel", cmd_runs_cancel, "stop a run (SIGTERM, then SIGKILL)"),
        ("resume", cmd_runs_resume, "continue a stopped training run from its checkpoint"),
    ):
        r = rsub.add_parser(verb, help=text)
        r.add_argument("run_id")
        _add_settings(r)
        r.set_defaults(handler=fn)

    ad = sub.add_parser("adapters", help="list finished adapters; choose the one the chat uses")
    asub = ad.add_subparsers(dest="adapters_verb", metavar="ACTION", required=True)
    a = asub.add_parser("list", help="finished adapters with base model, data and metrics")
    _add_settings(a)
    a.set_defaults(handler=cmd_adapters_list)
    a = asub.add_parser("activate", help="make an adapter active in the chat")
    a.add_argument("name")
    a.add_argument("--force", action="store_true", help="even if it was trained on another base model")
    _add_settings(a)
    a.set_defaults(handler=cmd_adapters_activate)
    a = asub.add_parser("deactivate", help="back to the base model")
    _add_settings(a)
    a.set_defaults(handler=cmd_adapters_deactivate)

    ds = sub.add_parser("dataset", help="inspect a fine-tuning dataset file")
    dsub = ds.add_subparsers(dest="dataset_verb", metavar="ACTION", required=True)
    d = dsub.add_parser("preview", help="detected format, columns, sample rows, problems and token lengths")
    d.add_argument("file")
    d.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="ROLE=COLUMN",
        help="column mapping, e.g. --map question=Q --map answer=A",
    )
    d.add_argument("--rows", type=int, default=5)
    d.add_argument("--model", help="count tokens with this model's tokenizer")
    d.add_argument("--max-length", type=int, default=512)
    _add_settings(d)
    d.set_defaults(handler=cmd_dataset_preview)


def cmd_train(args: argparse.Namespace) -> int:
    from medgemma.training import trainer as train

    settings = _settings(args)
    cfg = train.load_config(
        args.config, data=args.data, model=args.model, max_steps=args.max_steps, name=args.name
    )
    if args.detach:
        if args.resume:
            raise ConfigError("Use `python -m medgemma runs resume RUN_ID` to resume in the background.")
        job_id = jobs.start(settings, "train", {"config": cfg.to_dict(), "folder": args.out or ""})
        return _print_run(jobs.find_run(settings, job_id, "train"), args.json)
    folder = Path(args.out) if args.out else jobs.run_folder(settings, "train", jobs.new_run_id(cfg.name))
    with jobs.job_context(folder, kind="train", config=cfg.to_dict()):
        manifest = train.train(cfg, settings, folder, resume=args.resume)
    if args.json:
        print_json(
            {
                "run_id": folder.name,
                "folder": str(folder),
                "adapter": str(folder / train.ADAPTER),
                "metrics": manifest["metrics"],
            }
        )
    else:
        m = manifest["metrics"]
        say(f"run {folder.name}: {m['steps']} steps, train loss {m['train_loss']}, {m['wall_s']} s")
        say(f"adapter: {folder / train.ADAPTER}")
        say(f"activate it: python -m medgemma adapters activate {folder.name}")
    return 0


def _print_run(run: jobs.RunInfo, as_json: bool) -> int:
    if as_json:
        print_json(run.to_dict())
    else:
        say(f"{run.run_id}  {run.kind}  {run.state}  pid={run.pid or '-'}")
        say(f"folder: {run.folder}")
        if run.command:
            say(f"command: {run.command}")
        if run.error:
            say(f"error: {run.error}")
    return 0


def cmd_runs_list(args: argparse.Namespace) -> int:
    runs = jobs.list_runs(_settings(args), args.kind)
    if args.json:
        print_json({"runs": [r.to_dict() for r in runs]})
        return 0
    if not runs:
        say("no runs yet")
    for r in runs:
        last = next((m for m in reversed(jobs.read_metrics(r.folder)) if "loss" in m), {})
        loss = f"loss {last['loss']:.4f} @ step {last['step']}" if last else ""
        say(f"{r.run_id:40s} {r.kind:6s} {r.state:9s} {r.created:25s} {loss}")
    return 0


def cmd_runs_show(args: argparse.Namespace) -> int:
    run = jobs.find_run(_settings(args), args.run_id)
    metrics = jobs.read_metrics(run.folder)
    if args.json:
        print_json({**run.to_dict(), "metrics": metrics, "log_tail": jobs.tail_log(run.folder, 4000)})
        return 0
    _print_run(run, False)
    say("config: " + json.dumps(run.config, ensure_ascii=False))
    for m in metrics[-5:]:
        say("metrics: " + json.dumps(m))
    say("--- log tail ---")
    say(jobs.tail_log(run.folder, 2000))
    return 0


def cmd_runs_cancel(args: argparse.Namespace) -> int:
    settings = _settings(args)
    jobs.cancel(settings, args.run_id)
    return _print_run(jobs.find_run(settings, args.run_id), args.json)


def cmd_runs_resume(args: argparse.Namespace) -> int:
    settings = _settings(args)
    return _print_run(
        jobs.find_run(settings, jobs.start(settings, "train", {"resume": args.run_id})), args.json
    )


def cmd_adapters_list(args: argparse.Namespace) -> int:
    settings = _settings(args)
    found, current = adapters.list_adapters(settings), adapters.active(settings)
    if args.json:
        print_json({"active": current.name if current else "", "adapters": [a.to_dict() for a in found]})
        return 0
    if not found:
        say("no finished adapters yet")
    for a in found:
        mark = "*" if current and current.path == a.path else " "
        loss = a.metrics.get("final_loss", a.metrics.get("train_loss", ""))
        say(f"{mark} {a.name:40s} base={a.base_model} examples={a.examples} loss={loss} {a.created}")
    return 0


def cmd_adapters_activate(args: argparse.Namespace) -> int:
    info = adapters.activate(_settings(args), args.name, force=args.force)
    if args.json:
        print_json(info.to_dict())
    else:
        say(f"active adapter: {info.name} ({info.path})")
    return 0


def cmd_adapters_deactivate(args: argparse.Namespace) -> int:
    adapters.deactivate(_settings(args))
    if args.json:
        print_json({"active": ""})
    else:
        say("no adapter active: the chat uses the base model")
    return 0


def cmd_dataset_preview(args: argparse.Namespace) -> int:
    mapping = {}
    for item in args.map:
        role, sep, column = item.partition("=")
        if not sep:
            raise ConfigError(f"--map expects ROLE=COLUMN; got {item!r}.")
        mapping[role.strip()] = column.strip()
    result = datasets.preview(args.file, mapping or None, rows=args.rows)
    if args.model:
        from medgemma.training.model import file_token_stats

        result["tokens"] = file_token_stats(
            args.file, mapping or None, args.model, _settings(args), args.max_length
        )
    if args.json:
        print_json(result)
        return 0
    say(
        f"{result['file']}: {result['rows']} rows, {result['usable']} usable, format {result['format']}, "
        f"columns {result['columns']}"
    )
    for p in result["problems"][:10]:
        say(f"  problem: {p}")
    for row in result["sample"]:
        say(f"  Q: {row['question'][:120]!r}\n  A: {row['answer'][:120]!r}")
    if "tokens" in result:
        t = result["tokens"]
        say(
            f"tokens: min {t['min']} p50 {t['p50']} p95 {t['p95']} max {t['max']}; "
            f"{t['over_limit']} over max_length={t['max_length']}"
        )
    return 0
