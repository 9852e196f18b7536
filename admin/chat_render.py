"""chat_render.py turns pipeline events into Markdown for the Chatbot: the answer with linked [n] markers,
the Sources panel, and the safety panel. Pure functions (no gradio import), so they are easy to test.
Where a source points is `Citation.link()`'s business, not this module's.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from medgemma.chat.events import Answer
from medgemma.types import Citation, Passage, Verdict

SAFETY_TITLES = {
    "emergency": "🚨 Emergency: the safety guard answered at once",
    "harmful": "🛡️ Safety: request refused",
    "personal_advice": "🛡️ Safety: general information only",
    "output": "🛡️ Safety: answer adjusted",
}


def _marker(n: int, by_n: dict[int, Citation]) -> str:
    c = by_n.get(n)
    if c is None:
        return ""
    title = html.escape(c.title, quote=True)
    return f'[[{n}]]({c.link()} "{title}")' if c.url else f"[{n}]"  # a file without a URL has no link


def render_answer(answer: Answer) -> str:
    """Sentences with clickable [n]; unsupported sentences flagged; a support line at the end."""
    by_n = {c.n: c for c in answer.citations}
    parts = []
    for s in answer.sentences:
        marks = "".join(_marker(n, by_n) for n in s.cited)
        text = s.text + (f" {marks}" if marks else "")
        if not s.supported:
            text += " ⚠️*(not supported by the sources)*"
        parts.append(text)
    note = f"\n\n<sub>Support: {answer.support:.0%} of sentences backed by the sources"
    if answer.mode == "extractive":
        note += " · quoted from the sources (the model's draft was not supported well enough)"
    return " ".join(parts) + note + "</sub>"


def render_sources(passages: Sequence[Passage]) -> str:
    """The Sources panel: title (linked), source, page, scores and a snippet for each passage."""
    if not passages:
        return "No passage in the knowledge base matched this question."
    lines = []
    for p in passages:
        title = p.title or p.source or "Untitled"
        head = f"**[{p.n}]** [{title}]({p.link()})" if p.url else f"**[{p.n}]** {title}"
        where = p.source + (f", page {p.page}" if p.page else "")
        scores = f"fused {p.score:.3f}"
        if p.dense is not None:
            scores += f" · dense {p.dense:.3f}"
        if p.bm25 is not None:
            scores += f" · BM25 {p.bm25:.2f}"
        snippet = " ".join(p.snippet.split())[:240]
        lines.append(f"{head}  \n<sub>{where} · {scores}</sub>  \n> {snippet}…")
    return "\n\n".join(lines)


def render_verdict(verdict: Verdict, text: str = "") -> str:
    reasons = "; ".join(verdict.reasons) or "rule match"
    rules = ", ".join(verdict.rules)
    out = f"{text}\n\n" if text else ""
    return out + f"<sub>Why: {reasons}" + (f" (rules: {rules})" if rules else "") + "</sub>"
