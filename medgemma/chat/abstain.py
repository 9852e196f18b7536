"""abstain.py decides, from what is known at answer time, whether the passages answer the question at all,
and words the honest "I don't know" (one sentence, then the nearest sources as links) when they do not.
It reads hits and passages, not models; the pipeline decides when to ask.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from medgemma.chat.citations import STOPWORDS, _stem, content_words
from medgemma.chat.provenance import when_label
from medgemma.types import Hit, Passage, Verdict

# What a question asks about rather than what it is about ("What are the symptoms of X?" -> X).
QUESTION_WORDS = frozenset(
    _stem(w)
    for w in (
        "symptom symptoms sign signs cause causes caused treat treats treated treatment treatments therapy "
        "therapies prevent prevention outlook prognosis inherit inherited inheritance genetic genetics change "
        "changes related diagnose diagnosed diagnosis test tests exam exams research clinical trial trials "
        "risk people person affected many common information know get done happen happens help mean means "
        "tell explain does type types stage stages complication complications what which much often "
        "anyone someone thing things good bad best way ways need please"
    ).split()
)
# Words that name a kind of problem rather than which one ("lung cancer" is about the lung, "high blood
# cholesterol" about cholesterol): a page must name one of the other, specific terms in its title or section.
GENERIC = frozenset(
    _stem(w)
    for w in (
        "cancer cancers disease diseases disorder disorders syndrome deficiency infection infections tumor "
        "tumors high low blood pain acute chronic adult adults child children childhood baby babies women "
        "men woman man problem problems health body condition conditions level levels severe mild rare "
        "care medicine medicines drug drugs older young age"
    ).split()
)
HIGH_DENSE = 0.65  # a passage this close in meaning answers even without the question's words
NEAREST = 3
# How sure the guard (its "allowed" score) must be that a question is benign for cleared().
CLEARED = 0.9
_WORD = re.compile(r"[a-z0-9]+")
ABSTAIN = "I don't know: the knowledge base has no page that answers this question; the nearest sources it found are:"
# What the cited-answer adapter is trained to say when its passages do not answer (training/reference.py);
# the pipeline replaces it with ABSTAIN_MODEL and the nearest sources.
MODEL_ABSTAIN = "I don't know: these sources do not answer this question."
ABSTAIN_MODEL = "I don't know: the passages found do not answer this question; the nearest sources are:"
ALL_DROPPED = (
    "I don't know: none of the model's sentences is supported by the sources (they are listed under "
    "'Not supported by the sources'); the nearest sources are:"
)


_SAYS_ABSTAIN = re.compile(
    r"^\W*I (?:do not|don'?t) know\b|^\W*(?:these|the) (?:sources|passages) do not answer", re.I
)
_SAYS_REFUSAL = re.compile(r"^\W*I can(?:'|no)?t help with (?:that|this) request", re.I)


def declined(sentence: str) -> str:
    """ "abstain" or "refuse" when a draft's first sentence is what the reference adapter was taught to say
    when the passages do not answer or the request is harmful (training/reference.py); else ""."""
    if _SAYS_ABSTAIN.search(sentence):
        return "abstain"
    return "refuse" if _SAYS_REFUSAL.search(sentence) else ""


def cleared(verdict: Verdict) -> bool:
    """The guard let the question through at least CLEARED sure that it is benign: a refusal from the
    adapter then means that its passages did not answer (it was taught both on unrelated passages), and
    the visitor gets the honest "I don't know" with the nearest sources instead of a refusal."""
    return verdict.allowed and verdict.score >= CLEARED


def topic_terms(question: str) -> set[str]:
    """The question's content words without its question-type words (the condition, drug, body part)."""
    return content_words(question) - QUESTION_WORDS


def coverage(terms: set[str], hit: Hit) -> float:
    """Share of the topic terms that the passage (its title, section and text) contains."""
    if not terms:
        return 1.0
    c = hit.chunk
    return len(terms & content_words(f"{c.title} {c.section} {c.text}")) / len(terms)


def specific_terms(terms: set[str]) -> set[str]:
    """The topic terms that say which problem (all of them when every one is generic)."""
    return (terms - GENERIC) or terms


def _phrase(terms: list[str], text: str) -> bool:
    """The terms side by side, in the question's order, somewhere in the text (stopwords aside)."""
    words = [_stem(w) for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOPWORDS]
    n = len(terms)
    return n > 0 and any(words[i : i + n] == terms for i in range(len(words) - n + 1))


def names_topic(query: str, terms: set[str], hit: Hit) -> bool:
    """The passage is about the question's topic: its title (a file's title or section) names a specific
    topic term, or (a file, whose title is often just its name) the text has them side by side."""
    specific, medquad = specific_terms(terms), hit.chunk.source.startswith("MedQuAD")
    # a MedQuAD page's title is its topic; its section is a templated question that shares the asker's
    # template words ("what are public health agencies doing to prevent ...")
    named = hit.chunk.title if medquad else f"{hit.chunk.title} {hit.chunk.section}"
    if not specific or specific & content_words(named):
        return True
    ordered = [t for t in dict.fromkeys(_stem(w) for w in _WORD.findall(query.lower())) if t in specific]
    return not medquad and _phrase(ordered, hit.chunk.text)


def enough(terms: set[str], share: float) -> bool:
    """All of up to three topic terms, all but one of more."""
    return share >= 1.0 if len(terms) <= 3 else share * len(terms) >= len(terms) - 1


@dataclass(frozen=True)
class Decision:
    """Whether the passages answer, which of them may be quoted (1-based), and why (for the evidence)."""

    answers: bool
    passages: tuple[int, ...] = ()
    terms: tuple[str, ...] = ()
    coverage: tuple[float, ...] = field(default_factory=tuple)
    why: str = ""

    def to_dict(self) -> dict:
        return {
            "answers": self.answers,
            "passages": list(self.passages),
            "topic_terms": list(self.terms),
            "coverage": [round(c, 3) for c in self.coverage],
            "why": self.why,
        }


def decide(query: str, hits: Sequence[Hit]) -> Decision:
    """The passages answer when one of them holds the question's topic terms (enough()) and names its topic
    (names_topic()), or is very close in meaning (dense cosine >= HIGH_DENSE); only those may be quoted."""
    terms = topic_terms(query)
    shares = tuple(coverage(terms, h) for h in hits)
    ok = tuple(
        n
        for n, (h, share) in enumerate(zip(hits, shares, strict=True), 1)
        if (enough(terms, share) and names_topic(query, terms, h)) or (h.dense or 0.0) >= HIGH_DENSE
    )
    if ok:
        why = f"passages {', '.join(map(str, ok))} hold the question's topic"
    else:
        why = f"no passage holds the question's topic terms ({', '.join(sorted(terms))})"
    return Decision(bool(ok), ok, tuple(sorted(terms)), shares, why)


def about_topic(query: str, decision: Decision | None, hits: Sequence[Hit]) -> bool:
    """The best-ranked passage holds the question's topic (decide() let it be quoted) and its title names
    every specific topic term: a page about exactly this topic, which an adapter's "I don't know" must
    not hide (the quotes then get their own say: they still abstain when no sentence fits the question)."""
    if decision is None or not decision.answers or 1 not in decision.passages or not hits:
        return False
    specific = specific_terms(topic_terms(query))
    return bool(specific) and specific <= content_words(hits[0].chunk.title)


def source_line(p: Passage) -> str:
    """One nearest source as a Markdown link with its origin ("[Gout](url) — MedlinePlus · as of 2017")."""
    title = p.title or p.source or "Untitled"
    head = f"[{title}]({p.link()})" if p.url else f"{title} ({p.link()})"
    origin = " · ".join(x for x in (p.publisher, when_label(p.date)) if x)
    return f"- {head}" + (f" — {origin}" if origin else "")


def nearest(passages: Sequence[Passage], k: int = NEAREST) -> list[Passage]:
    """The first `k` passages of distinct documents (retrieval order)."""
    seen, out = set(), []
    for p in passages:
        if p.doc_id not in seen:
            seen.add(p.doc_id)
            out.append(p)
        if len(out) == k:
            break
    return out


def abstention(passages: Sequence[Passage], lead: str = ABSTAIN) -> str:
    """The honest answer: one sentence, then the nearest sources as links."""
    near = nearest(passages)
    if not near:
        return lead.split(";")[0] + "."
    return lead + "\n\n" + "\n".join(source_line(p) for p in near)
