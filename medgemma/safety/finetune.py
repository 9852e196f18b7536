"""finetune.py trains the safety classifier: LoRA on all-MiniLM-L6-v2's attention and feed-forward layers
plus a 5-label head, class-balanced cross-entropy, then per-label thresholds picked on the validation split
(held out by source) and figures at those thresholds. Writes the safetensors artifact and its JSON sidecar.

It knows the data only through `corpus` and the model only through `classifier`.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from medgemma.config import Settings
from medgemma.evaluation.metrics import percentile
from medgemma.safety import corpus
from medgemma.safety.classifier import ARTIFACT, BASE_MODEL, base_model_path, build_encoder, sidecar_of
from medgemma.safety.corpus import Example
from medgemma.storage import atomic_write_bytes, atomic_write_json
from medgemma.types import LABELS

logger = logging.getLogger(__name__)

TARGETS = ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense")
MAX_BENIGN_FLAGGED = 0.01  # per label, on the validation split's allowed rows
MAX_HARD_FLAGGED = 0.03  # per label, on its look-alike allowed rows (data/safety_train, catalogue negations)
HARD_SOURCES = ("safety_train", "catalogue", "fresh")  # fresh: blind sets' look-alikes


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 5
    batch_size: int = 32
    lr: float = 2e-3
    r: int = 8
    alpha: int = 16
    dropout: float = 0.1
    max_tokens: int = 64
    frozen_layers: int = 3  # the lower layers stay as shipped; their outputs are computed once
    seed: int = 0
    threads: int = 1  # on a shared 2-core machine one thread is 3x faster than two (measured)


def average_precision(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the precision-recall curve (step-wise average precision), NaN without positives."""
    if y.sum() == 0:
        return float("nan")
    order = np.argsort(-score, kind="stable")
    hits = y[order].astype(np.float64)
    precision = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    return float((precision * hits).sum() / hits.sum())


def pick_threshold(
    y: np.ndarray,
    score: np.ndarray,
    benign: np.ndarray,
    max_benign: float,
    hard: np.ndarray | None = None,
    max_hard: float = 1.0,
) -> float:
    """The threshold with the best F1 among those flagging at most `max_benign` of the benign rows and
    at most `max_hard` of the `hard` (look-alike) benign rows: easy consumer questions dominate the benign
    rows, and a budget over all of them alone let thresholds drop until look-alikes were flagged."""
    best_t, best_f1 = 0.5, -1.0
    for t in np.unique(np.round(np.concatenate([score, [0.5]]), 4)):
        if t < 0.05:
            continue
        pred = score >= t
        if benign.any() and (pred & benign).sum() / benign.sum() > max_benign:
            continue
        if hard is not None and hard.any() and (pred & hard).sum() / hard.sum() > max_hard:
            continue
        tp = (pred & y).sum()
        f1 = 2 * tp / max(pred.sum() + y.sum(), 1)
        if f1 > best_f1:
            best_t, best_f1 = float(t), float(f1)
    return best_t


def validation_report(valid: list[Example], probs: np.ndarray) -> tuple[dict[str, float], dict[str, Any]]:
    """(thresholds, per-label AUPRC / precision / recall / F1 at those thresholds) on the validation split."""
    labels = np.array([LABELS.index(e.label) for e in valid])
    benign = labels == LABELS.index("allowed")
    hard = benign & np.array([e.source.split(".")[0] in HARD_SOURCES for e in valid], dtype=bool)
    thresholds, figures = {}, {}
    for i, name in enumerate(LABELS):
        if name == "allowed":
            continue
        y, score = labels == i, probs[:, i]
        t = pick_threshold(y, score, benign, MAX_BENIGN_FLAGGED, hard, MAX_HARD_FLAGGED) if y.any() else 0.5
        pred = score >= t
        tp = int((pred & y).sum())
        thresholds[name] = round(t, 4)
        figures[name] = {
            "n": int(y.sum()),
            "auprc": round(average_precision(y, score), 4) if y.any() else None,
            "threshold": round(t, 4),
            "precision": round(tp / max(int(pred.sum()), 1), 4),
            "recall": round(tp / max(int(y.sum()), 1), 4),
            "f1": round(2 * tp / max(int(pred.sum() + y.sum()), 1), 4),
            "benign_flagged": round(float((pred & benign).sum() / max(benign.sum(), 1)), 4),
        }
    return thresholds, figures


def _lora_tensors(model: Any) -> dict[str, Any]:
    out = {}
    for name, module in model.named_modules():
        if hasattr(module, "lora_A") and "default" in getattr(module, "lora_A", {}):
            if not bool(module.lora_B["default"].weight.detach().any()):
                continue  # a frozen lower layer's adapter (never trained, B = 0): merging it is a no-op
            clean = name.replace(".base_layer", "")
            out[f"lora.{clean}.A"] = module.lora_A["default"].weight.detach().contiguous().clone()
            out[f"lora.{clean}.B"] = module.lora_B["default"].weight.detach().contiguous().clone()
    out["head.weight"] = model.head.weight.detach().contiguous().clone()
    out["head.bias"] = model.head.bias.detach().contiguous().clone()
    return out


def _buckets(texts: list[str], size: int, tokenizer: Any, max_tokens: int) -> list[tuple[np.ndarray, Any]]:
    """Fixed batches of similar length (little padding): (row indices, tokenizer output)."""
    order = sorted(range(len(texts)), key=lambda i: (len(texts[i]), i))
    out = []
    for i in range(0, len(order), size):
        idx = np.array(order[i : i + size])
        enc = tokenizer(
            [texts[j] for j in idx], padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
        )
        out.append((idx, enc))
    return out


def lower_states(model: Any, enc: Any, frozen: int) -> tuple[Any, Any]:
    """Hidden states after the first `frozen` (untrained) layers, and the attention mask the rest take."""
    import torch

    with torch.inference_mode():
        out = model.bert(enc["input_ids"], attention_mask=enc["attention_mask"], output_hidden_states=True)
    return out.hidden_states[frozen].clone(), enc["attention_mask"]


def upper_logits(model: Any, hidden: Any, mask: Any, frozen: int) -> Any:
    """The trained top layers, pooling and head over cached lower states (same as model(ids, mask))."""
    bert = model.bert
    attn = bert._create_attention_masks(
        attention_mask=mask,
        encoder_attention_mask=None,
        embedding_output=hidden,
        encoder_hidden_states=None,
        cache=None,
    )[0]
    for layer in bert.encoder.layer[frozen:]:
        hidden = layer(hidden, attn)
    m = mask.unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
    return model.head(model.dropout(pooled))


def _scores(model: Any, tokenizer: Any, texts: list[str], max_tokens: int) -> np.ndarray:
    import torch

    model.eval()
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), 64):
            enc = tokenizer(
                texts[i : i + 64], padding=True, truncation=True, max_length=max_tokens, return_tensors="pt"
            )
            out.append(torch.softmax(model(enc["input_ids"], enc["attention_mask"]), -1).numpy())
    return np.concatenate(out) if out else np.zeros((0, len(LABELS)))


def train(
    settings: Settings,
    config: TrainConfig = TrainConfig(),
    artifact: Path = ARTIFACT,
    data: tuple[list[Example], list[Example]] | None = None,
    progress: Callable[[float, str], None] | None = None,
    base: Path | None = None,
) -> dict[str, Any]:
    """Fine-tune, pick thresholds on validation, write the artifact (tensors first, sidecar last)."""
    t0 = time.perf_counter()
    train_rows, valid_rows = data if data is not None else corpus.training_and_validation(settings)
    if not train_rows or not valid_rows:
        raise ValueError("The safety classifier needs training and validation rows")
    import torch  # after the data check: a missing data folder is named in a second, not after imports
    from peft import LoraConfig, inject_adapter_in_model
    from safetensors.torch import save
    from transformers import AutoTokenizer

    if config.threads:
        torch.set_num_threads(config.threads)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    base = base or base_model_path()
    tokenizer = AutoTokenizer.from_pretrained(str(base))
    model = build_encoder(base)
    lora = LoraConfig(
        r=config.r, lora_alpha=config.alpha, lora_dropout=config.dropout, target_modules=list(TARGETS)
    )
    model.bert = inject_adapter_in_model(lora, model.bert)
    for name, p in model.named_parameters():
        p.requires_grad = "lora_" in name or name.startswith("head.")
    y = torch.tensor([LABELS.index(e.label) for e in train_rows])
    counts = torch.bincount(y, minlength=len(LABELS)).float()
    weight = (len(y) / (len(LABELS) * counts.clamp(min=1))).sqrt()  # sqrt: balanced without extremes
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.01)
    steps = config.epochs * ((len(train_rows) + config.batch_size - 1) // config.batch_size)
    warm = max(1, steps // 10)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda k: min((k + 1) / warm, max(0.0, (steps - k) / max(steps - warm, 1)))
    )
    loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
    texts, step, losses, step_s = [e.text for e in train_rows], 0, [], []
    model.eval()  # the frozen lower layers run once, without dropout; their states are cached
    cached = [
        (idx, *lower_states(model, enc, config.frozen_layers))
        for idx, enc in _buckets(texts, config.batch_size, tokenizer, config.max_tokens)
    ]
    t_cache = time.perf_counter() - t0
    for epoch in range(config.epochs):
        model.train()
        for b in rng.permutation(len(cached)):
            idx, hidden, mask = cached[b]
            ts = time.perf_counter()
            loss = loss_fn(upper_logits(model, hidden, mask, config.frozen_layers), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            step += 1
            losses.append(float(loss.detach()))
            step_s.append(time.perf_counter() - ts)
            if progress and (step % 10 == 0 or step == steps):
                progress(
                    step / steps,
                    f"epoch {epoch + 1}/{config.epochs} step {step}/{steps} loss {np.mean(losses[-10:]):.3f}",
                )
    t_train = time.perf_counter() - t0
    probs = _scores(model, tokenizer, [e.text for e in valid_rows], 128)
    thresholds, figures = validation_report(valid_rows, probs)
    tensors = _lora_tensors(model)
    atomic_write_bytes(Path(artifact), save(tensors))
    manifest = {
        "base_model": BASE_MODEL,
        "labels": list(LABELS),
        "thresholds": thresholds,
        "lora": {"r": config.r, "alpha": config.alpha, "targets": list(TARGETS)},
        "config": asdict(config),
        "data_hash": corpus.data_hash(train_rows + valid_rows, extra=f"{BASE_MODEL}:{asdict(config)}"),
        "n_train": len(train_rows),
        "n_valid": len(valid_rows),
        "train_per_label": dict(Counter(e.label for e in train_rows)),
        "train_sources": dict(Counter(e.source.split(".")[0] for e in train_rows)),
        "valid_sources": dict(Counter(e.source.split(".")[0] for e in valid_rows)),
        "validation": figures,
        "final_loss": round(float(np.mean(losses[-20:])), 4),
        "cache_seconds": round(t_cache, 1),
        "train_seconds": round(t_train, 1),
        "step_seconds_p50": round(percentile(step_s, 50), 3),
        "total_seconds": round(time.perf_counter() - t0, 1),
        "torch_threads": torch.get_num_threads(),
        "trained_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    atomic_write_json(sidecar_of(artifact), manifest)  # sidecar last: it marks the artifact complete
    logger.info("Trained the safety classifier on %d rows in %.0f s", len(train_rows), t_train)
    return manifest
