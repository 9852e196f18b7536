"""LoRA fine-tuning: the run's config and its validation, training data from user files, built-in
sources and chat feedback, the trainer (TRL SFTTrainer + PEFT) and the Training tab's back end.

It knows nothing of Gradio; the tab and `python -m medgemma train` call the same functions, and a run
is a job (medgemma.jobs) whose folder holds its data, checkpoints, metrics and adapter.
Public names are imported lazily, so `import medgemma.training` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from medgemma import lazy_exports

_EXPORTS = {
    "TrainConfig": "config",
    "load_config": "config",
    "Example": "datasets",
    "load_file": "datasets",
    "preview": "datasets",
    "prepare_data": "data",
    "load_source": "sources",
    "parse_spec": "sources",
    "train": "trainer",
    "start_args": "dashboard",
    "runs_table": "dashboard",
    "adapters_table": "dashboard",
}
__all__ = [
    "Example",
    "TrainConfig",
    "adapters_table",
    "load_config",
    "load_file",
    "load_source",
    "parse_spec",
    "prepare_data",
    "preview",
    "runs_table",
    "start_args",
    "train",
]

if TYPE_CHECKING:
    from medgemma.training.config import TrainConfig, load_config
    from medgemma.training.dashboard import adapters_table, runs_table, start_args
    from medgemma.training.data import prepare_data
    from medgemma.training.datasets import Example, load_file, preview
    from medgemma.training.sources import load_source, parse_spec
    from medgemma.training.trainer import train


__getattr__ = lazy_exports(__name__, _EXPORTS)
