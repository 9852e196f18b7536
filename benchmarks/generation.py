"""Generation speed: the app's streaming path vs the raw libraries on the same prompt and model.

Rows: raw `model.generate` (transformers) vs TransformersBackend.stream; raw llama-cpp-python
`create_completion(stream=True)` vs LlamaCppBackend.stream; all on Gemma 3 270M (fp32 / Q4_K_M GGUF).
Prints a table (median of --repeats runs). Never asserts timings.
Run: .venv/bin/python benchmarks/generation.py [--tokens 64] [--repeats 3] [--model gemma-3-270m]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medgemma.chat.prompts import completion_prompt  # noqa: E402
from medgemma.config import load_settings  # noqa: E402
from medgemma.models.backends import LlamaCppBackend, TransformersBackend  # noqa: E402
from medgemma.models.presets import gguf_file, hf_model_path, resolve_model  # noqa: E402
from medgemma.types import Chunk, GenerationParams, GenerationStats, Hit  # noqa: E402

PASSAGE = (
    "Restless legs syndrome (RLS) is a neurological disorder that causes an irresistible urge to "
    "move the legs, usually because of uncomfortable sensations. Symptoms usually happen in the "
    "evening or at night when sitting or lying down. Moving eases the feeling temporarily."
)


def timed_stream(pieces) -> tuple[float, float, int]:
    """(ttft_s, decode tok/s, tokens) for an iterator of token pieces."""
    start = time.perf_counter()
    first, n = None, 0
    for _ in pieces:
        n += 1
        if first is None:
            first = time.perf_counter() - start
    total = time.perf_counter() - start
    rate = (n - 1) / (total - first) if n > 1 and total > first else 0.0
    return first or 0.0, rate, n


def raw_transformers(model, tokenizer, prompt: str, tokens: int) -> tuple[float, float, int]:
    import torch
    from transformers import TextIteratorStreamer

    ids = tokenizer(prompt, return_tensors="pt")
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True)
    kw = dict(**ids, max_new_tokens=tokens, min_new_tokens=tokens, do_sample=False, streamer=streamer)
    thread = threading.Thread(target=lambda: model.generate(**kw))
    with torch.inference_mode():
        thread.start()
        result = timed_stream(streamer)
        thread.join()
    return result


def raw_llamacpp(llm, prompt: str, tokens: int) -> tuple[float, float, int]:
    chunks = llm.create_completion(
        prompt, max_tokens=tokens, temperature=0.0, stream=True, logits_processor=[_no_eos(llm)]
    )
    return timed_stream(chunks)


def _no_eos(llm):
    eos = llm.token_eos()

    def proc(_ids, logits):
        logits[eos] = -float("inf")
        return logits

    return proc


def app_stream(backend, prompt: str, tokens: int, stats: GenerationStats) -> tuple[float, float, int]:
    params = GenerationParams(max_new_tokens=tokens, temperature=0.0, repetition_penalty=1.0)
    pieces = list(backend.stream(prompt, params, stats))
    del pieces
    return stats.ttft_s, stats.tok_per_s, stats.tokens


def median_rows(fn, repeats: int) -> tuple[float, float, int]:
    runs = [fn() for _ in range(repeats)]
    return (
        statistics.median(r[0] for r in runs),
        statistics.median(r[1] for r in runs),
        int(statistics.median(r[2] for r in runs)),
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="gemma-3-270m")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--skip-transformers", action="store_true")
    args = ap.parse_args()
    settings = load_settings(overrides={"model": args.model})
    spec = resolve_model(args.model)
    hit = Hit(Chunk("c1", "d1", PASSAGE, title="Restless legs syndrome"), 1.0)
    prompt = completion_prompt("What are the symptoms of restless legs syndrome?", [hit])
    rows = []

    backend = LlamaCppBackend(spec, gguf_file(spec, settings), settings)
    llm = backend._llm
    list(backend.stream(prompt, GenerationParams(max_new_tokens=4)))  # warm-up
    raw = median_rows(lambda: raw_llamacpp(llm, prompt, args.tokens), args.repeats)
    ours = median_rows(
        lambda: app_stream(_NoEosLlama(backend), prompt, args.tokens, GenerationStats()), args.repeats
    )
    rows += [("llama.cpp raw create_completion", *raw), ("llama.cpp app LlamaCppBackend", *ours)]

    if not args.skip_transformers:
        tb = TransformersBackend(spec, hf_model_path(spec, settings), settings)
        list(tb.stream(prompt, GenerationParams(max_new_tokens=4)))  # warm-up
        raw_t = median_rows(
            lambda: raw_transformers(tb.model, tb.tokenizer, prompt, args.tokens), args.repeats
        )
        ours_t = median_rows(
            lambda: app_stream(_MinTokens(tb, args.tokens), prompt, args.tokens, GenerationStats()),
            args.repeats,
        )
        rows += [
            ("transformers raw model.generate", *raw_t),
            ("transformers app TransformersBackend", *ours_t),
        ]

    base = {r[0].split()[0]: r for r in rows if "raw" in r[0]}
    print(
        f"\nModel {spec.name}, prompt {backend.count_tokens(prompt)} tokens, {args.tokens} new tokens, "
        f"median of {args.repeats}\n"
    )
    print("| path | TTFT s | decode tok/s | tokens | tok/s vs raw | TTFT vs raw |")
    print("|---|---|---|---|---|---|")
    for name, ttft, rate, n in rows:
        ref = base[name.split()[0]]
        print(f"| {name} | {ttft:.3f} | {rate:.1f} | {n} | {rate / ref[2]:.2f}x | {ttft / ref[1]:.2f}x |")
    if not args.skip_transformers:
        llama_app = rows[1][2]
        tf_app = rows[3][2]
        print(f"\nllama.cpp vs transformers (app paths): {llama_app / tf_app:.1f}x decode speed")


class _NoEosLlama:
    """The app's LlamaCppBackend with EOS suppressed, so both paths decode the same number of tokens."""

    def __init__(self, backend: LlamaCppBackend) -> None:
        self.b = backend

    def stream(self, prompt, params, stats):
        original = self.b._llm.create_completion

        def patched(*a, **kw):
            kw["logits_processor"] = [_no_eos(self.b._llm)]
            kw["stop"] = []
            return original(*a, **kw)

        self.b._llm.create_completion = patched
        try:
            yield from self.b.stream(prompt, params, stats)
        finally:
            self.b._llm.create_completion = original


class _MinTokens:
    """TransformersBackend forced to decode exactly n tokens (no early stop), like the raw row."""

    def __init__(self, backend: TransformersBackend, n: int) -> None:
        self.b, self.n = backend, n

    def stream(self, prompt, params, stats):
        original = self.b.model.generate

        def patched(**kw):
            kw["min_new_tokens"] = self.n
            return original(**kw)

        self.b.model.generate = patched
        try:
            yield from self.b.stream(prompt, params, stats)
        finally:
            self.b.model.generate = original


if __name__ == "__main__":
    main()
