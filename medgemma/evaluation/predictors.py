"""predictors.py turns one evaluation Example into one Prediction, whatever answers it.

Predictors: the full chat pipeline (long-form QA with RAG), a model called directly (multiple choice,
closed-book QA; optional question-only retrieval), the knowledge base's search and the safety guard.
Collaborators are imported lazily, so the runner and its tests never load a model they do not need.
It knows nothing about metrics or run folders.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from medgemma.evaluation.suites import Example, Suite, normalize_url
from medgemma.types import GenerationParams, GenerationStats, Hit

if TYPE_CHECKING:
    from medgemma.chat.services import Services
    from medgemma.config import Settings
    from medgemma.models.backends import Backend

MC_SYSTEM = (
    "You are a medical expert taking a multiple-choice exam. Read the question and the options, "
    'then reply with the letter of the single best option, for example "Answer: B".'
)
YES_NO_SYSTEM = (
    "You are a biomedical researcher. Answer the research question from the abstract with "
    "yes, no or maybe, then explain the conclusion in one or two sentences."
)
ANSWER_PREFIX = "Answer:"  # appended after the chat template so even base models start with the letter
RETRIEVAL_DEPTH = 10


@dataclass
class Prediction:
    """What a predictor returns for one example; unset fields are not measured for it."""

    text: str = ""
    latency_s: float = 0.0
    ttft_s: float = 0.0
    tokens: int = 0
    tok_per_s: float = 0.0
    label: str = ""  # safety verdict label
    ranked: list[str] = field(default_factory=list)  # retrieval: ranked URLs or doc ids
    citations: list[dict[str, Any]] | None = None  # valid citations of the final answer
    sentences: list[dict[str, Any]] | None = None  # verifier output per sentence (supported, attached)
    support: float | None = None
    passages: list[str] = field(default_factory=list)  # ids of the passages the model saw
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, [], {}, "")}


class Predictor(Protocol):
    name: str

    def predict(self, example: Example) -> Prediction: ...


Search = Callable[[str, int], Sequence[Hit]]


def _passage_block(example: Example, hits: Sequence[Hit]) -> str:
    if example.context:
        return "Abstract:\n" + "\n".join(" ".join(c.split()) for c in example.context)
    if hits:
        from medgemma.chat.prompts import format_passages

        return "Relevant documents:\n" + format_passages(hits, max_chars=800)
    return ""


def mc_messages(example: Example, hits: Sequence[Hit] = ()) -> list[dict[str, str]]:
    """Chat messages asking for the answer letter (yes/no/maybe plus a reason for PubMedQA)."""
    block = _passage_block(example, hits)
    options = "\n".join(f"{k}. {v}" for k, v in example.options.items())
    letters = ", ".join(example.options)
    if example.reference:  # PubMedQA: a decision and a long answer
        system = YES_NO_SYSTEM
        ask = "Answer yes, no or maybe, then explain briefly."
    else:
        system = MC_SYSTEM
        ask = f"Reply with one letter ({letters})."
    user = (
        f"{block}\n\n" if block else ""
    ) + f"Question: {example.question.strip()}\n\nOptions:\n{options}\n\n{ask}"
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def qa_messages(question: str) -> list[dict[str, str]]:
    """Closed-book long-form QA: the product's system prompt without passages."""
    from medgemma.chat.prompts import build

    return build(question, []).messages


class GenerativePredictor:
    """Calls a model directly: multiple choice (optionally with question-only retrieval) or closed-book QA."""

    def __init__(
        self,
        backend: Backend,
        search: Search | None = None,
        k: int = 4,
        max_new_tokens: int = 200,
        seed: int = 0,
    ) -> None:
        self.backend, self.search, self.k = backend, search, k
        self.max_new_tokens, self.seed = max_new_tokens, seed
        spec = getattr(backend, "spec", None)
        self.name = f"{getattr(backend, 'name', 'model')}:{getattr(spec, 'name', '?')}"

    def describe(self) -> dict[str, Any]:
        """The model and adapter actually loaded (the admin's active adapter may differ from settings)."""
        return {
            "model": getattr(self.backend.spec, "name", ""),
            "adapter": getattr(self.backend, "adapter", ""),
        }

    def predict(self, example: Example) -> Prediction:
        t0 = time.perf_counter()
        hits: Sequence[Hit] = []
        if self.search is not None and not example.context:
            hits = self.search(example.question, self.k)  # question only: options are not a query
        stop: tuple[str, ...] = ()
        if example.options:  # base models go on to invent the next question: stop at a blank line
            prefix, stop = ANSWER_PREFIX, ("\n\n",)
            prompt = self.backend.render(mc_messages(example, hits)) + prefix
            budget = min(self.max_new_tokens, 160 if example.reference else 24)
        else:
            prefix, prompt, budget = (
                "",
                self.backend.render(qa_messages(example.question)),
                self.max_new_tokens,
            )
        stats = GenerationStats()
        params = GenerationParams(max_new_tokens=budget, temperature=0.0, seed=self.seed, stop=stop)
        text = "".join(self.backend.stream(prompt, params, stats))
        latency = time.perf_counter() - t0
        return Prediction(
            text=(prefix + text).strip(),
            latency_s=latency,
            ttft_s=(stats.ttft_s + (latency - stats.total_s)) if stats.tokens else 0.0,
            tokens=stats.tokens,
            tok_per_s=stats.tok_per_s,
            passages=[h.chunk.chunk_id for h in hits],
            extra={"prompt_tokens": stats.prompt_tokens},
        )


class PipelinePredictor:
    """The product's answer: safety, retrieval, generation, citations, verification, fallback."""

    name = "pipeline"

    def __init__(self, services: Services, chat: Any) -> None:
        self.services, self.chat = services, chat

    def describe(self) -> dict[str, Any]:
        adapter = self.services.active_adapter() if self.chat.adapter is None else self.chat.adapter
        return {"model": self.chat.model or self.services.settings.model, "adapter": adapter or ""}

    def predict(self, example: Example) -> Prediction:
        from medgemma.chat.events import Done
        from medgemma.chat.pipeline import answer

        t0 = time.perf_counter()
        done = None
        for event in answer(example.question, [], self.chat, self.services):
            if isinstance(event, Done):
                done = event
        latency = time.perf_counter() - t0
        ttft = done.timings.first_token_s or 0.0  # the draft's first token (never shown: see chat.gate)
        gen = done.timings.stats()  # answer() always ends with Done
        return Prediction(
            text=done.text,
            latency_s=latency,
            ttft_s=ttft,
            tokens=int(gen.get("tokens", 0)),
            tok_per_s=float(gen.get("tok_per_s", 0.0)),
            citations=[c.to_dict() for c in done.citations],
            # the sentences shown and those left out as unsupported: the verifier's verdict on all of them
            sentences=[asdict(s) for s in (*done.sentences, *done.dropped)],
            support=done.support,
            passages=[p.chunk_id for p in done.passages],
            label=done.safety,
            extra={"mode": done.mode, "timings": done.timings.to_dict()},
        )


class RetrievalPredictor:
    """Ranks documents for a question with a search function (the knowledge base's, in production):
    chunk hits become their documents (URL or doc id, as the example is labelled), each once, in rank order;
    a chunk without a URL names no page a URL label could match, so it is left out of URL rankings."""

    def __init__(self, search: Search, depth: int = RETRIEVAL_DEPTH, name: str = "retrieval") -> None:
        self.search, self.depth, self.name = search, depth, name

    def predict(self, example: Example) -> Prediction:
        t0 = time.perf_counter()
        hits = self.search(example.question, self.depth)
        by_url = example.meta.get("match", "url") == "url"
        keys = [normalize_url(h.chunk.url) if by_url else h.chunk.doc_id for h in hits]
        ranked = list(dict.fromkeys(k for k in keys if k))
        return Prediction(
            text=ranked[0] if ranked else "",
            ranked=ranked,
            latency_s=time.perf_counter() - t0,
            passages=[h.chunk.chunk_id for h in hits],
        )


class SafetyPredictor:
    """Labels a message with a guard function returning a Verdict (or a label string). With `check_many`
    (labels for many texts at once) the runner's pending examples are labelled in one batch (`prepare`)."""

    name = "safety"

    def __init__(
        self, check: Callable[[str], Any], check_many: Callable[[Sequence[str]], Sequence[Any]] | None = None
    ) -> None:
        self.check, self.check_many = check, check_many
        self._batch: dict[str, tuple[Any, float]] = {}

    def prepare(self, examples: Sequence[Example]) -> None:
        """Label these examples in one call; each is charged an equal share of the batch's time."""
        if self.check_many is None or not examples:
            return
        t0 = time.perf_counter()
        verdicts = self.check_many([e.question for e in examples])
        each = (time.perf_counter() - t0) / len(examples)
        self._batch = {e.id: (v, each) for e, v in zip(examples, verdicts, strict=True)}

    def predict(self, example: Example) -> Prediction:
        if example.id in self._batch:
            verdict, latency = self._batch.pop(example.id)
        else:
            t0 = time.perf_counter()
            verdict = self.check(example.question)
            latency = time.perf_counter() - t0
        label = verdict if isinstance(verdict, str) else verdict.label
        rules = [] if isinstance(verdict, str) else list(getattr(verdict, "rules", ()))
        extra: dict[str, Any] = {"rules": rules} if rules else {}
        if not isinstance(verdict, str):
            extra["score"] = verdict.score
        return Prediction(text=label, label=label, latency_s=latency, extra=extra)


def make_predictor(
    settings: Settings,
    suite: Suite,
    services: Services | None = None,
    model: str | None = None,
    adapter: str | None = None,
    rag: bool = True,
    mode: str = "auto",
    seed: int = 0,
) -> Predictor:
    """The production predictor for a suite, built on one shared Services (created if not given)."""
    if services is None:
        from medgemma.chat.services import Services

        services = Services(settings)
    if suite.kind == "retrieval":
        return RetrievalPredictor(lambda q, k: services.knowledge().search(q, k=k, min_score=0.0))
    if suite.kind == "safety":
        return SafetyPredictor(lambda text: services.guard().classify(text))
    if suite.kind == "qa" and rag:
        from medgemma.chat.pipeline import ChatSettings

        chat = ChatSettings.from_settings(
            settings, model=model, adapter=adapter, temperature=0.0, mode=mode, session_id="eval", seed=seed
        )
        return PipelinePredictor(services, chat)
    search = None
    if rag:

        def search(q: str, k: int) -> Sequence[Hit]:
            return services.knowledge().search(q, k=k, min_score=settings.retrieval_min_score)

    return GenerativePredictor(
        services.backend(model, adapter),
        search=search,
        k=settings.retrieval_k,
        max_new_tokens=settings.max_new_tokens,
        seed=seed,
    )
