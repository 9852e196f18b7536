"""provenance.py says where a passage came from and as of when (publisher, date), and keeps crisis and
emergency numbers out of quoted text: a page's own hotline number (some MedQuAD pages still carry the
pre-2022 US suicide line) is replaced by a pointer to the guard's configured line. Text only; no retrieval.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

from medgemma.knowledge.corpus import MEDQUAD_AS_OF, MEDQUAD_PUBLISHERS
from medgemma.types import Chunk, Hit, Passage

# A North American toll-free or local number, letters allowed (1-800-273-TALK (8255), (800) 273-8255).
_PHONE = r"(?:\+?1[-.\s]?)?(?:\(\d{3}\)|\d{3})[-.\s]?(?:\d{3}|[A-Z]{3})[-.\s]?(?:\d{4}|[A-Z0-9]{4})(?:\s*\(\d{4}\))?"
_CRISIS_WORDS = re.compile(r"suicid|crisis|lifeline|self-harm|poison|emergenc", re.I)
_POISON = re.compile(r"poison", re.I)
_EMERGENCY = re.compile(r"(?<![\d-])(?:911|112|999)(?![\d-])")
_CRISIS_988 = re.compile(r"\b988\b")
_PHONE_RE = re.compile(r"(?<![\w-])" + _PHONE + r"(?![\w-])")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n")
_CALL = re.compile(r"\b(?:call|calling|dial|phone|emergenc|ambulance|operator)", re.I)
CRISIS_POINTER = "the crisis line {line} (this app's number; the page's own is not shown)"
EMERGENCY_POINTER = "your emergency number ({number})"
_POINTED = "(this app's number"


@dataclass(frozen=True)
class Lines:
    """The numbers the guard is configured with (safety.guard.crisis_line / emergency_number)."""

    crisis: str = "988"  # "" where the locale has none: the emergency number is pointed to instead
    emergency: str = "911"

    @classmethod
    def from_settings(cls, settings: Any) -> Lines:
        from medgemma.safety.guard import crisis_line, emergency_number

        return cls(crisis=crisis_line(settings), emergency=emergency_number(settings))


def _called(text: str, start: int, end: int) -> bool:
    """911/112/999 offered as a number to call (not "1 in 911 people")."""
    left = max((m.end() for m in _SENTENCE.finditer(text, 0, start)), default=0)
    right = next((m.start() for m in _SENTENCE.finditer(text, end)), len(text))
    return bool(_CALL.search(text[left:right]))


def _crisis_context(text: str, start: int, end: int) -> bool:
    """Is the number at text[start:end] offered as a crisis, poison or emergency line (same sentence)?"""
    left = max((m.end() for m in _SENTENCE.finditer(text, 0, start)), default=0)
    right = next((m.start() for m in _SENTENCE.finditer(text, end)), len(text))
    return bool(_CRISIS_WORDS.search(text[left:right]))


def crisis_numbers(text: str) -> list[str]:
    """The crisis, poison and emergency numbers a text presents (empty for an ordinary phone number)."""
    found = [m.group(0) for m in _PHONE_RE.finditer(text) if _crisis_context(text, m.start(), m.end())]
    found += [m.group(0) for m in _EMERGENCY.finditer(text) if _called(text, m.start(), m.end())]
    found += [m.group(0) for m in _CRISIS_988.finditer(text) if _crisis_context(text, m.start(), m.end())]
    return found


def has_crisis_number(text: str) -> bool:
    return bool(crisis_numbers(text)) or _POINTED in text


def _pointed(text: str, start: int) -> bool:
    """The number is already the guard's, inside a pointer (scrubbing twice changes nothing)."""
    return text[max(0, start - 20) : start].endswith(("emergency number (", "crisis line "))


def _sentence_of(text: str, start: int) -> int:
    return max((m.end() for m in _SENTENCE.finditer(text, 0, start)), default=0)


def scrub(text: str, lines: Lines) -> str:
    """`text` with each crisis/poison/emergency number replaced by a pointer to the configured line: the
    crisis line for suicide and crisis lines, the emergency number for 911/112/999 and poison lines. A
    sentence that gives several numbers (the TTY, the spelled-out one) gets one pointer."""
    emergency = EMERGENCY_POINTER.format(number=lines.emergency)
    crisis = CRISIS_POINTER.format(line=lines.crisis) if lines.crisis else emergency
    spans: list[tuple[int, int, str]] = []
    for m in _PHONE_RE.finditer(text):
        if _crisis_context(text, m.start(), m.end()) and not _pointed(text, m.start()):
            left = _sentence_of(text, m.start())
            poison = _POISON.search(text[left : m.start()]) is not None
            spans.append((m.start(), m.end(), emergency if poison else crisis))
    for m in _EMERGENCY.finditer(text):
        if _called(text, m.start(), m.end()) and not _pointed(text, m.start()):
            article = re.search(r"\b(?:the|your)\s+$", text[: m.start()], re.I) is not None
            spans.append((m.start(), m.end(), emergency.removeprefix("your ") if article else emergency))
    out, pos, pointed = [], 0, set()
    for start, end, pointer in sorted(spans):
        if start < pos:
            continue
        sentence = (_sentence_of(text, start), pointer)
        if sentence in pointed:  # a second number for the same line: drop it with its brackets
            out.append(re.sub(r"[\s(;,:]*(?:TTY:?\s*)?$", "", text[pos:start]))
            pos = end
            while pos < len(text) and text[pos] == ")":
                pos += 1
            continue
        pointed.add(sentence)
        out.append(text[pos:start] + pointer)
        pos = end
    return "".join(out) + text[pos:]


def scrub_hit(hit: Hit, lines: Lines) -> Hit:
    """The hit with its text scrubbed (the same object when it presents no such number)."""
    if not crisis_numbers(hit.chunk.text):
        return hit
    return replace(hit, chunk=replace(hit.chunk, text=scrub(hit.chunk.text, lines)))


@dataclass(frozen=True)
class Origin:
    publisher: str = ""
    date: str = ""

    def label(self) -> str:
        """'NIH Genetics Home Reference (GHR) · as of 2017'; '' when nothing is known."""
        return " · ".join(p for p in (self.publisher, when_label(self.date)) if p)


def when_label(date: str) -> str:
    """'as of 2017' for a page's date, 'added 2026-12-02' for an upload's ('upload of 2026-12-02')."""
    if not date:
        return ""
    return f"added {date[len('upload of ') :]}" if date.startswith("upload of ") else f"as of {date}"


def origin(chunk: Chunk, record: dict[str, Any] | None = None) -> Origin:
    """Where a chunk came from: the document record's meta when the index has it, else what its source
    says (MedQuAD/<site> -> the NIH site, as of 2017; PubMed; an uploaded file and its upload date)."""
    record = record or {}
    meta = record.get("meta") or {}
    publisher, date = str(meta.get("publisher") or ""), str(meta.get("date") or "")
    source = chunk.source or str(record.get("source") or "")
    if source.startswith("MedQuAD"):
        site = source.split("/", 1)[1] if "/" in source else ""
        publisher = publisher or MEDQUAD_PUBLISHERS.get(site, "MedQuAD (NIH consumer health pages)")
        date = date or MEDQUAD_AS_OF
    elif source == "PubMed":
        publisher = publisher or "PubMed, US National Library of Medicine"
    elif source and not publisher:
        publisher = f"uploaded file {source}"
    if not date and record.get("added_at") and not source.startswith(("MedQuAD", "PubMed")):
        date = f"upload of {str(record['added_at'])[:10]}"
    return Origin(publisher, date)


def dated(passage: Passage, found: Origin, lines: Lines) -> Passage:
    """The passage as shown: its origin filled in, crisis numbers in its text and snippet replaced."""
    return replace(
        passage,
        publisher=found.publisher,
        date=found.date,
        snippet=scrub(passage.snippet, lines),
        text=scrub(passage.text, lines),
    )


def document_records(knowledge: Any) -> dict[str, dict[str, Any]]:
    """doc_id -> document record (title, source, added_at, meta) of the knowledge base's loaded index;
    {} for a knowledge base without one (a fake, or nothing built yet)."""
    store = getattr(knowledge, "store", None)
    try:
        snap = store.load() if store is not None else None
        return snap.doc_table() if snap is not None else {}
    except (OSError, ValueError, AttributeError):
        return {}
