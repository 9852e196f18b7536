"""lexical.py holds what makes the keyword side of a build fast: token counts for chunking memoised per word.

A WordPiece tokenizer (MiniLM's, mpnet's) splits on whitespace before anything else, so a sentence's
token count is the sum of its words' counts: each distinct word is tokenized once per build instead of
every sentence (the MedQuAD starter: ~74,000 distinct words in ~143,000 sentences). Other tokenizers
count whole texts. It knows nothing about indexes or ranking.
"""

from __future__ import annotations

from collections.abc import Sequence

from medgemma.knowledge.chunking import TokenCounter, tokenizer_counter


def splits_on_whitespace(tokenizer) -> bool:
    """Whether the tokenizer's pre-tokenizer (BERT's) never lets a token cross a space."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    pre = getattr(backend, "pre_tokenizer", None)
    return type(pre).__name__ in ("BertPreTokenizer", "WhitespaceSplit", "Whitespace")


class WordCounts:
    """A TokenCounter that tokenizes each distinct word once (exact for whitespace-splitting tokenizers)."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer
        self.known: dict[str, int] = {}

    def __call__(self, texts: Sequence[str]) -> list[int]:
        words = [t.split() for t in texts]
        missing = list({w for ws in words for w in ws if w not in self.known})
        if missing:
            ids = self.tokenizer(missing, add_special_tokens=False, truncation=False)["input_ids"]
            self.known.update(zip(missing, map(len, ids), strict=True))
        return [sum(self.known[w] for w in ws) for ws in words]


def token_counter(tokenizer) -> TokenCounter:
    """The fastest exact token counter for this tokenizer."""
    return WordCounts(tokenizer) if splits_on_whitespace(tokenizer) else tokenizer_counter(tokenizer)
