"""Export formats side by side: size, export time and verification for each format of one adapter, and,
with --suite, the evaluation delta of each exported artifact against the PyTorch adapter and the base.

Prints two tables; never asserts. Exports go to --out-root/<format> (replaced). Example:
  .venv/bin/python benchmarks/export_formats.py --adapter RUN --formats gguf,gguf-q8_0,gguf-q4_k_m \
      --suite medquad --limit 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medgemma.config import load_settings  # noqa: E402
from medgemma.errors import UserFacingError  # noqa: E402
from medgemma.export.exporter import FORMATS, export, read_export  # noqa: E402

EVAL_KEYS = ("token_f1", "rougeL", "accuracy", "latency_p50_s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--adapter", required=True, help="run name, adapter name or folder")
    ap.add_argument(
        "--formats", default="lora,merged-fp16,merged-fp32,gguf,gguf-q8_0,gguf-q4_k_m,gguf-lora,onnx"
    )
    ap.add_argument("--out-root", default="", help="folder for the exports (default: a temp folder)")
    ap.add_argument("--reuse", action="store_true", help="skip formats already exported under --out-root")
    ap.add_argument("--suite", default="", help="also evaluate base, adapter and each artifact on this suite")
    ap.add_argument("--limit", type=int, default=20)
    ap.add_argument("--rag", choices=["on", "off"], default="off")
    ap.add_argument("--data", default=None, help="the suite's examples from this file (same shape)")
    ap.add_argument("--eval-formats", default="gguf,gguf-q8_0,gguf-q4_k_m", help="artifacts to evaluate")
    args = ap.parse_args()
    settings = load_settings()
    root = Path(args.out_root or tempfile.mkdtemp(prefix="medgemma-export-bench-"))
    rows = []
    for fmt in [f for f in args.formats.split(",") if f]:
        if fmt not in FORMATS:
            raise SystemExit(f"unknown format {fmt}")
        out = root / fmt
        if args.reuse and read_export(out):
            row = read_export(out)
            rows.append((fmt, row["size_bytes"], row["seconds"], row["checks"], ""))
            continue
        started = time.perf_counter()
        try:
            r = export(settings, args.adapter, fmt, out, overwrite=True)
            rows.append((fmt, r.size_bytes, r.seconds, r.checks, ""))
        except UserFacingError as exc:
            rows.append((fmt, 0, time.perf_counter() - started, [], str(exc).splitlines()[0][:70]))
    print(f"\nexports of {args.adapter} (in {root})")
    print(
        f"{'format':<13} {'size MB':>9} {'export s':>9}  {'agree':>5} {'max|dlogit|':>11} {'same tokens':>11}  note"
    )
    for fmt, size, secs, checks, note in rows:
        c = checks[0] if checks else {}
        print(
            f"{fmt:<13} {size / 1e6:>9.1f} {secs:>9.1f}  {c.get('agreement', float('nan')):>5.2f} "
            f"{c.get('max_abs_diff', float('nan')):>11.4g} {str(c.get('tokens_match', '-')):>11}  {note}"
        )
    if args.suite:
        evaluate(settings, args, root)
    return 0


def evaluate(settings, args, root: Path) -> None:
    from medgemma.evaluation.runner import run_eval
    from medgemma.export.artifact_eval import evaluate_artifact
    from medgemma.models.adapters import get_adapter

    info = get_adapter(settings, args.adapter)
    rag = args.rag == "on"
    runs = [
        (
            "base (packaged q4_k_m GGUF)",
            lambda: run_eval(
                settings,
                args.suite,
                model=info.base_model,
                adapter="",
                rag=rag,
                limit=args.limit,
                data=args.data,
            ),
        ),
        (
            "adapter (PyTorch fp32)",
            lambda: run_eval(
                settings,
                args.suite,
                model=info.base_model,
                adapter=str(info.path),
                rag=rag,
                limit=args.limit,
                data=args.data,
            ),
        ),
    ]
    for fmt in [f for f in args.eval_formats.split(",") if f]:
        if read_export(root / fmt):
            runs.append(
                (
                    f"export {fmt}",
                    lambda fmt=fmt: evaluate_artifact(
                        settings, root / fmt, args.suite, rag=rag, limit=args.limit, data=args.data
                    ),
                )
            )
    results = []
    for name, run in runs:
        started = time.perf_counter()
        summary = run()
        results.append((name, summary, time.perf_counter() - started))
    keys = [k for k in EVAL_KEYS if any(k in s for _, s, _ in results)]
    ref = results[1][1] if len(results) > 1 else {}
    print(f"\n{args.suite} (limit {args.limit}, rag {args.rag}); delta against the PyTorch adapter")
    print(f"{'model':<30} " + " ".join(f"{k:>16}" for k in keys) + f" {'eval s':>7}  run")
    for name, s, secs in results:
        cells = []
        for k in keys:
            v, base = s.get(k), ref.get(k)
            cells.append(
                f"{v:>7.3f} ({v - base:+.3f})"
                if isinstance(v, float) and isinstance(base, float)
                else f"{'-':>16}"
            )
        print(f"{name:<30} " + " ".join(f"{c:>16}" for c in cells) + f" {secs:>7.0f}  {s.get('run_id', '')}")


if __name__ == "__main__":
    raise SystemExit(main())
