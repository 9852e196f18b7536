"""Build the shipped reference adapter: train it with configs/reference-adapter.yaml, export its GGUF LoRA
(verified by the exporter), and put only the small files into medgemma/models/reference/: the PEFT config,
the LoRA weights as fp16 safetensors, the GGUF LoRA, the manifest (data and recipe hashes, commit, training
figures) and MODEL_CARD.md. No tokenizer or base-model copy is shipped.

Run:   make reference-adapter                      (trains: about 1.5 h on 2 idle cores)
       .venv/bin/python scripts/reference_adapter.py --run RUN_ID   (ship a finished training run)
Then:  .venv/bin/python benchmarks/answers.py       (the figures in the model card's evaluation section)
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from medgemma.config import load_settings  # noqa: E402
from medgemma.export.card import sha256_file as sha256  # noqa: E402
from medgemma.models.adapters import MANIFEST, REFERENCE, REFERENCE_BASE, REFERENCE_DIR  # noqa: E402

CONFIG = REPO / "configs" / "reference-adapter.yaml"
SHIPPED = ("adapter_config.json", "adapter_model.safetensors", "adapter.gguf", MANIFEST, "MODEL_CARD.md")


def cli(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "medgemma", *args], cwd=REPO, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"python -m medgemma {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def train(settings, config: Path) -> Path:
    run = settings.path("runs", "train", time.strftime("%Y%m%d-%H%M%S-") + REFERENCE)
    print(f"training into {run} (progress: python -m medgemma runs show {run.name})", flush=True)
    cli("train", "--config", str(config), "--out", str(run))
    return run


def fp16_copy(src: Path, dest: Path) -> None:
    """The LoRA weights in fp16 (half the size; PEFT casts them to the base model's dtype on load)."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = {k: v.to(torch.float16) if v.is_floating_point() else v for k, v in load_file(src).items()}
    save_file(tensors, dest, metadata={"format": "pt"})


def training_figures(run: Path) -> dict:
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text(encoding="utf-8").splitlines() if x]
    steps = [r for r in rows if "loss" in r]
    tail = steps[-10:]
    return {
        "steps": steps[-1]["step"] if steps else 0,
        "first_loss": round(steps[0]["loss"], 4) if steps else None,
        "final_loss_mean_last_10": round(sum(r["loss"] for r in tail) / len(tail), 4) if tail else None,
        "wall_s": round(steps[-1]["time"] - steps[0]["time"] + steps[0].get("s_per_step", 0), 1)
        if steps
        else None,
    }


def commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip()


def ship(settings, run: Path, dest: Path = REFERENCE_DIR) -> dict:
    adapter = run / "adapter"
    if not (adapter / "adapter_model.safetensors").is_file():
        sys.exit(f"{adapter} has no finished adapter (did the training run end?).")
    print("exporting the GGUF LoRA (gguf-lora, verified against the PEFT adapter) ...", flush=True)
    exported = json.loads(
        cli("export", "--adapter", str(adapter), "--format", "gguf-lora", "--overwrite", "--json")
    )
    gguf = next(Path(exported["folder"]).glob("*.gguf"))
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(adapter / "adapter_config.json", dest / "adapter_config.json")
    fp16_copy(adapter / "adapter_model.safetensors", dest / "adapter_model.safetensors")
    shutil.copy2(gguf, dest / "adapter.gguf")
    stats = json.loads((run / "data" / "stats.json").read_text(encoding="utf-8"))
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    manifest = {
        "name": REFERENCE,
        "base_model": REFERENCE_BASE,
        "created": time.strftime(
            "%Y-%m-%dT%H:%M:%SZ", time.gmtime((adapter / "adapter_model.safetensors").stat().st_mtime)
        ),
        "data": config["data"],
        "examples": stats.get("train", 0),
        "sources": stats.get("sources", {}),
        "data_sha256": sha256(run / "data" / "train.jsonl"),
        "recipe": str(CONFIG.relative_to(REPO)),
        "recipe_sha256": sha256(CONFIG),
        "commit": commit(),
        "run_id": run.name,
        "metrics": training_figures(run),
        "files_sha256": {n: sha256(dest / n) for n in SHIPPED[:3]},
    }
    (dest / MANIFEST).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    return manifest


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", help="ship this finished training run (id or folder) instead of training")
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument(
        "--into",
        default=str(REFERENCE_DIR),
        help="where to put the files (default: the shipped folder; another folder to check a rebuild against "
        "the shipped one, e.g. with benchmarks/answers.py --adapter FOLDER)",
    )
    args = ap.parse_args()
    settings = load_settings()
    if args.run:
        run = Path(args.run) if Path(args.run).is_dir() else settings.path("runs", "train", args.run)
    else:
        run = train(settings, Path(args.config))
    dest = Path(args.into).resolve()
    manifest = ship(settings, run, dest)
    sizes = {n: (dest / n).stat().st_size for n in SHIPPED[:3]}
    print(json.dumps({"manifest": manifest, "bytes": sizes}, indent=1))
    print(f"shipped into {dest}; now run benchmarks/answers.py and update MODEL_CARD.md's figures.")


if __name__ == "__main__":
    main()
