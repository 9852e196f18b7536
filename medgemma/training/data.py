"""data.py turns a training config's sources into the run's data files: every source mixed and
shuffled with the run's seed, token lengths checked against max_length, each example rendered into
prompt/completion text, and data/train.jsonl (+ eval.jsonl, stats.json) written. It knows nothing about
models or trainers beyond a tokenizer and a renderer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

from medgemma.config import Settings
from medgemma.errors import ConfigError
from medgemma.storage import atomic_write_json, read_jsonl, write_jsonl
from medgemma.training import datasets, sources
from medgemma.training.config import TrainConfig

DATA = "data"


def token_counter(tokenizer: Any) -> Callable[[str], int]:
    """Tokens an example costs in training: its text with special tokens, plus the end-of-sequence token."""
    return lambda text: len(tokenizer(text, add_special_tokens=True)["input_ids"]) + 1


def build_examples(cfg: TrainConfig, settings: Settings) -> list[datasets.Example]:
    """Mix every source, shuffle with the run's seed and apply max_examples."""
    examples: list[datasets.Example] = []
    for spec in cfg.data:
        examples.extend(
            sources.load_source(
                spec, settings, dict(cfg.columns) or None, seed=cfg.seed, skip_invalid=cfg.skip_invalid_rows
            )
        )
    random.Random(cfg.seed).shuffle(examples)
    return examples[: cfg.max_examples] if cfg.max_examples else examples


def prepare_data(
    cfg: TrainConfig, settings: Settings, tokenizer: Any, render: datasets.Renderer, folder: Path
) -> dict[str, Any]:
    """Write data/train.jsonl (+ eval.jsonl) as prompt/completion text; returns token statistics."""
    examples = build_examples(cfg, settings)
    stats = datasets.token_stats(examples, render, token_counter(tokenizer), cfg.max_length)
    examples = datasets.check_lengths(examples, stats.pop("lengths"), cfg.max_length, cfg.long_examples)
    n_eval = int(len(examples) * cfg.eval_split)
    if cfg.eval_split and n_eval < 1:
        raise ConfigError(f"eval_split={cfg.eval_split} leaves no eval example out of {len(examples)}.")
    rows = []
    for e in examples:
        prompt, completion = datasets.split_render(e, render)
        rows.append({"prompt": prompt, "completion": completion, "source": e.source})
    data = folder / DATA
    (data / "eval.jsonl").unlink(missing_ok=True)
    if n_eval:
        write_jsonl(data / "eval.jsonl", rows[:n_eval])
    write_jsonl(data / "train.jsonl", rows[n_eval:])
    stats.update(
        train=len(rows) - n_eval,
        eval=n_eval,
        sources={s: sum(r["source"] == s for r in rows) for s in {r["source"] for r in rows}},
    )
    atomic_write_json(data / "stats.json", stats)
    return stats


def hf_dataset(path: Path) -> Any:
    """A prompt/completion jsonl as a datasets.Dataset (None when empty)."""
    from datasets import Dataset

    rows = [{"prompt": r["prompt"], "completion": r["completion"]} for r in read_jsonl(path)]
    return Dataset.from_list(rows) if rows else None
