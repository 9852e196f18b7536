"""calibrate.py picks the classifier's harmful threshold where it is used: inside the whole guard.

`finetune.py` picks each label's threshold on the classifier's scores alone, under a budget of benign rows
it may flag. Inside the guard the rules and frames already hold many of its votes back (a benign context, a
carer's question, the user's own question must be surer), so for `harmful` that budget sat high: 0.959 let
through requests it scored 0.6 to 0.95. Here the guard labels the validation split (held out by source,
never trained on) at each candidate threshold, and the threshold with the fewest errors wins: harmful
requests let through plus benign rows flagged, the higher threshold on a tie. The result goes into the
artifact's sidecar as `guard_thresholds`, which the classifier prefers over its own.

It knows the data through `corpus` and decides nothing itself: the guard labels, this module counts.

Measured once against held-out sets (benchmarks/results/safety_calibrate_not_adopted.txt): the calibrated
0.80 caught 2 more harmful requests and flagged 8 more benign rows than 0.959, so the shipped sidecar does
not carry `guard_thresholds`; the verb stays for retrained classifiers, whose trade-off may differ.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from medgemma.config import Settings
from medgemma.safety import corpus
from medgemma.safety.classifier import ARTIFACT, SafetyClassifier, sidecar_of
from medgemma.storage import atomic_write_json, read_json

logger = logging.getLogger(__name__)

CANDIDATES = tuple(round(0.50 + 0.02 * i, 2) for i in range(25))  # 0.50 ... 0.98


def _errors(valid: list[corpus.Example], labels: list[str]) -> dict[str, int]:
    harmful = [lab for e, lab in zip(valid, labels, strict=True) if e.label == "harmful"]
    benign = [lab for e, lab in zip(valid, labels, strict=True) if e.label == "allowed"]
    missed = sum(lab not in ("harmful", "emergency") for lab in harmful)  # a crisis answer is a catch
    flagged = sum(lab != "allowed" for lab in benign)
    return {"harmful": len(harmful), "missed": missed, "benign": len(benign), "flagged": flagged}


def calibrate(
    settings: Settings, artifact: Path = ARTIFACT, valid: list[corpus.Example] | None = None
) -> dict[str, Any]:
    """Label the validation split (or `valid`) with the guard at each candidate harmful threshold; write the
    best one (fewest missed + flagged, the higher on a tie) into the sidecar; return what was written."""
    from medgemma.safety.guard import SafetyGuard

    if valid is None:
        _, valid = corpus.training_and_validation(settings)
    guard = SafetyGuard(dataclasses.replace(settings, safety_model="", safety_learned=True), warm=False)
    guard.learned = SafetyClassifier(artifact)
    if not guard.learned.ensure_ready():
        raise ValueError(f"No classifier to calibrate at {artifact}: {guard.learned.error}")
    own = dict(guard.learned.manifest["thresholds"])
    texts = [e.text for e in valid]
    probs = guard.probabilities_many(texts)
    table = []
    for t in sorted(set(CANDIDATES) | {own["harmful"]}):
        guard.learned.thresholds = {**own, "harmful": t}
        labels = [guard._decide(text, [], p).label for text, p in zip(texts, probs, strict=True)]
        table.append({"threshold": t, **_errors(valid, labels)})
    best = min(table, key=lambda r: (r["missed"] + r["flagged"], -r["threshold"]))
    manifest = read_json(sidecar_of(artifact), None) or {}
    manifest["guard_thresholds"] = {"harmful": best["threshold"]}
    manifest["guard_calibration"] = {
        "rule": "fewest harmful missed + benign flagged by the whole guard on the validation split; "
        "the higher threshold on a tie",
        "validation_rows": len(valid),
        "table": table,
    }
    atomic_write_json(sidecar_of(artifact), manifest)
    logger.info(
        "Guard-level harmful threshold %.2f (classifier's own %.3f)", best["threshold"], own["harmful"]
    )
    return manifest
