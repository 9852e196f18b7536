"""Verb `ask`: one cited answer streamed to stdout, or one JSON object with --json."""

from __future__ import annotations

import argparse
import sys

from medgemma.commands import add_common, print_json, say, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask a question; streams a cited answer")
    add_common(p)
    p.add_argument("question")
    p.add_argument("--model", help="preset, Hub id, folder or .gguf (default: settings)")
    p.add_argument("--adapter", help="LoRA adapter folder or GGUF LoRA file")
    p.add_argument("--backend", choices=["auto", "transformers", "llamacpp", "openai"])
    p.add_argument("--k", type=int, help="passages to retrieve")
    p.add_argument("--min-score", type=float, help="minimum dense similarity for a passage")
    p.add_argument("--max-new-tokens", type=int)
    p.add_argument("--temperature", type=float)
    p.add_argument("--mode", choices=["auto", "generative", "extractive"], default="auto")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of streaming")
    p.set_defaults(handler=_ask)


def _ask(args: argparse.Namespace) -> int:
    from medgemma.chat.pipeline import ChatSettings, answer
    from medgemma.chat.services import Services

    settings = settings_from(args, backend=args.backend)
    services = Services(settings)
    chat = ChatSettings.from_settings(settings, k=args.k, min_score=args.min_score,
                                      max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                      model=args.model, adapter=args.adapter, mode=args.mode,
                                      session_id="cli")
    final = None
    streamed = False
    for event in answer(args.question, [], chat, services):
        if args.json:
            if event.kind == "done":
                final = event
            continue
        if event.kind == "token":
            sys.stdout.write(event.text)
            sys.stdout.flush()
            streamed = True
        elif event.kind in {"emergency", "refusal"}:
            say(event.text)
        elif event.kind == "safety":
            say(f"[safety] {event.text}", err=True)
        elif event.kind == "status":
            say(f"[{event.text}]", err=True)
        elif event.kind == "done":
            final = event
    if final is None:
        return 1
    data = final.data
    if args.json:
        gen = data.get("timings", {}).get("generation", {})
        print_json({
            "answer": data["answer"], "citations": data.get("citations", []),
            "support": data.get("support", 0.0), "safety": data.get("safety", "allowed"),
            "mode": data.get("mode"), "model": data.get("model"), "backend": data.get("backend"),
            "adapter": data.get("adapter", ""),
            "timings": {**data.get("timings", {}), "ttft_s": gen.get("ttft_s"), "tokens": gen.get("tokens"),
                        "tok_per_s": gen.get("tok_per_s")},
        })
        return 0
    if streamed:
        say()
    if data.get("mode") in {"generative", "extractive"}:
        say("\n--- verified answer" + (" (extractive: quoted from the sources)"
                                           if data["mode"] == "extractive" else "") + " ---")
        say(data["answer"])
        say(f"support: {data.get('support', 0):.0%}")
        for c in data.get("citations", []):
            where = c["url"] or (f"{c['source']}, page {c['page']}" if c.get("page") else c["source"])
            say(f"[{c['n']}] {c['title']} — {where}")
    return 0
