"""Verb `ask`: one cited answer streamed to stdout sentence by sentence (each one verified before it is
printed), or one JSON object with --json (its timings name the first token and the first verified sentence)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from medgemma.commands import add_common, print_json, say, settings_from

if TYPE_CHECKING:
    from medgemma.chat.events import Done, Event


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ask", help="ask a question; streams a cited answer, one verified sentence at a time")
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
    from medgemma.chat.events import Done
    from medgemma.chat.limits import clean_question
    from medgemma.chat.pipeline import ChatSettings, answer
    from medgemma.chat.services import Services

    settings = settings_from(args, backend=args.backend)
    question = clean_question(args.question, settings)  # the same checks as the Chat tab and its API
    chat = ChatSettings.from_settings(
        settings,
        k=args.k,
        min_score=args.min_score,
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        model=args.model,
        adapter=args.adapter,
        mode=args.mode,
        session_id="cli",
    )
    final, streamed = None, False
    for event in answer(question, [], chat, Services(settings)):
        if isinstance(event, Done):
            final = event
        elif not args.json:
            streamed = _show(event, streamed) or streamed
    if final is None:
        return 1
    if args.json:
        print_json(_as_json(final))
        return 0
    if streamed:
        say()
    _show_summary(final)
    return 0


def _show(event: Event, streamed: bool) -> bool:
    """Stream one event to the terminal; True when it wrote answer text to stdout (quotes come only when
    no sentence of the draft was shown, so the first one says so)."""
    from medgemma.chat.events import Answer, Dropped, Emergency, Refusal, Safety, Sentence, Status

    match event:
        case Sentence(text=text, mode=mode):
            if mode == "extractive" and not streamed:
                say("[quoting the sources]", err=True)
            sys.stdout.write(text + " ")
            sys.stdout.flush()
            return True
        case Dropped(check=check):
            say(f"[not supported by the sources, left out] {check.text}", err=True)
        case Answer(mode="no_source" | "abstain", text=text):
            say(text)
        case Emergency(text=text) | Refusal(text=text):
            say(text)
        case Safety(text=text):
            say(f"[safety] {text}", err=True)
        case Status(text=text):
            say(f"[{text}]", err=True)
    return False


def _as_json(done: Done) -> dict[str, Any]:
    gen = done.timings.stats()
    return {
        "answer": done.text,
        "citations": [c.to_dict() for c in done.citations],
        "support": done.support,
        "safety": done.safety,
        "mode": done.mode,
        "model": done.model,
        "backend": done.backend,
        "adapter": done.adapter,
        "timings": {
            **done.timings.to_dict(),
            "ttft_s": gen.get("ttft_s"),
            "tokens": gen.get("tokens"),
            "tok_per_s": gen.get("tok_per_s"),
        },
    }


def _show_summary(done: Done) -> None:
    """After the streamed sentences: how much of the draft held up, and where each [n] points."""
    if done.mode not in {"generative", "extractive", "stopped"}:
        return
    if not done.sentences:
        say(done.text)
    left_out = len(done.evidence.get("unsupported", ()))
    say(
        f"support: {done.support:.0%}" + (f" ({left_out} unsupported sentences left out)" if left_out else "")
    )
    for c in done.citations:
        say(f"[{c.n}] {c.title} — {c.link()}")
