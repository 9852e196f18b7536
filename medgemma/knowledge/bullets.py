"""bullets.py finds the bulleted lists inside flattened text ("lead - item - item - item. Next sentence")
and gives them back as items: MedQuAD's pages lost their line breaks, and some repeat each list once more
as run-on text after it. It knows only text; ingestion (corpus.py) and the quotes (chat/quotes.py) use it.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass

_DASH = re.compile(r"\s+-\s+(?=\S)|^-\s+(?=\S)")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])")
_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Block:
    """One piece of flattened text: plain sentences (`items` empty) or a list with its lead-in."""

    text: str  # the plain text, or the lead-in sentence of a list ("" when the list has none)
    items: tuple[str, ...] = ()

    @property
    def is_list(self) -> bool:
        return bool(self.items)

    def render(self) -> str:
        """Markdown: the lead-in, then one "- item" per line."""
        if not self.items:
            return self.text
        lines = [f"- {item}" for item in self.items]
        return "\n".join([self.text, *lines] if self.text else lines)


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(" ".join(text.split())) if s.strip()]


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _undouble(item: str) -> str:
    """An item repeated once more right after itself ("Genetics. Many ... Genetics. Many ...") -> once."""
    words = item.split()
    half = len(words) // 2
    if (
        len(words) >= 2
        and len(words) % 2 == 0
        and _words(" ".join(words[:half])) == _words(" ".join(words[half:]))
    ):
        return " ".join(words[:half])
    return item


def _drop_repeat(tail: str, items: list[str]) -> tuple[str, str] | None:
    """MedQuAD's NIHSeniorHealth pages follow a list with all its items again, joined by spaces:
    "... - c. a b c. Next". Returns (last item, text after the repeat) when `tail` holds such a repeat."""
    if not items:
        return None
    first = _words(items[0])
    tokens = tail.split()
    words: list[str] = []
    owner: list[int] = []  # token index of each word
    for t, token in enumerate(tokens):
        for w in _words(token):
            words.append(w)
            owner.append(t)
    for start in range(1, len(words)):
        if words[start : start + len(first)] != first or owner[start] == owner[start - 1]:
            continue
        last = " ".join(tokens[: owner[start]])
        flat = [w for item in [*items, last] for w in _words(item)]
        matched = 0
        while (
            matched < len(flat) and start + matched < len(words) and words[start + matched] == flat[matched]
        ):
            matched += 1
        if matched >= 0.6 * len(flat):
            end = start + matched
            return last, " ".join(tokens[owner[end - 1] + 1 :])
    return None


def _cut(part: str, n_sentences: int) -> tuple[str, list[str]]:
    """An item that runs into the text after it: its first `n_sentences` sentences, and the rest."""
    pieces = sentences(part)
    return " ".join(pieces[:n_sentences]), pieces[n_sentences:]


def blocks(text: str) -> list[Block]:
    """Flattened text as plain blocks and lists; a list needs at least two " - " items. An item that
    runs on longer than the list's typical item ends where they do; the rest is plain text again (its last
    sentence leads the next list when one follows)."""
    parts = _DASH.split(" ".join(text.split()))
    if len(parts) < 3:
        return [Block(" ".join(text.split()))] if text.strip() else []
    lead_sentences = sentences(parts[0])
    out: list[Block] = [Block(" ".join(lead_sentences[:-1]))] if len(lead_sentences) > 1 else []
    lead = lead_sentences[-1] if lead_sentences else ""
    parts = [_undouble(p) for p in parts[1:]]
    typical = max(1, int(statistics.median(len(sentences(p)) or 1 for p in parts[:-1])))
    items: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        repeat = _drop_repeat(part, items)
        if repeat is not None:
            item, rest = repeat[0], sentences(repeat[1])
        elif len(sentences(part)) > typical + (0 if last else 1):
            item, rest = _cut(part, typical)
        else:
            item, rest = part, []
        items.append(_undouble(item.strip()))
        if rest:
            plain = rest if last else rest[:-1]
            if len(items) >= 2:
                out.append(Block(lead, tuple(items)))
            else:
                out.append(Block(" ".join(filter(None, [lead, *items]))))
            if plain:
                out.append(Block(" ".join(plain)))
            lead, items = ("" if last else rest[-1]), []
    if len(items) >= 2:
        out.append(Block(lead, tuple(items)))
    elif items or lead:
        out.append(Block(" ".join(filter(None, [lead, *items]))))
    return [b for b in out if b.text or b.items]


def restore_lists(text: str) -> str:
    """Flattened lists back on their own lines ("lead\\n- a\\n- b"), repeats dropped; paragraphs kept."""
    out = []
    for paragraph in text.split("\n"):
        out.append("\n".join(b.render() for b in blocks(paragraph)) if paragraph.strip() else "")
    return "\n".join(out).strip()
