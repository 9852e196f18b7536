"""`python -m medgemma eval safety --data FILE.jsonl [--json]`: label rows with the safety guard and
report per-label precision/recall and the confusion matrix. `python -m medgemma safety train`: retrain the
guard's classifier (MiniLM + LoRA) and write data/safety_classifier.safetensors with its JSON sidecar.
`python -m medgemma safety calibrate`: pick its harmful threshold by the whole guard on the validation split
and write it into the sidecar (optional: on the held-out sets of 2026-12-06 it caught 2 more harmful
requests and flagged 8 more benign rows, so the shipped sidecar does not carry it)."""

from __future__ import annotations

import argparse

from medgemma.commands import add_common, print_json, say, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("safety", help="the safety guard's classifier: safety train")
    verbs = p.add_subparsers(dest="safety_verb", metavar="VERB")
    verbs.required = True
    t = verbs.add_parser("train", help="fine-tune the guard's classifier (CPU: a few minutes) and ship it")
    add_common(t)
    t.add_argument("--epochs", type=int, default=None, help="passes over the training rows (default 5)")
    t.add_argument("--lr", type=float, default=None, help="peak learning rate (default 2e-3)")
    t.add_argument(
        "--artifact", default="", help="where to write the .safetensors (default: the shipped one)"
    )
    t.add_argument("--out", default="", help="run folder when started as a job (progress and result there)")
    t.set_defaults(handler=_train)
    c = verbs.add_parser(
        "calibrate",
        help="pick the harmful threshold by the whole guard on the validation split",
    )
    add_common(c)
    c.add_argument("--artifact", default="", help="the .safetensors whose sidecar gets it (default: shipped)")
    c.set_defaults(handler=_calibrate)


def _train(args: argparse.Namespace) -> int:
    import contextlib
    import dataclasses
    from pathlib import Path

    from medgemma.safety.classifier import ARTIFACT
    from medgemma.safety.finetune import TrainConfig, train

    settings = settings_from(args)
    changes = {k: v for k, v in (("epochs", args.epochs), ("lr", args.lr)) if v is not None}
    config = dataclasses.replace(TrainConfig(), **changes)
    artifact = Path(args.artifact) if args.artifact else ARTIFACT
    folder = Path(args.out) if args.out else None
    if folder is not None:
        from medgemma.jobs.child import job_context, log_metrics, set_result

        context: contextlib.AbstractContextManager = job_context(folder, "safety", dataclasses.asdict(config))
    else:
        context = contextlib.nullcontext()
    with context:

        def progress(fraction: float, message: str) -> None:
            say(message, err=True)
            if folder is not None:
                log_metrics(folder, {"fraction": round(fraction, 4), "message": message})

        manifest = train(settings, config, artifact=artifact, progress=progress)
        if folder is not None:
            set_result(folder, artifact=str(artifact), thresholds=manifest["thresholds"])
    say(f"wrote {artifact} ({artifact.stat().st_size / 1e6:.1f} MB) in {manifest['total_seconds']:.0f} s")
    say(f"{'label':<16} {'n':>5} {'AUPRC':>6} {'thresh':>6} {'P':>6} {'R':>6} {'F1':>6}  (validation)")
    for label, m in manifest["validation"].items():
        auprc = f"{m['auprc']:.3f}" if m["auprc"] is not None else "-"
        say(
            f"{label:<16} {m['n']:>5} {auprc:>6} {m['threshold']:>6.3f} {m['precision']:>6.3f} "
            f"{m['recall']:>6.3f} {m['f1']:>6.3f}"
        )
    return 0


def _say_calibration(manifest: dict) -> None:
    table = manifest["guard_calibration"]["table"]
    chosen = manifest["guard_thresholds"]["harmful"]
    say(
        f"harmful threshold inside the guard: {chosen:.2f} (classifier's own {manifest['thresholds']['harmful']:.3f})"
    )
    say(
        f"{'threshold':>9} {'missed':>7} {'flagged':>8}  (validation: {table[0]['harmful']} harmful, "
        f"{table[0]['benign']} benign)"
    )
    for row in table:
        mark = " <" if row["threshold"] == chosen else ""
        say(f"{row['threshold']:>9.3f} {row['missed']:>7} {row['flagged']:>8}{mark}")


def _calibrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from medgemma.safety.calibrate import calibrate
    from medgemma.safety.classifier import ARTIFACT

    manifest = calibrate(settings_from(args), Path(args.artifact) if args.artifact else ARTIFACT)
    _say_calibration(manifest)
    return 0


def register_eval(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("safety", help="label a JSONL file of prompts with the safety guard; precision/recall")
    add_common(p)
    p.add_argument(
        "--data", required=True, help='JSONL rows {"text": ..., "expected": "emergency"} (expected optional)'
    )
    p.add_argument("--json", action="store_true", help="print rows, metrics and confusion as one JSON object")
    p.add_argument(
        "--rules-only", action="store_true", help="switch the learned layer off (safety_learned=false)"
    )
    p.set_defaults(handler=_safety)


def _safety(args: argparse.Namespace) -> int:
    from medgemma.evaluation.reports import safety_report
    from medgemma.safety.guard import SafetyGuard

    settings = settings_from(args, safety_learned=False if args.rules_only else None)
    guard = SafetyGuard(settings, warm=False)
    result = safety_report(settings, guard.classify, guard.classify_many, data=args.data)
    say(f"saved as evaluation run {result.pop('run_ids')[0]}", err=True)
    if args.json:
        print_json(result)
        return 0
    say(
        f"{result['n']} rows · accuracy {result['accuracy']:.3f} · allowed flagged {result['allowed_flagged']:.1%}"
        f" · {result['ms_per_row']} ms per row (batched)"
    )
    say(f"{'label':<16} {'precision':>9} {'recall':>7} {'support':>8}")
    for label, m in result["metrics"].items():
        say(f"{label:<16} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['support']:>8}")
    labels = result["confusion"]["labels"]
    say("confusion (rows = expected, columns = predicted): " + " ".join(f"{x[:9]:>9}" for x in labels))
    for label, row in zip(labels, result["confusion"]["matrix"], strict=True):
        say(f"  {label:<16}" + " ".join(f"{n:>9}" for n in row))
    for r in result["rows"]:
        if r["expected"] and r["expected"] != r["predicted"]:
            say(f"  MISS expected {r['expected']}, got {r['predicted']}: {r['text'][:100]}")
    return 0
