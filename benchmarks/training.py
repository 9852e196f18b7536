"""Step time and peak memory of medgemma.training vs a plain TRL SFTTrainer script with the same config.

    python benchmarks/training.py                 # tiny in-process Gemma 3 (seconds)
    python benchmarks/training.py --real --steps 6  # also Gemma 3 270M (converts the packaged GGUF once)

Each variant runs in its own subprocess (so peak RSS is its own) on the same MedQuAD-RAG examples
(LoRA r=8 on q/k/v/o, batch 2, fp32 on CPU). Prints a table; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "tests"))

VARIANTS = ("medgemma", "trl-plain", "medgemma+gc")


def _timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.marks: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            if not self.marks:
                self.marks.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            self.marks.append(time.perf_counter())

    return StepTimer()


def _peak_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_variant(variant: str, model: str, steps: int, batch: int, max_length: int) -> dict:
    """Runs inside the child process; returns the measurements. Both variants train on the rows that
    medgemma.train_data.prepare_data writes for this config (deterministic for a seed)."""
    from medgemma.config import load_settings
    from medgemma.storage import read_jsonl
    from medgemma.training import data as train_data
    from medgemma.training import model as train_model
    from medgemma.training import trainer as train

    settings = load_settings()
    path, template = train_model.resolve_base(model, settings)
    cfg = train.TrainConfig(
        model=model,
        data=(f"medquad-rag:{steps * batch}",),
        max_steps=steps,
        batch_size=batch,
        max_length=max_length,
        # the tiny test tokenizer is far less compact: its examples exceed max_length
        long_examples="drop" if "gemma-3-270m" in model else "truncate",
        save_steps=10_000,
        logging_steps=1,
        warmup_ratio=0.0,
        gradient_checkpointing=variant.endswith("+gc"),
    )
    timer = _timer()
    work = Path(tempfile.mkdtemp(prefix="bench-train-"))
    started = time.perf_counter()
    if variant.startswith("medgemma"):
        train.train(cfg, settings, work, on_trainer=lambda t: t.add_callback(timer))
    else:
        tokenizer = train_model.load_tokenizer(path)
        train_data.prepare_data(
            cfg, settings, tokenizer, train_model.make_renderer(template, tokenizer), work
        )
        rows = [
            {"prompt": r["prompt"], "completion": r["completion"]}
            for r in read_jsonl(work / "data" / "train.jsonl")
        ]
        _plain_trl(path, cfg, rows, timer, work)
    steps_s = [b - a for a, b in zip(timer.marks, timer.marks[1:], strict=False)]
    return {
        "variant": variant,
        "model": model,
        "steps": len(steps_s),
        "first_step_s": round(steps_s[0], 3) if steps_s else None,
        "median_step_s": round(statistics.median(steps_s[1:] or steps_s), 3) if steps_s else None,
        "total_s": round(time.perf_counter() - started, 1),
        "peak_mb": round(_peak_mb()),
    }


def _plain_trl(path: str, cfg, rows: list[dict], timer, work: Path) -> None:
    """What a user would write by hand with TRL: the same model, data, LoRA and optimisation settings."""
    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from medgemma.config import load_settings

    if load_settings().threads:
        torch.set_num_threads(load_settings().threads)
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, attn_implementation="eager")
    args = SFTConfig(
        output_dir=str(work / "out"),
        per_device_train_batch_size=cfg.batch_size,
        max_steps=cfg.max_steps,
        learning_rate=cfg.learning_rate,
        logging_steps=1,
        save_strategy="no",
        report_to="none",
        bf16=False,
        use_cpu=not torch.cuda.is_available(),
        gradient_checkpointing=False,
        max_length=cfg.max_length,
        disable_tqdm=True,
    )
    trainer = SFTTrainer(
        model=model,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=tokenizer,
        peft_config=LoraConfig(
            r=cfg.lora_r,
            lora_alpha=cfg.lora_alpha,
            lora_dropout=cfg.lora_dropout,
            target_modules=list(cfg.target_modules),
            task_type="CAUSAL_LM",
        ),
        callbacks=[timer],
    )
    trainer.train()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--max-length", type=int, default=640)
    parser.add_argument("--real", action="store_true", help="also benchmark the packaged Gemma 3 270M")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = all cores)")
    parser.add_argument(
        "--repeat", type=int, default=1, help="run every variant this many times (interleaved)"
    )
    parser.add_argument("--child", nargs=2, metavar=("VARIANT", "MODEL"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = run_variant(args.child[0], args.child[1], args.steps, args.batch, args.max_length)
        print("RESULT " + json.dumps(result), flush=True)
        return 0

    home = Path(os.environ.get("MEDGEMMA_HOME") or tempfile.mkdtemp(prefix="bench-home-"))
    env = {
        **os.environ,
        "MEDGEMMA_HOME": str(home),
        "HF_HUB_OFFLINE": "1",
        "MEDGEMMA_THREADS": str(args.threads),
    }
    models = []
    from tiny_gemma import build_tiny_gemma

    models.append(str(build_tiny_gemma(home / "tiny-gemma")))
    if args.real:
        models.append("gemma-3-270m")
    results = []
    for model in models:
        for variant in [v for _ in range(args.repeat) for v in args.variants.split(",")]:
            cmd = [
                sys.executable,
                __file__,
                "--child",
                variant,
                model,
                "--steps",
                str(args.steps),
                "--batch",
                str(args.batch),
                "--max-length",
                str(args.max_length),
            ]
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True)
            line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                print(f"{variant} on {model} failed:\n{proc.stderr[-3000:]}", file=sys.stderr)
                continue
            results.append(json.loads(line[7:]))
    print(
        f"\nLoRA r=8 q/k/v/o, batch {args.batch}, {args.steps} steps, max_length {args.max_length}, "
        f"{os.cpu_count()} CPUs, torch threads {args.threads or 'all'}\n"
    )
    header = f"{'model':16s} {'variant':13s} {'first step s':>12s} {'median step s':>13s} {'total s':>8s} {'peak MB':>8s}"
    print(header)
    print("-" * len(header))
    for r in results:
        name = "tiny-gemma3" if "tiny-gemma" in r["model"] else r["model"]
        print(
            f"{name:16s} {r['variant']:13s} {r['first_step_s']!s:>12s} {r['median_step_s']!s:>13s} "
            f"{r['total_s']:>8} {r['peak_mb']:>8}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
