"""chunking.py cuts Documents into token-bounded, overlapping Chunks along sentence boundaries.

Token counts come from a counting function (the embedding model's tokenizer in production);
chunk ids are stable hashes of their content. It knows nothing about embeddings or indexes.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from medgemma.types import Chunk, Document

TokenCounter = Callable[[Sequence[str]], list[int]]

CHUNK_TOKENS = 200  # fits MiniLM's 256-token window with the title prefix added for embedding
OVERLAP_TOKENS = 40

_SPACES = re.compile(r"[ \t\f\v\u00a0]+")
_BLANKS = re.compile(r"\n\s*\n+")
# End of a sentence: . ! ? (optionally followed by a closing quote/bracket) then space and a capital,
# digit, quote or bracket. Bullet markers and line breaks are boundaries too.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[A-Z0-9\"'(\[])")
_BULLET = re.compile(r"\s+-\s+(?=\S)")


def normalize_text(text: str) -> str:
    """Collapse runs of spaces, keep paragraph breaks, strip the ends."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", line).strip() for line in text.split("\n")]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()


def split_sentences(text: str) -> list[str]:
    """Split text into sentences and list items; never returns empty strings."""
    out: list[str] = []
    for block in normalize_text(text).split("\n"):
        block = block.strip()
        if not block:
            continue
        for piece in _BULLET.split(block):
            for sentence in _SENTENCE_END.split(piece):
                sentence = sentence.strip()
                if sentence and sentence != "-":
                    out.append(sentence)
    return out


def word_counter(texts: Sequence[str]) -> list[int]:
    """A tokenizer-free counter (whitespace words); the index uses the embedding tokenizer instead."""
    return [len(t.split()) for t in texts]


def tokenizer_counter(tokenizer) -> TokenCounter:
    """Count tokens with a Hugging Face tokenizer (batched, without special tokens)."""

    def count(texts: Sequence[str]) -> list[int]:
        if not texts:
            return []
        ids = tokenizer(list(texts), add_special_tokens=False, truncation=False)["input_ids"]
        return [len(x) for x in ids]

    return count


def chunk_id(doc_id: str, page: int | None, section: str, text: str) -> str:
    """A 16-hex id that depends only on where the passage comes from and what it says."""
    key = "\x1f".join([doc_id, str(page or ""), section, text])
    return hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class Chunker:
    """Packs sentences into chunks of at most `max_tokens`, repeating up to `overlap_tokens` of
    trailing sentences at the start of the next chunk."""

    count: TokenCounter = word_counter
    max_tokens: int = CHUNK_TOKENS
    overlap_tokens: int = OVERLAP_TOKENS

    def _pieces(self, text: str) -> list[tuple[str, int]]:
        sentences = split_sentences(text)
        counts = self.count(sentences)
        pieces: list[tuple[str, int]] = []
        for sentence, n in zip(sentences, counts, strict=False):
            if n <= self.max_tokens:
                pieces.append((sentence, n))
                continue
            # A sentence longer than a chunk (tables, run-on lists): cut it into word windows.
            words = sentence.split()
            per = max(1, int(len(words) * self.max_tokens / max(n, 1) * 0.9))
            windows = [" ".join(words[i : i + per]) for i in range(0, len(words), per)]
            pieces.extend(zip(windows, self.count(windows), strict=False))
        return pieces

    def split(self, text: str) -> list[str]:
        """The chunk texts for one passage of text."""
        pieces = self._pieces(text)
        chunks: list[str] = []
        current: list[tuple[str, int]] = []
        size = 0
        for piece, n in pieces:
            if current and size + n > self.max_tokens:
                chunks.append(" ".join(p for p, _ in current))
                overlap: list[tuple[str, int]] = []
                kept = 0
                for prev, m in reversed(current):
                    if kept + m > self.overlap_tokens or kept + m + n > self.max_tokens:
                        break
                    overlap.insert(0, (prev, m))
                    kept += m
                # Never repeat the whole previous chunk: that would not advance.
                if len(overlap) == len(current):
                    overlap = overlap[1:]
                    kept = sum(m for _, m in overlap)
                current, size = overlap, kept
            current.append((piece, n))
            size += n
        if current:
            chunks.append(" ".join(p for p, _ in current))
        return chunks

    def chunk(self, doc: Document) -> list[Chunk]:
        """Chunks of one Document, carrying its id, title, source, URL, page and section."""
        out: list[Chunk] = []
        seen: set[str] = set()
        for text in self.split(doc.text):
            cid = chunk_id(doc.doc_id, doc.page, doc.section, text)
            if cid in seen:
                continue
            seen.add(cid)
            out.append(
                Chunk(
                    chunk_id=cid,
                    doc_id=doc.doc_id,
                    text=text,
                    title=doc.title,
                    source=doc.source,
                    url=doc.url,
                    page=doc.page,
                    section=doc.section,
                )
            )
        return out


def chunk_documents(docs: Iterable[Document], chunker: Chunker) -> list[Chunk]:
    """All chunks of several Documents, in order, without repeated ids."""
    out: list[Chunk] = []
    seen: set[str] = set()
    for doc in docs:
        for c in chunker.chunk(doc):
            if c.chunk_id not in seen:
                seen.add(c.chunk_id)
                out.append(c)
    return out


def embedding_text(chunk: Chunk) -> str:
    """What the retrieval legs see: the passage with its title and section heading in front."""
    head = chunk.title
    if chunk.section and chunk.section.lower() != chunk.title.lower():
        head = f"{head} - {chunk.section}" if head else chunk.section
    return f"{head}\n{chunk.text}" if head else chunk.text
