"""Evaluation: suites (which data, how each file becomes Examples), predictors (what answers an
Example: the chat pipeline, a model, the retriever, the guard), metrics (pure functions), the runner
that scores and stores a run, and the Evaluation tab's tables.

It knows nothing of Gradio; `python -m medgemma eval ...` and the tab go through the same runner.
Public names are imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medgemma import lazy_exports

_EXPORTS = {
    "SUITES": "suites",
    "Suite": "suites",
    "Example": "suites",
    "get_suite": "suites",
    "load_suite": "suites",
    "Prediction": "predictors",
    "make_predictor": "predictors",
    "run_eval": "runner",
    "list_eval_runs": "runs",
    "load_eval_run": "runs",
    "compare_runs": "runs",
    "export_run": "runs",
}
__all__ = [
    "Example",
    "Prediction",
    "SUITES",
    "Suite",
    "compare_runs",
    "export_run",
    "get_suite",
    "list_eval_runs",
    "load_eval_run",
    "load_suite",
    "make_predictor",
    "run_eval",
]

if TYPE_CHECKING:
    from medgemma.evaluation.predictors import Prediction, make_predictor
    from medgemma.evaluation.runner import run_eval
    from medgemma.evaluation.runs import compare_runs, export_run, list_eval_runs, load_eval_run
    from medgemma.evaluation.suites import SUITES, Example, Suite, get_suite, load_suite


__getattr__ = lazy_exports(__name__, _EXPORTS)
