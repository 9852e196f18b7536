"""Topics: pages that share a title are one condition written up by several sites (restless legs on
MedlinePlus, NHLBI, NINDS, GHR and GARD). Hybrid search ranks a topic's pages together, so a page found
on one site brings the same condition's pages on the others along (`retrieve.fuse_pages`).

A title's topic key is loose on purpose: lower case, stemmed words, possessives, parentheses and
brochure prefixes dropped ("Parkinson's Disease" = "Parkinson disease", "Tuberculosis (TB)" =
"Tuberculosis", "What I need to know about Hepatitis A" = "Hepatitis A", "Thalassemias" = "Thalassemia",
"Interstitial Cystitis/Painful Bladder Syndrome" = "Interstitial Cystitis"). Keys of one or two letters,
and titles that only name a file, are no topic.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import lru_cache

from medgemma.types import Chunk

_PREFIXES = re.compile(
    r"^(?:what (?:i|you) need to know about|parasites\s*-|questions and answers about|facts about)\s+"
)
_PARENS = re.compile(r"\([^)]*\)")
_POSSESSIVE = re.compile(r"['\u2019]s\b|['\u2019]")
_NON_WORD = re.compile(r"[^a-z0-9]+")
_FILE = re.compile(r"\.(?:pdf|txt|md|markdown|json|jsonl|csv|xml|html?)$")
_lock = threading.Lock()


@lru_cache(maxsize=1)
def _stem():
    try:
        import Stemmer

        return Stemmer.Stemmer("english").stemWord
    except ImportError:  # PyStemmer is in requirements.txt; without it keys match unstemmed words
        return lambda word: word


@lru_cache(maxsize=65536)
def topic_key(title: str) -> str:
    """The topic a page title names, compared loosely ('' when the title names none)."""
    text = " ".join(title.lower().split())
    if not text or _FILE.search(text):
        return ""
    text = _PREFIXES.sub("", text)
    text = re.split(r"[/:]", text, maxsplit=1)[0]
    text = _PARENS.sub(" ", text)
    text = _POSSESSIVE.sub("", text)
    words = _NON_WORD.sub(" ", text).split()
    with _lock:  # PyStemmer objects are not thread-safe
        key = " ".join(_stem()(w) for w in words)
    return key if len(key) > 2 else ""


def page_key(chunk: Chunk) -> str:
    """The page a chunk belongs to (its URL, else its document)."""
    return chunk.url or chunk.doc_id


class TopicIndex:
    """For each topic key, the pages that carry it and each page's rows (built once per snapshot; the
    PostgreSQL store adds the rows committed since its last search with `add`)."""

    def __init__(self, chunks: Sequence[Chunk] = ()) -> None:
        self.key_of_page: dict[str, str] = {}
        self.rows_of_page: dict[str, list[int]] = {}
        self.pages_of_key: dict[str, list[str]] = {}
        for row, chunk in enumerate(chunks):
            self.add(row, page_key(chunk), chunk.title)

    def add(self, row: int, page: str, title: str) -> None:
        """One more row of a page (rows of one page in any order; the page's first title sets its topic)."""
        self.rows_of_page.setdefault(page, []).append(row)
        if page not in self.key_of_page:
            key = self.key_of_page[page] = topic_key(title)
            if key:
                self.pages_of_key.setdefault(key, []).append(page)

    def siblings(self, page: str) -> list[str]:
        """The other pages of this page's topic (none when its title names no topic)."""
        key = self.key_of_page.get(page, "")
        return [p for p in self.pages_of_key.get(key, ()) if p != page] if key else []
