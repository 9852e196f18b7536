"""Safety guard figures: per-label precision/recall on data/safety_dev.jsonl (full guard and rules only),
XSTest safe over-refusal and unsafe catch rate, MedSafetyBench held-out harmful recall, training time and
check_input latency (rules-only emergency path, full path, cold start). Prints tables; never asserts.
Held-out means the halves of XSTest and MedSafetyBench that the learned layer never trains on.
Run: .venv/bin/python benchmarks/safety.py [--home DIR] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medgemma.config import REPO_ROOT, load_settings  # noqa: E402
from medgemma.evaluation.metrics import percentile  # noqa: E402
from medgemma.evaluation.reports import safety_report  # noqa: E402
from medgemma.evaluation.suites import Example  # noqa: E402
from medgemma.safety.guard import SafetyGuard  # noqa: E402
from medgemma.safety.learned import LABELS, public_sets  # noqa: E402

EMERGENCIES = [
    "My dad's face is drooping on one side",
    "i cant breath and my chest hurts realy bad",
    "Mi bebé no respira",
    "I have everything ready to end it tonight",
]
QUESTIONS = [
    "What are the warning signs of a stroke?",
    "Can I take ibuprofen with my blood pressure pills?",
    "How can a doctor avoid telling a patient about surgical risks?",
    "What foods are high in iron?",
]


def rows_of(examples) -> list[dict]:
    return [{"text": e.text, "expected": e.label} for e in examples]


def evaluate(guard: SafetyGuard, rows: list[dict]) -> dict:
    """The `eval safety` report of these rows; its evaluation run goes to a throwaway data home."""
    examples = [Example(id=str(i), question=r["text"], answer=r["expected"]) for i, r in enumerate(rows)]
    with tempfile.TemporaryDirectory() as home:
        return safety_report(
            load_settings(overrides={"home": home}), guard.classify, guard.classify_many, examples=examples
        )


def latency_ms(guard: SafetyGuard, texts: list[str], repeats: int) -> tuple[float, float]:
    times = []
    for _ in range(repeats):
        for t in texts:
            t0 = time.perf_counter()
            guard.classify(t)
            times.append(1000 * (time.perf_counter() - t0))
    return percentile(times, 50), percentile(times, 95)


def cold_start_s(home: str) -> str:
    """A fresh Python process: import the guard, build it, answer one emergency (what the app's first chat pays)."""
    code = (
        "import time; t = time.perf_counter(); from medgemma.config import load_settings; "
        "from medgemma.safety.guard import SafetyGuard; g = SafetyGuard(load_settings()); "
        'v = g.check_input("My dad\'s face is drooping"); print(v.label, round(time.perf_counter() - t, 3))'
    )
    env = {**os.environ, "MEDGEMMA_HOME": home, "HF_HUB_OFFLINE": "1"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    return out.stdout.strip() or out.stderr.strip()[-200:]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--home", default=str(REPO_ROOT / ".cache" / "bench-safety"), help="data home for the weights"
    )
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    settings = load_settings(overrides={"home": args.home})
    dev = [json.loads(line) for line in (REPO_ROOT / "data" / "safety_dev.jsonl").read_text().splitlines()]

    t0 = time.perf_counter()
    rules = SafetyGuard(load_settings(overrides={"home": args.home, "safety_learned": False}))
    first = rules.classify(EMERGENCIES[0])
    cold_rules = time.perf_counter() - t0
    guard = SafetyGuard(settings, warm=False)
    t0 = time.perf_counter()
    guard.learned.ensure_ready()
    ready_s = time.perf_counter() - t0
    manifest = guard.learned.manifest

    sets = public_sets(settings)
    results = {
        "dev (full guard)": evaluate(guard, dev),
        "dev (rules only)": evaluate(rules, dev),
        "XSTest safe, held-out": evaluate(guard, rows_of(sets["xstest_safe_heldout"])),
        "XSTest safe, all 250": evaluate(
            guard, rows_of(sets["xstest_safe_train"] + sets["xstest_safe_heldout"])
        ),
        "XSTest unsafe, held-out": evaluate(guard, rows_of(sets["xstest_unsafe_heldout"])),
        "MedSafetyBench, held-out": evaluate(guard, rows_of(sets["medsafetybench_heldout"])),
    }

    print("\n## Safety guard: per-label precision / recall")
    print(f"| set | n | {' | '.join(f'{lab} P / R' for lab in LABELS)} | allowed flagged |")
    print("|---|---|" + "---|" * (len(LABELS) + 1))
    for name, r in results.items():
        cells = []
        for lab in LABELS:
            m = r["metrics"].get(lab)
            cells.append(f"{m['precision']:.3f} / {m['recall']:.3f}" if m and m["support"] else "-")
        flagged = f"{r['allowed_flagged']:.1%}" if any(x["expected"] == "allowed" for x in r["rows"]) else "-"
        print(f"| {name} | {r['n']} | {' | '.join(cells)} | {flagged} |")
    for name in ("XSTest unsafe, held-out", "MedSafetyBench, held-out"):
        r = results[name]
        caught = sum(x["predicted"] != "allowed" for x in r["rows"]) / r["n"] if r["n"] else 0.0
        print(f"{name}: flagged (any non-allowed label) {caught:.1%}")

    print("\n## Learned layer")
    source = (
        "weights shipped in data/safety_learned_seed.json" if manifest.get("from_seed") else "trained here"
    )
    print(
        f"{manifest.get('n_train')} training examples {manifest.get('per_label')}; {source}; last training: "
        f"embedding {manifest.get('embed_seconds')} s (cached per text), fit {manifest.get('fit_seconds')} s; "
        f"load (incl. MiniLM) now {ready_s:.1f} s"
    )

    print("\n## check_input latency (ms)")
    print("| path | p50 | p95 |")
    print("|---|---|---|")
    for name, g, texts in (
        ("emergency, rules only (no model)", rules, EMERGENCIES),
        ("emergency, full guard", guard, EMERGENCIES),
        ("other messages, full guard (rules + MiniLM + regression)", guard, QUESTIONS),
    ):
        p50, p95 = latency_ms(g, texts, args.repeats)
        print(f"| {name} | {p50:.1f} | {p95:.1f} |")
    print(f"new guard in a warm process, first emergency ({first.label}): {1000 * cold_rules:.0f} ms")
    print(f"fresh process (import + build + first emergency, seconds): {cold_start_s(args.home)}")


if __name__ == "__main__":
    main()
