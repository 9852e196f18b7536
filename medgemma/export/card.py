"""card.py writes what travels with every export: a model card (README.md with YAML metadata)
and manifest.json (format, provenance, verification, sha256 and size of every file), written last.

It knows nothing about how the files were made; export/exporter.py passes a CardInfo.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from medgemma.config import Settings
from medgemma.storage import atomic_write_json, atomic_write_text

MANIFEST, README = "manifest.json", "README.md"
GEMMA_TERMS = "https://ai.google.dev/gemma/terms"
HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
LIBRARY = {
    "lora": "peft",
    "merged-fp16": "transformers",
    "merged-fp32": "transformers",
    "gguf": "gguf",
    "gguf-q8_0": "gguf",
    "gguf-q4_k_m": "gguf",
    "gguf-lora": "gguf",
    "onnx": "onnx",
    "tensorrt": "tensorrt",
}
RELATION = {"lora": "adapter", "gguf-lora": "adapter", "gguf-q8_0": "quantized", "gguf-q4_k_m": "quantized"}
KEY_METRICS = (
    "accuracy",
    "token_f1",
    "rougeL",
    "bleu",
    "mrr",
    "recall@5",
    "citation_rate",
    "supported_sentence_rate",
)


@dataclass
class CardInfo:
    name: str  # adapter name
    fmt: str
    label: str  # human name of the format
    base_model: str  # preset, Hub id or folder
    base_hub_id: str = ""
    template: str = ""
    datasets: list[str] = field(default_factory=list)
    training: dict[str, Any] = field(default_factory=dict)  # adapter manifest: metrics, lora, examples
    evals: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)  # artifact file names (no card/manifest)
    notes: list[str] = field(default_factory=list)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_table(folder: Path) -> dict[str, dict[str, Any]]:
    """sha256 and size of every file under folder (relative paths), except the manifest itself."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if rel != MANIFEST:
            out[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size}
    return out


def dataset_names(data: list[str]) -> list[str]:
    """Training sources without sample limits or local folders ("medquad-rag:2000" -> "medquad-rag")."""
    names = []
    for spec in data:
        name = spec.rsplit(":", 1)[0] if re.search(r":\d+$", spec) else spec
        names.append(Path(name).name if ("/" in name or "\\" in name) else name)
    return list(dict.fromkeys(n for n in names if n))


def latest_evals(settings: Settings, adapter_keys: set[str]) -> list[dict[str, Any]]:
    """The newest finished evaluation run per suite whose adapter is this one (by name, run id or path)."""
    from medgemma.evaluation.runs import list_eval_runs, load_eval_run

    keys = {k for k in adapter_keys if k}
    for k in list(keys):
        if Path(k).exists():
            keys.add(str(Path(k).resolve()))
    found: dict[str, dict[str, Any]] = {}
    for run in list_eval_runs(settings):  # newest first
        adapter = str(run.get("adapter") or "")
        resolved = str(Path(adapter).resolve()) if adapter and Path(adapter).exists() else adapter
        if run.get("state") != "done" or not ({adapter, resolved} & keys) or run.get("suite") in found:
            continue
        summary = load_eval_run(settings, run["run_id"])["summary"]
        metrics = {k: summary[k] for k in KEY_METRICS if isinstance(summary.get(k), (int, float))}
        found[run["suite"]] = {
            "suite": run["suite"],
            "run_id": run["run_id"],
            "n": summary.get("n"),
            "rag": run.get("rag"),
            "primary": run.get("primary"),
            "metrics": metrics,
            "created": run.get("created", ""),
        }
    return list(found.values())


def metadata(info: CardInfo) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if HUB_ID.match(info.base_hub_id or ""):
        meta["base_model"] = info.base_hub_id
        if info.fmt in RELATION:
            meta["base_model_relation"] = RELATION[info.fmt]
        elif info.fmt.startswith("merged"):
            meta["base_model_relation"] = "merge"
    meta.update(
        library_name=LIBRARY[info.fmt],
        license="gemma",
        license_link=GEMMA_TERMS,
        pipeline_tag="text-generation",
        language=["en"],
        tags=["medical", "medgemma-platform", "lora", info.fmt, LIBRARY[info.fmt]],
    )
    if info.datasets:
        meta["datasets"] = info.datasets
    if info.evals:
        meta["model-index"] = [
            {
                "name": info.name,
                "results": [
                    {
                        "task": {"type": "text-generation"},
                        "dataset": {"name": e["suite"], "type": e["suite"]},
                        "metrics": [{"type": k, "name": k, "value": v} for k, v in e["metrics"].items()],
                    }
                    for e in info.evals
                    if e["metrics"]
                ],
            }
        ]
    return meta


def _usage(info: CardInfo, base: str) -> str:
    f = info.files[0] if info.files else "model"
    if info.fmt == "lora":
        return (
            "```python\nfrom peft import AutoPeftModelForCausalLM\nmodel = AutoPeftModelForCausalLM."
            'from_pretrained("path/to/this/folder")\n```\nIn the platform: copy the folder under '
            "`<MEDGEMMA_HOME>/adapters/` and pick it in the chat, or `MEDGEMMA_ADAPTER=path/to/folder`."
        )
    if info.fmt.startswith("merged"):
        return (
            "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
            'model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")\n```\n'
            "In the platform: `MEDGEMMA_MODEL=path/to/this/folder python app.py`.\n\n"
            "Serve it with vLLM (`vllm serve path/to/this/folder`) or TGI (`docker run --gpus all -v "
            "$PWD:/data ghcr.io/huggingface/text-generation-inference --model-id /data`) and point the "
            "platform at it: `MEDGEMMA_BACKEND=openai MEDGEMMA_OPENAI_BASE_URL=http://localhost:8000/v1 "
            "MEDGEMMA_MODEL=path/to/this/folder python app.py`."
        )
    if info.fmt == "gguf-lora":
        return (
            f"Apply it on top of a GGUF of the base model ({base}): "
            f'`llama-cli -m base.gguf --lora {f}`, or in Python `Llama(model_path="base.gguf", '
            f'lora_path="{f}")`. In the platform: `MEDGEMMA_ADAPTER=path/to/{f}` with the llama.cpp '
            "backend."
        )
    if info.fmt.startswith("gguf"):
        return (
            f"In the platform: `MEDGEMMA_MODEL=path/to/{f} python app.py` (llama.cpp backend), or "
            f'`python -m medgemma ask --model path/to/{f} "..."`.\n\nAs an OpenAI-compatible server: '
            f"`python -m llama_cpp.server --model {f}` (or `llama-server -m {f}`), then "
            "`MEDGEMMA_BACKEND=openai MEDGEMMA_OPENAI_BASE_URL=http://localhost:8000/v1`."
        )
    if info.fmt == "onnx":
        return (
            '```python\nimport numpy as np, onnxruntime as ort\nsess = ort.InferenceSession("model.onnx")\n'
            'logits = sess.run(["logits"], {"input_ids": np.array([[2, 105]], dtype=np.int64)})[0]\n'
            "```\nThe graph has no KV cache (input_ids -> logits). Evaluate it in the platform: "
            "`python -m medgemma eval artifact --path path/to/this/folder --suite medquad --rag off`."
        )
    return (
        "A TensorRT engine for the GPU and TensorRT version that built it (input_ids -> logits); "
        "rebuild it on other hardware from the ONNX export."
    )


def model_card(info: CardInfo) -> str:
    front = yaml.safe_dump(metadata(info), sort_keys=False, allow_unicode=True)
    base = info.base_hub_id or (
        Path(info.base_model).name if Path(info.base_model).exists() else info.base_model
    )
    lines = [
        f"---\n{front}---",
        f"# {info.name}: {info.label}",
        "",
        f"A LoRA fine-tune of **{base}** made with the MedGemma AI Platform, exported as {info.label}.",
        "",
        "## Intended use",
        "General, cited medical information for the public and research on medical question answering, "
        "behind the platform's safety guard and retrieval of trusted sources.",
        "",
        "## Limitations",
        "- **Not for diagnosis.** It is not a medical device and must not be used to diagnose, choose "
        "doses or make treatment decisions; a clinician must review any use in care.",
        "- A small model: it can state wrong facts fluently. Use it with retrieval and citations.",
        "- Quantization (q4_k_m especially) can erase what a small fine-tuned model learned; compare "
        "the evaluation results of each format before you ship one.",
        "",
        "## License",
        f"Gemma models are provided under the Gemma Terms of Use: {GEMMA_TERMS}. Fine-tunes and exports "
        "inherit those terms.",
        "",
        "## Training",
    ]
    lines.append(f"- Data: {', '.join(info.datasets) or 'not recorded'}")
    t = info.training
    if t.get("examples"):
        lines.append(f"- Examples: {t['examples']}")
    if t.get("lora"):
        lines.append(
            f"- LoRA: r={t['lora'].get('r')}, alpha={t['lora'].get('alpha')}, "
            f"modules {', '.join(t['lora'].get('target_modules', []))}"
        )
    for k in ("steps", "final_loss", "eval_loss"):
        if k in (t.get("metrics") or {}):
            lines.append(f"- {k.replace('_', ' ')}: {t['metrics'][k]}")
    lines += ["", "## Evaluation"]
    if info.evals:
        lines += ["| Suite | Run | n | Metrics |", "|---|---|---|---|"]
        for e in info.evals:
            shown = ", ".join(f"{k} {v:.3f}" for k, v in e["metrics"].items())
            lines.append(f"| {e['suite']} | {e['run_id']} | {e['n']} | {shown} |")
        lines.append("\nResults of the adapter (PyTorch) from its latest evaluation run per suite.")
    else:
        lines.append(
            "No evaluation run of this adapter yet (`python -m medgemma eval run ... --adapter NAME`)."
        )
    lines += [
        "",
        "## Export verification",
        "| Check | Level | Passed | Token agreement | Max logit diff |",
        "|---|---|---|---|---|",
    ]
    for c in info.checks:
        lines.append(
            f"| {c['name']} | {c['level']} | {'yes' if c['passed'] else 'no'} | "
            f"{c['agreement']:.2f} | {c['max_abs_diff']:.3g} |"
        )
    lines += [""] + [f"- {n}" for n in info.notes]
    lines += [
        "",
        "## How to use",
        _usage(info, base),
        "",
        "`manifest.json` lists the sha256 of every file.",
        "",
    ]
    return "\n".join(lines)


def write_card_and_manifest(folder: Path, info: CardInfo, manifest: dict[str, Any]) -> dict[str, Any]:
    """README.md first, then manifest.json (hashes of everything, README included) last."""
    atomic_write_text(folder / README, model_card(info))
    manifest = {**manifest, "files": file_table(folder)}
    atomic_write_json(folder / MANIFEST, manifest)
    return manifest
