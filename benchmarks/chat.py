"""Whole-pipeline chat latency vs raw generation on the same final prompt.

For each question: pipeline.answer (safety, retrieval, prompt, streaming generation, verification)
vs llama-cpp-python's raw create_completion on the exact prompt the pipeline built, both from an empty KV
cache (no prompt prefix reused from the run before). Retrieval and verification time are broken out. Needs a built index (the app's first run or `index build`).
With the default adapter setting the reference adapter is on in both (its GGUF LoRA loaded into the same
llama.cpp model); --adapter none measures the base model.
Run: .venv/bin/python benchmarks/chat.py [--n 10] [--tokens 96] [--adapter reference|none|RUN]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from medgemma.chat.events import Done  # noqa: E402
from medgemma.chat.pipeline import ChatSettings, answer  # noqa: E402
from medgemma.chat.services import Services  # noqa: E402
from medgemma.config import load_settings  # noqa: E402

QUESTIONS = [
    "What are the symptoms of restless legs syndrome?",
    "How is high blood pressure treated?",
    "What causes gout?",
    "What is glaucoma?",
    "How can I prevent type 2 diabetes?",
    "What are the signs of anemia?",
    "What is psoriasis?",
    "How is asthma diagnosed?",
    "What causes kidney stones?",
    "What are the symptoms of hepatitis C?",
]


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--mode", choices=["generative", "auto", "extractive"], default="generative")
    ap.add_argument("--adapter", help="LoRA adapter (default: the adapter setting, i.e. reference)")
    args = ap.parse_args()
    settings = load_settings(overrides={"temperature": 0.0})
    services = Services(settings)
    chat = ChatSettings.from_settings(
        settings, max_new_tokens=args.tokens, mode=args.mode, adapter=args.adapter
    )
    backend = services.backend(adapter=args.adapter)
    services.embedder()
    services.guard()
    list(answer("What is asthma?", [], chat, services))  # warm-up: loads everything once
    rows = {
        k: []
        for k in (
            "total",
            "safety",
            "retrieval",
            "ttft",
            "first_sentence",
            "tok_s",
            "verify",
            "raw_ttft",
            "raw_tok_s",
            "prompt_tokens",
        )
    }
    llm = getattr(backend, "_llm", None)
    if llm is None:
        raise SystemExit(f"benchmarks/chat.py compares with raw llama.cpp; the backend is {backend.name}.")
    for q in QUESTIONS[: args.n]:
        llm.reset()  # both runs start from an empty KV cache: no prompt prefix is reused from the run before
        done = None
        for ev in answer(q, [], chat, services):
            if isinstance(ev, Done):
                done = ev
        timings = done.timings
        first = timings.first_token_s
        gen = timings.stats()
        rows["total"].append(timings.total_s)
        rows["safety"].append(timings.safety_s)
        rows["retrieval"].append(timings.retrieval_s or 0.0)
        rows["verify"].append(timings.verification_s or 0.0)
        rows["ttft"].append(first or 0.0)
        if timings.first_sentence_s is not None:  # no sentence shown: nothing to time
            rows["first_sentence"].append(timings.first_sentence_s)
        print(
            f"{q[:48]:48} {done.mode:10} first token {first or 0:7.2f} s  first verified sentence "
            f"{timings.first_sentence_s or float('nan'):7.2f} s  total {timings.total_s:7.2f} s"
        )
        rows["tok_s"].append(gen.get("tok_per_s", 0.0))
        # raw llama.cpp on the same final prompt the pipeline built
        from medgemma.chat import prompts
        from medgemma.chat.pipeline import prompt_style

        hits = services.knowledge().search(q, k=chat.k, min_score=chat.min_score)
        style = prompt_style(settings.prompt_style, backend.spec.instruct, bool(backend.adapter))
        p = prompts.build(q, hits, [], count_tokens=backend.count_tokens, style=style)
        text = p.completion or backend.render(p.messages)
        rows["prompt_tokens"].append(gen.get("prompt_tokens", 0))
        llm.reset()
        t = time.perf_counter()
        n, t_first = 0, None
        for _ in llm.create_completion(
            text, max_tokens=args.tokens, temperature=0.0, stream=True, stop=list(p.stop)
        ):
            n += 1
            if t_first is None:
                t_first = time.perf_counter() - t
        total = time.perf_counter() - t
        rows["raw_ttft"].append(t_first or 0.0)
        rows["raw_tok_s"].append((n - 1) / (total - t_first) if n > 1 else 0.0)
    print(
        f"\n{args.n} questions, model {backend.spec.name} on {backend.name}, adapter "
        f"{Path(backend.adapter).parent.name if backend.adapter else 'none'}, up to {args.tokens} new tokens\n"
    )
    print("| measure | p50 | p95 |")
    print("|---|---|---|")
    labels = {
        "total": "pipeline total s",
        "safety": "safety check s",
        "retrieval": "retrieval s",
        "ttft": "pipeline TTFT s (question → first token)",
        "first_sentence": f"pipeline s to the first verified sentence shown ({len(rows['first_sentence'])} answers)",
        "raw_ttft": "raw generate TTFT s (same prompt)",
        "tok_s": "pipeline decode tok/s",
        "raw_tok_s": "raw decode tok/s",
        "verify": "verification s",
        "prompt_tokens": "prompt tokens (passages + question)",
    }
    for key, label in labels.items():
        if not rows[key]:
            print(f"| {label} | none | none |")
            continue
        print(f"| {label} | {statistics.median(rows[key]):.3f} | {pct(rows[key], 0.95):.3f} |")
    print(
        f"\npipeline/raw decode speed: {statistics.median(rows['tok_s']) / statistics.median(rows['raw_tok_s']):.2f}x; "
        f"TTFT overhead (p50): {statistics.median(rows['ttft']) - statistics.median(rows['raw_ttft']):+.3f} s"
    )


if __name__ == "__main__":
    main()
