"""`python -m medgemma eval safety --data FILE.jsonl [--json]`: label rows with the safety guard and
report per-label precision/recall and the confusion matrix."""

from __future__ import annotations

import argparse

from medgemma.commands import add_common, print_json, say, settings_from


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
    p.add_argument(
        "--write-seed",
        action="store_true",
        help="after (re)training, ship the learned weights as data/safety_learned_seed.json",
    )
    p.set_defaults(handler=_safety)


def _safety(args: argparse.Namespace) -> int:
    from medgemma.evaluation.reports import safety_report
    from medgemma.safety.guard import SafetyGuard

    settings = settings_from(args, safety_learned=False if args.rules_only else None)
    guard = SafetyGuard(settings, warm=False)
    result = safety_report(settings, guard.classify, guard.classify_many, data=args.data)
    say(f"saved as evaluation run {result.pop('run_ids')[0]}", err=True)
    if args.write_seed and guard.learned is not None and guard.learned.ensure_ready():
        from medgemma.safety.learned import SEED_FILE

        guard.learned.write_seed()
        say(f"wrote {SEED_FILE}", err=True)
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
