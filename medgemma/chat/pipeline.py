"""chat/pipeline.py answers one chat turn: safety -> retrieval -> prompt -> generation -> citations -> safety.

`answer(...)` yields typed Events and knows nothing of Gradio; the Chat tab, the CLI, the evaluation
runner and the tests consume the same events.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Any

from medgemma.chat import citations, prompts
from medgemma.chat.services import Services
from medgemma.errors import IndexNotReady
from medgemma.types import Event, GenerationParams, GenerationStats, Hit, Verdict

logger = logging.getLogger(__name__)

NO_SOURCE = ("The knowledge base has no source that answers this question, so I cannot give a cited "
             "answer. Try rephrasing it, or ask a clinician.")
CLINICIAN_NOTE = ("This is general information from the cited sources, not a diagnosis or a treatment "
                  "plan for you. Please talk to a doctor or pharmacist about your own situation.")


@dataclass(frozen=True)
class ChatSettings:
    """Per-request chat options (the settings accordion)."""

    k: int = 4
    min_score: float = 0.25
    temperature: float = 0.2
    max_new_tokens: int = 200
    model: str | None = None
    adapter: str | None = None
    mode: str = "auto"  # auto | generative | extractive
    min_support: float = 0.7  # below this share of supported sentences, auto falls back to extractive
    answer_without_sources: bool = False
    session_id: str = ""
    seed: int | None = 0

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ChatSettings:
        base = cls(k=settings.retrieval_k, min_score=settings.retrieval_min_score,
                   temperature=settings.temperature, max_new_tokens=settings.max_new_tokens,
                   answer_without_sources=settings.answer_without_sources)
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


_FOLLOW_UP = re.compile(r"\b(it|its|they|them|their|this|that|these|those|he|she|the condition|"
                        r"the disease|the drug|ella|ello|eso|esto)\b", re.I)


def retrieval_query(question: str, history: Sequence[dict]) -> str:
    """Follow-ups ("what causes it?") borrow the previous user question to form the search query."""
    previous = [str(m.get("content", "")) for m in history if m.get("role") == "user"]
    if previous and (_FOLLOW_UP.search(question) or len(question.split()) <= 4):
        return f"{previous[-1]} {question}"
    return question


def prompt_style(setting: str, instruct: bool, has_adapter: bool) -> str:
    """Base models without an adapter continue a one-shot pattern better than they follow turns."""
    if setting != "auto":
        return setting
    return "chat" if instruct or has_adapter else "completion"


def _hit_payload(hits: Sequence[Hit]) -> list[dict[str, Any]]:
    rows = []
    for n, h in enumerate(hits, 1):
        c = h.chunk
        rows.append({"n": n, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "title": c.title or c.source,
                     "url": c.url, "source": c.source, "page": c.page, "section": c.section,
                     "score": round(h.score, 4), "dense": None if h.dense is None else round(h.dense, 4),
                     "bm25": None if h.bm25 is None else round(h.bm25, 4), "snippet": c.text[:300],
                     "text": c.text})
    return rows


def answer(
    question: str,
    history: Sequence[dict],
    chat: ChatSettings,
    services: Services,
    stop_event: threading.Event | None = None,
) -> Iterator[Event]:
    """Stream one answer as Events: status, safety/emergency/refusal, sources, tokens, citations, done."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    record: dict[str, Any] = {"question": question, "settings": asdict(chat)}

    def done(answer_text: str, **data: Any) -> Event:
        timings["total_s"] = round(time.perf_counter() - t0, 4)
        payload = {"answer": answer_text, "timings": timings, "citations": [], "support": 0.0,
                   "mode": "none", **data}
        payload["evidence"] = {**record, **{k: payload[k] for k in
                                            ("answer", "citations", "support", "mode", "safety")
                                            if k in payload}, "timings": timings}
        return Event("done", answer_text, payload)

    # 1. Safety on the way in: emergencies answer at once, before retrieval or generation.
    guard = services.guard()
    verdict: Verdict = guard.check_input(question, list(history), session_id=chat.session_id)
    timings["safety_s"] = round(time.perf_counter() - t0, 4)
    record["safety_input"] = verdict.to_dict()
    if verdict.label == "emergency":
        text = guard.emergency_response(verdict)
        yield Event("emergency", text, {"verdict": verdict.to_dict()})
        yield done(text, safety=verdict.label, verdict=verdict.to_dict())
        return
    if verdict.label == "harmful":
        text = guard.refusal_response(verdict)
        yield Event("refusal", text, {"verdict": verdict.to_dict()})
        yield done(text, safety=verdict.label, verdict=verdict.to_dict())
        return
    if verdict.label == "personal_advice":
        yield Event("safety", guard.personal_advice_note(), {"verdict": verdict.to_dict()})

    # 2. Retrieval.
    yield Event("status", "Searching the knowledge base ...")
    t = time.perf_counter()
    query = retrieval_query(question, history)
    try:
        hits = services.knowledge().search(query, k=chat.k, min_score=chat.min_score)
    except IndexNotReady as exc:
        hits = []
        yield Event("status", str(exc))
    timings["retrieval_s"] = round(time.perf_counter() - t, 4)
    record.update(retrieval_query=query, passages=_hit_payload(hits))
    yield Event("sources", "", {"hits": _hit_payload(hits)})
    if not hits and not chat.answer_without_sources:
        yield Event("token", NO_SOURCE)
        yield done(NO_SOURCE, safety=verdict.label, mode="no_source")
        return

    # 3. Prompt and generation.
    yield Event("status", "Writing the answer ...")
    backend = services.backend(chat.model, chat.adapter)
    record.update(model=backend.spec.name, backend=backend.name, adapter=backend.adapter or "")
    style = prompt_style(services.settings.prompt_style, backend.spec.instruct, bool(backend.adapter))
    prompt = prompts.build(question, hits, history, count_tokens=backend.count_tokens, style=style,
                           budget_tokens=max(512, services.settings.context_window - chat.max_new_tokens - 64))
    text = prompt.completion or backend.render(prompt.messages)
    stats = GenerationStats()
    params = GenerationParams(max_new_tokens=chat.max_new_tokens, temperature=chat.temperature,
                              seed=chat.seed, stop=prompt.stop)
    generated = ""
    if chat.mode != "extractive":
        for piece in backend.stream(text, params, stats, stop_event):
            generated += piece
            yield Event("token", piece)
    timings.update(generation={**stats.to_dict()})
    record["generated"] = generated
    generated = citations.drop_dangling_lead_in(generated)

    # 4. Citations and verification; extractive fallback when the draft is mostly unsupported.
    t = time.perf_counter()
    embed = services.embedder().encode
    check = citations.verify(generated, hits, embed=embed)
    mode = "generative"
    if chat.mode == "extractive" or (chat.mode == "auto" and check.support < chat.min_support):
        extract = citations.extractive_answer(question, hits, embed=embed)
        if extract:
            check = citations.verify(extract, hits, embed=embed)
            mode = "extractive"
    timings["verification_s"] = round(time.perf_counter() - t, 4)
    cited = [citations.citation_for(n, hits[n - 1]) for n in check.cited_numbers]
    final = check.render(mark_unsupported=False)

    # 5. Safety on the way out.
    out_verdict = guard.check_output(final)
    record["safety_output"] = out_verdict.to_dict()
    if not out_verdict.allowed:
        yield Event("safety", guard.personal_advice_note(), {"verdict": out_verdict.to_dict()})
        extract = citations.extractive_answer(question, hits, embed=embed)
        check = citations.verify(extract, hits, embed=embed)
        cited = [citations.citation_for(n, hits[n - 1]) for n in check.cited_numbers]
        final, mode = check.render(mark_unsupported=False), "extractive"
    if verdict.label == "personal_advice":
        final = f"{final}\n\n{CLINICIAN_NOTE}"
    sentences = [asdict(s) for s in check.sentences]
    yield Event("citations", final, {"citations": [c.to_dict() for c in cited], "sentences": sentences,
                                     "support": round(check.support, 4), "mode": mode,
                                     "dropped_markers": check.dropped_markers, "draft": generated})
    yield done(final, citations=[c.to_dict() for c in cited], support=round(check.support, 4),
               mode=mode, sentences=sentences, safety=verdict.label, draft=generated,
               model=record["model"], backend=record["backend"], adapter=record["adapter"])
