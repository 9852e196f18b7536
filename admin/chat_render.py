"""chat_render.py turns pipeline results into Markdown for the Chatbot: linked [n] markers, the
Sources panel, and the safety panel. Pure functions (no gradio import), so they are easy to test.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

SAFETY_TITLES = {
    "emergency": "🚨 Emergency: the safety guard answered at once",
    "harmful": "🛡️ Safety: request refused",
    "personal_advice": "🛡️ Safety: general information only",
    "output": "🛡️ Safety: answer adjusted",
}


def source_link(c: dict[str, Any]) -> str:
    """Where [n] points: the URL, else the file (served by the app) with its page."""
    if c.get("url"):
        return str(c["url"])
    if c.get("file_url"):
        return f"{c['file_url']}#page={c['page']}" if c.get("page") else str(c["file_url"])
    return ""


def _marker(n: int, by_n: dict[int, dict[str, Any]]) -> str:
    c = by_n.get(n)
    if not c:
        return ""
    link = source_link(c)
    title = html.escape(str(c.get("title", "")), quote=True)
    return f'[[{n}]]({link} "{title}")' if link else f"[{n}]"


def render_answer(sentences: Sequence[dict[str, Any]], citations: Sequence[dict[str, Any]],
                  mode: str, support: float) -> str:
    """Sentences with clickable [n]; unsupported sentences flagged; a support line at the end."""
    by_n = {int(c["n"]): c for c in citations}
    parts = []
    for s in sentences:
        marks = "".join(_marker(n, by_n) for n in s.get("cited", []))
        text = s["text"] + (f" {marks}" if marks else "")
        if not s.get("supported", False):
            text += " ⚠️*(not supported by the sources)*"
        parts.append(text)
    body = " ".join(parts)
    note = f"\n\n<sub>Support: {support:.0%} of sentences backed by the sources"
    if mode == "extractive":
        note += " · quoted from the sources (the model's draft was not supported well enough)"
    return body + note + "</sub>"


def render_sources(hits: Sequence[dict[str, Any]]) -> str:
    """The Sources panel: title (linked), source, page, scores and a snippet for each passage."""
    if not hits:
        return "No passage in the knowledge base matched this question."
    lines = []
    for h in hits:
        link = source_link(h)
        title = h.get("title") or h.get("source") or "Untitled"
        head = f"**[{h['n']}]** [{title}]({link})" if link else f"**[{h['n']}]** {title}"
        where = h.get("source", "")
        if h.get("page"):
            where += f", page {h['page']}"
        scores = f"fused {h['score']:.3f}"
        if h.get("dense") is not None:
            scores += f" · dense {h['dense']:.3f}"
        if h.get("bm25") is not None:
            scores += f" · BM25 {h['bm25']:.2f}"
        snippet = " ".join(str(h.get("snippet", "")).split())[:240]
        lines.append(f"{head}  \n<sub>{where} · {scores}</sub>  \n> {snippet}…")
    return "\n\n".join(lines)


def render_verdict(verdict: dict[str, Any], text: str = "") -> str:
    reasons = "; ".join(verdict.get("reasons", [])) or "rule match"
    rules = ", ".join(verdict.get("rules", []))
    out = f"{text}\n\n" if text else ""
    return out + f"<sub>Why: {reasons}" + (f" (rules: {rules})" if rules else "") + "</sub>"
