"""chat_render.py turns pipeline events into the Chatbot's messages: the answer, verified sentence by
sentence, with linked [n] markers, the Sources panel, the collapsed "Not supported by the sources" panel and
the safety panels (ChatView applies each event), and the evidence-record download.
No gradio import, so it is easy to test; where a source points is `Citation.link()`'s business.
"""

from __future__ import annotations

import html
import json
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medgemma.chat.citations import SentenceCheck, is_list, join_sentences
from medgemma.chat.events import (
    Answer,
    Done,
    Dropped,
    Emergency,
    Event,
    Refusal,
    Safety,
    Sentence,
    Sources,
    Status,
)
from medgemma.chat.provenance import when_label
from medgemma.types import Citation, Passage, Verdict

SAFETY_TITLES = {
    "emergency": "🚨 Emergency: the safety guard answered at once",
    "urgent": "🩺 Urgent: see a doctor today (general information follows)",
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


WRITING = "⏳ *Writing: each sentence appears once it is checked against the sources …*"
NOT_SUPPORTED_TITLE = "🔍 Not supported by the sources ({n}), left out of the answer"


def render_sentence(check: SentenceCheck, citations: Sequence[Citation]) -> str:
    """One verified sentence with its clickable [n]."""
    by_n = {c.n: c for c in citations}
    marks = "".join(_marker(n, by_n) for n in check.cited)
    return check.text + (f" {marks}" if marks else "")


def render_answer(answer: Answer, left_out: int = 0) -> str:
    """The sentences shown, with clickable [n], and a support line (the fixed text, when none was shown,
    still gets it); with no source at all, only the fixed text."""
    if answer.mode in ("no_source", "abstain"):  # no source, or an honest "I don't know" with the nearest
        return answer.text
    text = join_sentences([render_sentence(s, answer.citations) for s in answer.sentences]) or answer.text
    note = f"\n\n<sub>Support: {answer.support:.0%} of sentences backed by the sources"
    if left_out:
        note += f" · {left_out} left out (see 'Not supported by the sources')"
    if answer.mode == "extractive":
        note += " · quoted from the sources" + (
            " (the model's draft was not supported well enough)" if answer.draft else ""
        )
    return text + note + "</sub>"


def origin_line(p: Passage) -> str:
    """Where a passage came from and as of when: 'NIH Genetics Home Reference (GHR) · as of 2017 ·
    MedQuAD/GHR'; a file's name and page."""
    where = p.source + (f", page {p.page}" if p.page else "")
    return " · ".join(x for x in (p.publisher, when_label(p.date), where) if x)


def render_sources(passages: Sequence[Passage]) -> str:
    """The Sources panel: title (linked), where it came from and as of when, scores and a snippet."""
    if not passages:
        return "No passage in the knowledge base matched this question."
    lines = []
    for p in passages:
        title = p.title or p.source or "Untitled"
        head = f"**[{p.n}]** [{title}]({p.link()})" if p.url else f"**[{p.n}]** {title}"
        where = origin_line(p)
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


class ChatView:
    """Applies pipeline Events to the Chatbot's message list (panels, streamed answer, final answer)."""

    def __init__(self, history: list[dict]) -> None:
        self.history = history
        self.answer_index: int | None = None
        self.last: dict[str, Any] = {}  # the evidence record of the finished answer (question, answer, ...)
        self.emergency = ""  # the emergency panel's text, once the guard answered with one
        self.dropped: list[str] = []  # the draft's sentences no passage supports (listed, not answered)
        self.dropped_index: int | None = None

    def _answer_msg(self) -> dict:
        if self.answer_index is None:
            self.history.append({"role": "assistant", "content": ""})
            self.answer_index = len(self.history) - 1
        return self.history[self.answer_index]

    def _panel(self, title: str, content: str, status: str = "done") -> None:
        self.history.append(
            {"role": "assistant", "content": content, "metadata": {"title": title, "status": status}}
        )

    def apply(self, event: Event) -> None:
        match event:
            case Emergency(text=text, verdict=verdict):
                self._answer_msg()["content"] = text
                self._panel(SAFETY_TITLES["emergency"], render_verdict(verdict))
                self.emergency = f"## 🚨 Emergency\n{text}"
            case Refusal(text=text, verdict=verdict):
                self._answer_msg()["content"] = text
                self._panel(SAFETY_TITLES["harmful"], render_verdict(verdict))
            case Safety(text=text, verdict=verdict) if verdict.label == "urgent":
                # said first and in full, not folded away: see a doctor today; the cited answer follows
                self.history.append({"role": "assistant", "content": f"🩺 {text}"})
                self._panel(SAFETY_TITLES["urgent"], render_verdict(verdict))
            case Safety(text=text, verdict=verdict):
                title = SAFETY_TITLES.get(verdict.label, SAFETY_TITLES["output"])
                self._panel(title, render_verdict(verdict, text))
            case Sources(passages=passages):
                self._panel(f"📚 Sources ({len(passages)})", render_sources(passages))
            case Status(text=text) if text.startswith("Writing"):
                self._answer_msg()["content"] = WRITING
            case Sentence(check=check, citations=citations):
                message, sentence = self._answer_msg(), render_sentence(check, citations)
                shown = message["content"] not in ("", WRITING)
                before = message["content"]
                gap = (
                    "\n\n" if shown and (is_list(sentence) or is_list(before.rsplit("\n\n", 1)[-1])) else " "
                )
                message["content"] = f"{before}{gap}{sentence}" if shown else sentence
            case Dropped(check=check):
                self._dropped(check.text)
            case Answer():
                self._answer_msg()["content"] = render_answer(event, len(self.dropped))
            case Done(evidence=evidence, text=text):
                self.last = {**evidence, "question": evidence.get("question", ""), "answer": text}
                if self.answer_index is not None and self.history[self.answer_index]["content"] == WRITING:
                    self.history[self.answer_index]["content"] = (
                        text or "Stopped before a sentence was verified."
                    )

    def _dropped(self, text: str) -> None:
        """The collapsed panel listing the draft's unsupported sentences, kept below the answer."""
        self._answer_msg()
        self.dropped.append(text)
        content = "\n".join(f"- {html.escape(t)}" for t in self.dropped)
        if self.dropped_index is None:
            self._panel(NOT_SUPPORTED_TITLE.format(n=1), content)
            self.dropped_index = len(self.history) - 1
        panel = self.history[self.dropped_index]
        panel["content"], panel["metadata"]["title"] = (
            content,
            NOT_SUPPORTED_TITLE.format(n=len(self.dropped)),
        )


def evidence_file(record: dict[str, Any] | None) -> str | None:
    """The evidence record as a JSON download (in a temp folder pruned to the last hour)."""
    if not record:
        return None
    folder = Path(tempfile.gettempdir()) / "medgemma-evidence"
    folder.mkdir(parents=True, exist_ok=True)
    _prune(folder, max_age_s=3600, keep=500)
    path = folder / f"evidence-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}.json"
    path.write_text(json.dumps(record, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    return str(path)


def _prune(folder: Path, max_age_s: float, keep: int) -> None:
    """Evidence files are per-answer downloads: drop those older than an hour and cap their number."""
    files = sorted(folder.glob("evidence-*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    now = time.time()
    for i, f in enumerate(files):
        if i >= keep or now - f.stat().st_mtime > max_age_s:
            f.unlink(missing_ok=True)
