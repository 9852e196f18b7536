"""verify.py checks an exported model against the PyTorch (PEFT) model it came from.

A Reference holds a prompt, the PyTorch greedy continuation and the logits that chose each token. Each
check feeds the same tokens to the artifact (transformers, llama.cpp or onnxruntime), compares logits
teacher-forced, and lets the artifact generate on its own. It writes nothing and knows no formats.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from medgemma.errors import UserFacingError

logger = logging.getLogger(__name__)

VERIFY_QUESTION = "What are the symptoms of diabetes?"
N_TOKENS = 12
# Tolerance on a logit, as a fraction of the reference's largest |logit|. "exact": same precision
# (fp32 merge, ONNX); "close": half precision (fp16, GGUF f16); "quantized": must load and generate only.
LEVELS = {"exact": 1e-3, "close": 2e-2, "quantized": None}
LogitsFn = Callable[[list[int]], np.ndarray]  # token ids -> logits [len(ids), vocab]


@dataclass
class Reference:
    prompt: str
    prompt_ids: list[int]
    tokens: list[int]
    logits: np.ndarray  # [len(tokens), vocab]: the distribution each greedy token was chosen from

    @property
    def scale(self) -> float:
        return max(1.0, float(np.abs(self.logits).max()))


@dataclass
class Check:
    """The outcome of one verification; `passed` is what the export requires."""

    name: str
    level: str
    passed: bool
    agreement: float  # share of positions whose argmax is the reference token (teacher-forced)
    within_tolerance: float  # share of positions where the reference token is within tolerance of the max
    max_abs_diff: float
    tolerance: float | None
    tokens_match: bool  # free-running greedy generation gives exactly the reference tokens
    generated: int
    tokenizer_match: bool | None = None
    sample: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def greedy(logits_fn: LogitsFn, ids: list[int], n: int) -> list[int]:
    """Greedy decoding by full recomputation (no KV cache), the same for every runtime."""
    seq, out = list(ids), []
    for _ in range(n):
        nxt = int(np.argmax(logits_fn(seq)[-1]))
        out.append(nxt)
        seq.append(nxt)
    return out


def torch_logits_fn(model: Any) -> LogitsFn:
    import torch

    def run(ids: list[int]) -> np.ndarray:
        with torch.inference_mode():
            out = model(input_ids=torch.tensor([ids], device=model.device), use_cache=False).logits[0]
        return out.float().cpu().numpy()

    return run


def build_reference(model: Any, tokenizer: Any, prompt: str, n_tokens: int = N_TOKENS) -> Reference:
    """The PyTorch model's greedy continuation of `prompt` and the logits behind each token."""
    ids = list(tokenizer(prompt)["input_ids"])
    run = torch_logits_fn(model)
    tokens = greedy(run, ids, n_tokens)
    logits = run(ids + tokens[:-1])[len(ids) - 1 :]
    return Reference(prompt=prompt, prompt_ids=ids, tokens=tokens, logits=logits)


def compare(
    ref: Reference,
    name: str,
    level: str,
    logits: np.ndarray,
    tokens: list[int],
    tokenizer_match: bool | None = None,
    sample: str = "",
) -> Check:
    """Teacher-forced logits and free-running tokens of an artifact against the reference."""
    n = min(len(ref.tokens), logits.shape[0])
    vocab = min(ref.logits.shape[1], logits.shape[1])  # GGUF drops unused vocabulary rows
    cand, want = logits[:n, :vocab], ref.logits[:n, :vocab]
    chosen = np.array(ref.tokens[:n])
    rows = np.arange(n)
    frac = LEVELS[level]
    tol = None if frac is None else frac * ref.scale
    gap = cand.max(axis=1) - cand[rows, chosen]
    within = float(np.mean(gap <= (tol if tol is not None else 0.0))) if n else 0.0
    diff = float(np.abs(cand - want).max()) if n else float("inf")
    check = Check(
        name=name,
        level=level,
        passed=False,
        agreement=float(np.mean(cand.argmax(1) == chosen)) if n else 0.0,
        within_tolerance=within,
        max_abs_diff=diff,
        tolerance=tol,
        tokens_match=list(tokens[:n]) == ref.tokens[:n],
        generated=len(tokens),
        tokenizer_match=tokenizer_match,
        sample=sample,
    )
    if tokenizer_match is False:
        check.notes.append("the artifact tokenizes the prompt differently")
    if level == "exact":
        check.passed = within == 1.0 and diff <= tol and tokenizer_match is not False
    elif level == "close":
        check.passed = within == 1.0 and diff <= 10 * tol and tokenizer_match is not False
    else:
        check.passed = len(tokens) > 0 and bool(np.isfinite(cand).all()) and tokenizer_match is not False
        if check.agreement < 1.0:
            check.notes.append(f"quantization changed {1 - check.agreement:.0%} of the greedy choices")
    if not check.passed and n and level != "quantized":
        check.notes.append(
            f"logits differ by up to {diff:.4g} (tolerance {tol:.4g}); "
            f"{within:.0%} of the reference tokens are within tolerance"
        )
    logger.info(
        "verify %s (%s): %s; agreement %.2f, max |diff| %.4g, tokens match %s",
        name,
        level,
        "passed" if check.passed else "FAILED",
        check.agreement,
        diff,
        check.tokens_match,
    )
    return check


def check_logits_fn(
    ref: Reference,
    name: str,
    level: str,
    run: LogitsFn,
    tokenizer_ids: list[int] | None = None,
    decode: Callable[[list[int]], str] | None = None,
) -> Check:
    """Verify any runtime given as ids -> logits (transformers, onnxruntime, TensorRT)."""
    logits = run(ref.prompt_ids + ref.tokens[:-1])[len(ref.prompt_ids) - 1 :]
    tokens = greedy(run, ref.prompt_ids, len(ref.tokens))
    match = None if tokenizer_ids is None else list(tokenizer_ids) == ref.prompt_ids
    return compare(ref, name, level, logits, tokens, match, decode(tokens) if decode else "")


def check_transformers(ref: Reference, folder: Path, level: str, dtype: str = "float32") -> Check:
    """Reload a merged folder with plain transformers (no PEFT) and compare."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"dtype": getattr(torch, dtype)}
    if AutoConfig.from_pretrained(folder).model_type.startswith("gemma"):
        kwargs["attn_implementation"] = "eager"
    model = AutoModelForCausalLM.from_pretrained(folder, **kwargs).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    check = check_logits_fn(
        ref,
        f"transformers {dtype}",
        level,
        torch_logits_fn(model),
        tokenizer(ref.prompt)["input_ids"],
        tokenizer.decode,
    )
    del model
    return check


def check_llamacpp(
    ref: Reference, gguf: Path, level: str, lora: Path | None = None, threads: int = 0
) -> Check:
    """Load a GGUF (optionally with a GGUF LoRA) in llama.cpp, compare logits and let it generate. The
    check loads without CPU weight repacking: it is about the file's numbers, not speed (load_llama)."""
    from medgemma.models.llamacpp_load import load_llama

    n_ctx = len(ref.prompt_ids) + len(ref.tokens) + 16
    kwargs: dict[str, Any] = dict(
        model_path=str(gguf), n_ctx=n_ctx, logits_all=True, verbose=False, seed=0, n_threads=threads or None
    )
    if lora is not None:
        kwargs["lora_path"] = str(lora)
    try:
        llm = load_llama(extra=False, **kwargs)
    except (ValueError, RuntimeError) as exc:
        raise UserFacingError(
            f"llama.cpp could not load {gguf.name}{' with ' + lora.name if lora else ''}: {exc}"
        ) from None
    try:
        tok = llm.tokenize(ref.prompt.encode("utf-8"), add_bos=True, special=True)
        seq = ref.prompt_ids + ref.tokens[:-1]
        llm.eval(seq)
        logits = np.array(llm.scores[len(ref.prompt_ids) - 1 : len(seq)], dtype=np.float32)
        llm.reset()
        tokens: list[int] = []
        for t in llm.generate(ref.prompt_ids, temp=0.0, top_k=1, repeat_penalty=1.0):
            tokens.append(int(t))
            if len(tokens) >= len(ref.tokens):
                break
        sample = llm.detokenize(tokens).decode("utf-8", errors="replace")
    finally:
        llm.close()
    name = f"llama.cpp {gguf.name}" + (f" + {lora.name}" if lora else "")
    return compare(ref, name, level, logits, tokens, list(tok) == ref.prompt_ids, sample)
