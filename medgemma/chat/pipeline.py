"""pipeline.py answers one chat turn in named stages that share one Turn record:
guard input -> retrieve -> generate (draft, through the Gate) -> quote (the fallback) -> conclude, then Done.

The model's draft never leaves the pipeline: the Gate shows it sentence by sentence, each one only once it
is complete, supported by a passage and passed by the output check (issue 15 point 2).

`answer(...)` yields the typed events of medgemma/chat/events.py and knows nothing of Gradio; the Chat
tab, the CLI, the evaluation runner and the tests consume the same events.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from medgemma.chat import abstain, citations, prompts, provenance, quotes
from medgemma.chat.citations import SentenceCheck, Verification, Verifier
from medgemma.chat.events import Answer, Done, Emergency, Event, Refusal, Safety, Sources, Status, Timings
from medgemma.chat.gate import Gate, complete_sentences
from medgemma.chat.prompts import prompt_style, retrieval_query
from medgemma.chat.services import Services
from medgemma.errors import IndexNotReady
from medgemma.types import Citation, GenerationParams, GenerationStats, Hit, Passage, Verdict

logger = logging.getLogger(__name__)

NO_SOURCE = (
    "The knowledge base has no source that answers this question, so I cannot give a cited "
    "answer. Try rephrasing it, or ask a clinician."
)
NOT_SUPPORTED = (
    "None of the model's sentences is supported by the sources, so none is shown (they are listed under "
    "'Not supported by the sources'). Try the 'auto' answer mode, which quotes the sources instead."
)
CLINICIAN_NOTE = (
    "This is general information from the cited sources, not a diagnosis or a treatment "
    "plan for you. Please talk to a doctor or pharmacist about your own situation."
)


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
    min_support: float = 0.7  # auto quotes the sources instead when the draft's first sentences fall below
    answer_without_sources: bool = False
    session_id: str = ""
    seed: int | None = 0

    @classmethod
    def from_settings(cls, settings: Any, **overrides: Any) -> ChatSettings:
        base = cls(
            k=settings.retrieval_k,
            min_score=settings.retrieval_min_score,
            temperature=settings.temperature,
            max_new_tokens=settings.max_new_tokens,
            answer_without_sources=settings.answer_without_sources,
        )
        return replace(base, **{k: v for k, v in overrides.items() if v is not None})


@dataclass
class Turn:
    """One question on its way through the stages; each stage reads and fills its part.

    A stage that answers on its own (emergency, refusal, no source, stopped) sets `finished`.
    """

    question: str
    history: list[dict]
    chat: ChatSettings
    stop: threading.Event | None = None
    started: float = field(default_factory=time.perf_counter)
    timings: Timings = field(default_factory=Timings)
    verdict: Verdict = field(default_factory=lambda: Verdict("allowed"))
    query: str | None = None  # None until retrieval ran
    hits: list[Hit] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)
    model: str | None = None  # None until a model was loaded
    backend: str | None = None
    adapter: str = ""
    generated: str | None = None  # the raw draft; None until generation ran
    draft: str = ""  # the draft without a dangling list lead-in
    check: Verification = field(default_factory=Verification)  # the sentences shown, in order
    unsupported: list[SentenceCheck] = field(default_factory=list)  # checked, not supported, not shown
    repeats: int = 0  # supported sentences left out because the answer already said them
    support: float = 0.0  # share of supported sentences in what the answer came from (draft or quotes)
    abandoned: bool = False  # auto gave up on a draft whose first sentences were unsupported
    declined: str = ""  # the draft opened with the adapter's "I don't know" ("abstain") or refusal ("refuse")
    verifier: Verifier | None = None
    decision: abstain.Decision | None = None  # whether the passages answer at all (None until retrieval)
    mode: str = "none"
    out_verdict: Verdict | None = None
    text: str = ""  # the final answer
    finished: bool = False

    def finish(self, text: str, mode: str) -> None:
        self.text, self.mode, self.finished = text, mode, True

    def stopped(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def cited(self) -> tuple[Citation, ...]:
        """The citations kept, with their origin; an "I don't know" cites the nearest sources it lists."""
        numbers = self.check.cited_numbers
        if self.mode == "abstain":
            numbers = [p.n for p in abstain.nearest(self.passages)]
        names = [f.name for f in fields(Citation)]
        return tuple(Citation(**{k: getattr(self.passages[n - 1], k) for k in names}) for n in numbers)

    def evidence(self) -> dict[str, Any]:
        """The evidence record a visitor can download: what was asked, found, generated and checked."""
        record: dict[str, Any] = {
            "question": self.question,
            "settings": asdict(self.chat),
            "safety_input": self.verdict.to_dict(),
        }
        if self.query is not None:
            record.update(retrieval_query=self.query, passages=[p.to_dict() for p in self.passages])
        if self.decision is not None:
            record["answerable"] = self.decision.to_dict()
        if self.model is not None:
            record.update(model=self.model, backend=self.backend, adapter=self.adapter)
        if self.generated is not None:
            record["generated"] = self.generated
        if self.out_verdict is not None:
            record["safety_output"] = self.out_verdict.to_dict()
        if self.generated is not None:
            record.update(
                unsupported=[s.text for s in self.unsupported],
                repeats_skipped=self.repeats,
                draft_abandoned=self.abandoned,
            )
        return {
            **record,
            "answer": self.text,
            "citations": [c.to_dict() for c in self.cited()],
            "support": round(self.support, 4),
            "mode": self.mode,
            "safety": self.verdict.label,
            "timings": self.timings.to_dict(),
        }

    def done(self) -> Done:
        self.timings.total_s = _since(self.started)
        return Done(
            text=self.text,
            mode=self.mode,
            safety=self.verdict.label,
            timings=self.timings,
            evidence=self.evidence(),
            citations=self.cited(),
            sentences=tuple(self.check.sentences),
            dropped=tuple(self.unsupported),
            support=round(self.support, 4),
            passages=tuple(self.passages),
            draft=self.draft,
            model=self.model,
            backend=self.backend,
            adapter=self.adapter,
        )


Stage = Callable[[Turn, Services], Iterator[Event]]


def _since(t: float) -> float:
    return round(time.perf_counter() - t, 4)


def guard_input(turn: Turn, services: Services) -> Iterator[Event]:
    """Safety on the way in: emergencies and refusals answer at once, before retrieval or generation."""
    guard = services.guard()
    turn.verdict = guard.check_input(turn.question, turn.history, session_id=turn.chat.session_id)
    turn.timings.safety_s = _since(turn.started)
    if turn.verdict.label == "emergency":
        turn.finish(guard.emergency_response(turn.verdict), "none")
        yield Emergency(turn.text, turn.verdict)
    elif turn.verdict.label == "harmful":
        turn.finish(guard.refusal_response(turn.verdict), "none")
        yield Refusal(turn.text, turn.verdict)
    elif turn.verdict.label == "personal_advice":
        yield Safety(guard.personal_advice_note(), turn.verdict)
    elif turn.verdict.label == "urgent":  # a clinician today, said first; the cited answer still follows
        yield Safety(guard.urgent_response(turn.verdict), turn.verdict)


def retrieve(turn: Turn, services: Services) -> Iterator[Event]:
    """The passages for the question (a follow-up borrows the previous question); none is an answer too."""
    yield Status("Searching the knowledge base ...")
    t = time.perf_counter()
    turn.query = retrieval_query(turn.question, turn.history)
    try:
        turn.hits = list(
            services.knowledge().search(turn.query, k=turn.chat.k, min_score=turn.chat.min_score)
        )
    except IndexNotReady as exc:
        yield Status(str(exc))
    turn.timings.retrieval_s = _since(t)
    # a page's own crisis or emergency number never reaches the prompt, the quotes or the Sources panel
    lines = provenance.Lines.from_settings(services.settings)
    turn.hits = [provenance.scrub_hit(h, lines) for h in turn.hits]
    records = provenance.document_records(services.knowledge()) if turn.hits else {}
    turn.passages = [
        replace(Passage.from_hit(n, h), **asdict(provenance.origin(h.chunk, records.get(h.chunk.doc_id))))
        for n, h in enumerate(turn.hits, 1)
    ]
    yield Sources(tuple(turn.passages))
    if not turn.hits and not turn.chat.answer_without_sources:
        text = " ".join(filter(None, (NO_SOURCE, services.building_note())))  # + when the build is done
        turn.finish(text, "no_source")
        yield Answer(text, (), (), 0.0, "no_source")
    elif turn.hits:
        turn.decision = abstain.decide(turn.query, turn.hits)
        if not turn.decision.answers:  # loosely related passages: say so instead of quoting them
            logger.info("abstaining: %s", turn.decision.why)
            yield from _abstain(turn, abstain.ABSTAIN)


def _abstain(turn: Turn, lead: str) -> Iterator[Event]:
    """The honest "I don't know" (one sentence and the nearest sources as links) ends the turn."""
    turn.check.sentences.clear()
    turn.mode = "abstain"
    turn.finish(abstain.abstention(turn.passages, lead), "abstain")
    yield Answer(turn.text, (), turn.cited(), 0.0, "abstain", tuple(turn.check.dropped_markers), turn.draft)


def _declined(turn: Turn, services: Services) -> Iterator[Event]:
    """The draft began with the adapter's "I don't know" or its refusal: say that in the app's words."""
    turn.draft = turn.generated or ""
    if turn.declined == "refuse" and abstain.cleared(turn.verdict):
        turn.declined = "abstain"  # the guard is sure the question is benign: the passages did not answer it
    if turn.declined == "abstain" and turn.chat.mode == "auto":
        if abstain.about_topic(turn.query or turn.question, turn.decision, turn.hits):
            logger.info(
                "the model said the passages do not answer, but passage 1 is about the topic: quoting"
            )
            return  # the quote stage answers from passage 1 and the others decide() allowed
    if turn.declined == "abstain":
        turn.decision = replace(
            turn.decision or abstain.Decision(False), answers=False, why="the model said so"
        )
        yield from _abstain(turn, abstain.ABSTAIN_MODEL)
        return
    turn.out_verdict = Verdict("harmful", ("the model declined the request",), ("model.declined",))
    turn.finish(services.guard().refusal_response(turn.out_verdict), "none")
    yield Refusal(turn.text, turn.out_verdict)


def _gives_up(turn: Turn, gate: Gate) -> bool:
    """auto stops a draft whose first two sentences are unsupported and quotes the sources instead."""
    return turn.chat.mode == "auto" and gate.shown == 0 and gate.checked >= 2


def generate(turn: Turn, services: Services) -> Iterator[Event]:
    """The model's draft, consumed token by token and shown only through the Gate, sentence by sentence;
    a stop signal ends the turn with the sentences shown so far. Extractive mode loads no model."""
    yield Status("Writing the answer ...")
    if turn.chat.mode == "extractive":
        return
    chat, backend = turn.chat, services.backend(turn.chat.model, turn.chat.adapter)
    turn.model, turn.backend, turn.adapter = backend.spec.name, backend.name, backend.adapter or ""
    style = prompt_style(services.settings.prompt_style, backend.spec.instruct, bool(backend.adapter))
    prompt = prompts.build(
        turn.question,
        turn.hits,
        turn.history,
        count_tokens=backend.count_tokens,
        style=style,
        budget_tokens=max(512, services.settings.context_window - chat.max_new_tokens - 64),
    )
    params = GenerationParams(
        max_new_tokens=chat.max_new_tokens, temperature=chat.temperature, seed=chat.seed, stop=prompt.stop
    )
    turn.timings.generation, turn.generated = GenerationStats(), ""
    if chat.mode != "extractive":
        gate, pending, cut = Gate(turn, services, "generative", strict=True), "", False
        stream = backend.stream(
            prompt.completion or backend.render(prompt.messages), params, turn.timings.generation, turn.stop
        )
        try:
            for piece in stream:
                if turn.timings.first_token_s is None:
                    turn.timings.first_token_s = _since(turn.started)
                turn.generated += piece
                ready, pending = complete_sentences(pending + piece)
                for raw in ready:
                    if not gate.checked and (said := abstain.declined(raw)):
                        turn.declined, cut = said, True
                        break
                    yield from gate.offer(raw)
                    cut = gate.rejected or _gives_up(turn, gate)
                    if cut:
                        break
                if cut:
                    break
        finally:
            stream.close()
        rest = pending.strip()
        if rest and not cut and not turn.stopped():  # the last sentence, unless it only announces a list
            if not gate.checked and (said := abstain.declined(rest)):
                turn.declined = said
            elif not (citations.strip_markers(rest).endswith(":") and gate.checked):
                yield from gate.offer(rest)
        if turn.declined:
            yield from _declined(turn, services)
            return
        turn.support, turn.abandoned = gate.support, _gives_up(turn, gate) and not gate.rejected
        if turn.abandoned:
            logger.info("auto: the draft's first %d sentences were unsupported; quoting", gate.checked)
    turn.draft = citations.drop_dangling_lead_in(turn.generated)
    if turn.stopped():
        logger.info("answer stopped by the visitor after %d tokens", turn.timings.generation.tokens)
        turn.mode = "stopped"
        turn.finish(turn.check.render(mark_unsupported=False), "stopped")
        yield Status("Stopped.")


def quote(turn: Turn, services: Services) -> Iterator[Event]:
    """The extractive fallback: the passage sentences closest to the question, each with its [n], shown
    through the same Gate. It runs in extractive mode, and when no sentence of the draft was shown (auto,
    or the output check rejected the draft)."""
    rejected = turn.out_verdict is not None and not turn.out_verdict.allowed
    turn.mode = "generative"
    if turn.chat.mode != "extractive" and (
        turn.check.sentences or not (turn.chat.mode == "auto" or rejected)
    ):
        return
    embed = services.embedder().encode
    allowed = turn.decision.passages if turn.decision is not None else None
    chosen = quotes.choose(turn.query or turn.question, turn.hits, embed=embed, allowed=allowed)
    if turn.decision is not None and not quotes.fits_type(chosen, turn.hits, turn.query or turn.question):
        why = f"no passage answers a '{quotes.question_type(turn.query or turn.question)}' question"
        turn.decision, chosen = replace(turn.decision, answers=False, why=why), []
    gate = Gate(turn, services, "extractive", strict=False)
    for unit in chosen:
        yield from gate.offer(f"{unit.text} [{unit.n}]")
    if gate.shown:
        turn.mode, turn.support = "extractive", gate.support
    elif turn.hits:  # nothing quotable held up: say so rather than show nothing
        if turn.decision is not None and turn.decision.answers:
            turn.decision = replace(turn.decision, answers=False, why="no sentence of those passages held up")
        yield from _abstain(turn, abstain.ABSTAIN)


def conclude(turn: Turn, services: Services) -> Iterator[Event]:
    """The answer as shown, in one event: its sentences, citations and support (personal questions get a
    reminder to see a clinician)."""
    if not turn.check.sentences and turn.unsupported and turn.passages:  # every draft sentence dropped
        yield from _abstain(turn, abstain.ALL_DROPPED)
        return
    turn.text = turn.check.render(mark_unsupported=False) or NOT_SUPPORTED
    if turn.verdict.label == "personal_advice":
        turn.text = f"{turn.text}\n\n{CLINICIAN_NOTE}"
    elif turn.verdict.label == "urgent":
        turn.text = f"{services.guard().urgent_line(turn.verdict)}\n\n{turn.text}"
    yield Answer(
        turn.text,
        tuple(turn.check.sentences),
        turn.cited(),
        round(turn.support, 4),
        turn.mode,
        tuple(turn.check.dropped_markers),
        turn.draft,
    )


STAGES: tuple[Stage, ...] = (guard_input, retrieve, generate, quote, conclude)


def answer(
    question: str,
    history: Sequence[dict],
    chat: ChatSettings,
    services: Services,
    stop_event: threading.Event | None = None,
) -> Iterator[Event]:
    """Stream one answer as Events through the stages; the last event is always Done.

    Setting `stop_event` (the visitor pressed Stop) ends generation and the turn with what was written.
    """
    turn = Turn(question, list(history), chat, stop=stop_event)
    for stage in STAGES:
        yield from stage(turn, services)
        if turn.finished:
            break
    yield turn.done()
