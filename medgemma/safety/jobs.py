"""jobs.py is the safety job kind for medgemma.jobs: retrain the guard's classifier as a
`python -m medgemma safety train` job (from the Evaluation tab) into the data home, where the guard
prefers it over the shipped artifact. It knows how to start the job, not how training works (finetune.py).
"""

from __future__ import annotations

from typing import Any

from medgemma import jobs
from medgemma.config import Settings
from medgemma.errors import InputRejected
from medgemma.safety.classifier import home_artifact


def _prepare_job(settings: Settings, args: dict[str, Any]) -> jobs.Launch:
    """`safety train` from {epochs}; writes the data home's classifier; progress goes to metrics.jsonl."""
    epochs = args.get("epochs")
    if epochs is not None and not 1 <= int(epochs) <= 20:
        raise InputRejected(f"Epochs must be between 1 and 20; got {epochs}.")
    argv = ["safety", "train", "--artifact", str(home_artifact(settings)), "--out", jobs.RUN_PLACEHOLDER]
    argv += ["--config", f"{jobs.RUN_PLACEHOLDER}/settings.yaml"]
    argv += ["--epochs", str(int(epochs))] if epochs is not None else []
    config = {"epochs": int(epochs) if epochs is not None else None, "artifact": str(home_artifact(settings))}
    return jobs.Launch(argv, config, name="safety-classifier")


job_spec = jobs.JobSpec("safety", _prepare_job, jobs.read_fraction)
