"""citations.py maps [n] markers to passages, verifies each answer sentence against them, and
builds the extractive fallback. It knows nothing about models or retrieval, only text and vectors.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from medgemma.chat import claims
from medgemma.types import Citation, Hit

Embed = Callable[[Sequence[str]], np.ndarray]

_MARKER = re.compile(r"\[(\d+(?:\s*[,;-]\s*\d+)*)\]")
_WORD = re.compile(r"[a-z0-9]+")
STOPWORDS = frozenset(
    "a an and are as at be been but by can could do does for from has have if in into is it its may "
    "might more most no not of on or other our should so some such than that the their them then there "
    "these they this those to too very was were what when where which while who will with would you your "
    "also about after all any because before being both each few how i me my only over same she he his "
    "her we us up out off own just now".split()
)


def _stem(word: str) -> str:
    """Crude, language-agnostic stem: drop a plural s, keep six letters (tiredness ~ tired, cells ~ cell)."""
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        word = word[:-1]
    return word[:6]


def content_words(text: str) -> set[str]:
    return {_stem(w) for w in _WORD.findall(text.lower()) if len(w) > 2 and w not in STOPWORDS}


def split_sentences(text: str) -> list[str]:
    """Split an answer into sentences, keeping trailing [n] markers with their sentence."""
    text = " ".join(text.split())
    if not text:
        return []
    pieces = re.split(r"(?<=[.!?])((?:\s*\[\d+(?:\s*[,;-]\s*\d+)*\])*)\s+(?=[A-Z0-9\"'(])", text)
    sentences, i = [], 0
    while i < len(pieces):
        sent = pieces[i] + (pieces[i + 1] if i + 1 < len(pieces) else "")
        sentences.append(sent.strip())
        i += 2
    return [s for s in sentences if s]


def markers_in(sentence: str) -> list[int]:
    """All citation numbers in a sentence: [1], [1, 2], [1-3]."""
    numbers: list[int] = []
    for group in _MARKER.findall(sentence):
        for part in re.split(r"\s*[,;]\s*", group):
            if "-" in part:
                lo, hi = (int(x) for x in part.split("-", 1))
                numbers.extend(range(lo, min(hi, lo + 20) + 1))
            elif part.strip():
                numbers.append(int(part))
    return numbers


def strip_markers(sentence: str) -> str:
    return re.sub(r"\s*" + _MARKER.pattern, "", sentence).strip()


def drop_dangling_lead_in(text: str) -> str:
    """Drop a last sentence that announces a list the stop sequence cut off ("The symptoms include: [3]"):
    it says nothing, yet its words overlap the passage. Text that is only such a sentence is kept."""
    sentences = split_sentences(text)
    if len(sentences) > 1 and strip_markers(sentences[-1]).endswith(":"):
        return " ".join(sentences[:-1])
    return text


def citation_for(n: int, hit: Hit) -> Citation:
    c = hit.chunk
    return Citation(
        n=n,
        doc_id=c.doc_id,
        chunk_id=c.chunk_id,
        title=c.title or c.source,
        url=c.url,
        source=c.source,
        page=c.page,
    )


@dataclass
class SentenceCheck:
    text: str  # sentence without markers
    cited: list[int]  # valid markers the model wrote (1-based)
    best: int  # best supporting passage (1-based), 0 if none
    support: float  # 0..1
    supported: bool
    attached: bool = False  # citation attached by verification, not by the model
    why: tuple[str, ...] = ()  # for an unsupported sentence: what its best passage does not state


@dataclass
class Verification:
    sentences: list[SentenceCheck] = field(default_factory=list)
    dropped_markers: list[int] = field(default_factory=list)

    @property
    def support(self) -> float:
        """Share of sentences supported by a passage (0 when there are none)."""
        return sum(s.supported for s in self.sentences) / len(self.sentences) if self.sentences else 0.0

    @property
    def cited_numbers(self) -> list[int]:
        seen: list[int] = []
        for s in self.sentences:
            for n in s.cited:
                if n not in seen:
                    seen.append(n)
        return seen

    def render(self, mark_unsupported: bool = True) -> str:
        """Answer text with one [n] list per sentence; unsupported sentences flagged."""
        out = []
        for s in self.sentences:
            marks = "".join(f"[{n}]" for n in s.cited)
            text = f"{s.text} {marks}".strip() if marks else s.text
            if mark_unsupported and not s.supported:
                text += " (unsupported)"
            out.append(text)
        return join_sentences(out)


def is_list(text: str) -> bool:
    """A quoted list ("lead\n- item\n- item") rather than one sentence."""
    return text.startswith("- ") or "\n- " in text


def join_sentences(pieces: Sequence[str]) -> str:
    """Sentences joined by spaces; a quoted list stands in its own paragraph, so the text after it does
    not run into its last item."""
    out = ""
    for i, piece in enumerate(pieces):
        if i:
            out += "\n\n" if is_list(piece) or is_list(pieces[i - 1]) else " "
        out += piece
    return out


def _lexical(sentence_words: set[str], passage_words: set[str]) -> float:
    return len(sentence_words & passage_words) / len(sentence_words) if sentence_words else 0.0


class Verifier:
    """Checks answer sentences against one set of passages, one sentence at a time, so an answer can be
    shown as it is verified; the passages' words and sentence vectors are computed once.

    A sentence is supported by a passage when at least half of its content words occur there (novel
    words are what hallucinated claims add), with an embedder its meaning is close to one of the
    passage's sentences, and the passage states what it claims (chat.claims: its numbers, polarity, named
    terms and population are the passage's). A sentence that only restates `question` (the asker's own
    message) is no answer and is supported nowhere. `support` = 0.5 * cosine + 0.5 * lexical.
    Markers that point at no passage are dropped; with `attach`, a supported sentence that the model
    left uncited gets the number of its best passage, and a wrong citation is moved to the right one.
    """

    def __init__(
        self,
        hits: Sequence[Hit],
        embed: Embed | None = None,
        min_lexical: float = 0.5,
        min_cosine: float = 0.35,
        attach: bool = True,
        question: str = "",
    ) -> None:
        self.hits, self.embed, self.attach, self.question = list(hits), embed, attach, question
        self.min_lexical, self.min_cosine = min_lexical, min_cosine
        self.passage_texts = [h.chunk.title + ". " + h.chunk.text for h in self.hits]
        self.passage_words = [content_words(h.chunk.text + " " + h.chunk.title) for h in self.hits]
        # each passage sentence on its own (a whole passage dilutes the similarity); keep the best per passage
        self.owners: list[int] = []
        units: list[str] = []
        for j, h in enumerate(self.hits):
            for unit in split_sentences(h.chunk.text)[:40] or [h.chunk.text]:
                self.owners.append(j)
                units.append(unit)
        self.unit_vecs = embed(units) if embed is not None and units else None

    def _cosines(self, text: str) -> np.ndarray:
        cos = np.ones(len(self.hits), dtype=np.float32)
        if self.unit_vecs is not None and self.embed is not None:
            cos[:] = 0.0
            sims = np.clip(self.unit_vecs @ self.embed([text])[0], 0.0, 1.0)
            for col, j in enumerate(self.owners):
                cos[j] = max(cos[j], sims[col])
        return cos

    def check(self, raw: str) -> tuple[SentenceCheck, list[int]]:
        """One sentence (with its markers) checked: its SentenceCheck and the markers that point nowhere."""
        text, k = strip_markers(raw), len(self.hits)
        cos, words = self._cosines(text), content_words(text)
        lex = [_lexical(words, self.passage_words[j]) for j in range(k)]
        near = [bool(words) and lex[j] >= self.min_lexical and cos[j] >= self.min_cosine for j in range(k)]
        why = [claims.mismatches(text, self.passage_texts[j]) if near[j] else [] for j in range(k)]
        restated = claims.restates(text, self.question)
        ok = [near[j] and not why[j] and not restated for j in range(k)]
        score = [0.5 * float(cos[j]) + 0.5 * lex[j] if self.embed is not None else lex[j] for j in range(k)]
        cited: list[int] = []
        dropped: list[int] = []
        for n in markers_in(raw):
            if 1 <= n <= k:
                if n not in cited:
                    cited.append(n)
            else:
                dropped.append(n)
        candidates = [j for j in range(k) if ok[j]]
        best = (
            max(candidates, key=lambda j: score[j]) + 1
            if candidates
            else (int(np.argmax(score)) + 1 if score else 0)
        )
        if cited:
            supported = any(ok[n - 1] for n in cited)
            support = max(score[n - 1] for n in cited)
            if not supported and candidates and self.attach:  # the model cited the wrong passage
                cited, supported, support = [best], True, score[best - 1]
        else:
            supported = bool(candidates)
            support = score[best - 1] if score else 0.0
        reasons: list[str] = ["it restates the question"] if restated else []
        if not supported and not reasons:
            reasons = next(
                (why[j] for j in ([n - 1 for n in cited] or [best - 1]) if 0 <= j < k and why[j]), []
            )
        result = SentenceCheck(
            text=text,
            cited=cited,
            best=best,
            support=round(float(support), 4),
            supported=supported,
            why=tuple(reasons),
        )
        if self.attach and not cited and supported:
            result.cited, result.attached = [best], True
        return result, dropped


def verify(
    answer: str,
    hits: Sequence[Hit],
    embed: Embed | None = None,
    min_lexical: float = 0.5,
    min_cosine: float = 0.35,
    attach: bool = True,
) -> Verification:
    """Check each sentence of a whole answer against the passages (see Verifier)."""
    result = Verification()
    sentences = split_sentences(answer)
    if not sentences:
        return result
    verifier = Verifier(hits, embed, min_lexical, min_cosine, attach)
    for raw in sentences:
        check, dropped = verifier.check(raw)
        result.sentences.append(check)
        result.dropped_markers.extend(dropped)
    return result


def same_sentence(a: str, b: str) -> bool:
    """Two sentences that say the same words (case, markers, punctuation and word order aside)."""
    wa, wb = content_words(strip_markers(a)), content_words(strip_markers(b))
    if not wa or not wb:
        return strip_markers(a).lower() == strip_markers(b).lower()
    return len(wa & wb) / len(wa | wb) >= 0.9


def extractive_answer(
    question: str,
    hits: Sequence[Hit],
    embed: Embed | None = None,
) -> str:
    """Quote the passage sentences (or one list) that answer the question, each with its [n], in passage
    order (chat.quotes chooses them)."""
    from medgemma.chat import quotes  # quotes builds on this module's word helpers

    chosen = quotes.choose(question, hits, embed=embed)
    return join_sentences([f"{u.text} [{u.n}]" for u in chosen])
