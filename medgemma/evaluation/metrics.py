"""metrics.py owns the evaluation metrics as pure functions over plain Python values.

Text overlap (SQuAD exact match / token F1, sacrebleu BLEU, rouge_score ROUGE), multiple-choice letter
extraction, retrieval ranking, citation support, the safety confusion matrix and latency percentiles.
It knows nothing about models, suites or files.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

# ---------------------------------------------------------------- text overlap (SQuAD v1.1 rules)
_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = set(string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalization: lower case, drop punctuation and articles, collapse whitespace."""
    text = "".join(ch for ch in text.lower() if ch not in _PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


def _as_list(references: str | Sequence[str]) -> list[str]:
    return [references] if isinstance(references, str) else list(references)


def exact_match(prediction: str, references: str | Sequence[str]) -> float:
    """1.0 when the normalized prediction equals any normalized reference, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(r) for r in _as_list(references)))


def _f1(pred_tokens: list[str], ref_tokens: list[str]) -> float:
    if not pred_tokens or not ref_tokens:
        return float(pred_tokens == ref_tokens)
    common = sum((Counter(pred_tokens) & Counter(ref_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(ref_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: str | Sequence[str]) -> float:
    """SQuAD token F1 over normalized whitespace tokens; the best reference counts."""
    pred = normalize_answer(prediction).split()
    return max(_f1(pred, normalize_answer(r).split()) for r in _as_list(references))


def corpus_bleu(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> float:
    """Corpus BLEU (0-100) with sacrebleu's defaults (13a tokenizer, exp smoothing).

    `references[i]` is the reference (or list of references) of `predictions[i]`.
    """
    import sacrebleu

    refs = [_as_list(r) for r in references]
    width = max((len(r) for r in refs), default=1)
    streams = [[r[j] if j < len(r) else "" for r in refs] for j in range(width)]
    return float(sacrebleu.corpus_bleu(list(predictions), streams).score)


def sentence_bleu(prediction: str, references: str | Sequence[str]) -> float:
    """Sentence BLEU (0-100) with sacrebleu's defaults; per-example only, report corpus BLEU."""
    import sacrebleu

    return float(sacrebleu.sentence_bleu(prediction, _as_list(references)).score)


@lru_cache(maxsize=2)
def _rouge_scorer(use_stemmer: bool) -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=use_stemmer)


def rouge(prediction: str, references: str | Sequence[str], use_stemmer: bool = False) -> dict[str, float]:
    """ROUGE-1/2/L F-measures via rouge_score (its default tokenizer; no stemming, as HF `evaluate`).

    With several references each score is the best over references (rouge_score's `score_multi`).
    """
    scores = _rouge_scorer(use_stemmer).score_multi(_as_list(references), prediction)
    return {name: float(s.fmeasure) for name, s in scores.items()}


# ---------------------------------------------------------------- multiple choice
_TOKEN = r"(?P<open>[(\[])?(?P<letter>[A-Za-z])(?P<close>[)\]])?(?![A-Za-z0-9'])"
_EXPLICIT = re.compile(
    r"\banswer\W{0,4}(?:(?:is|would\s+be|will\s+be|should\s+be)\W{0,4})?(?:(?:option|choice)\W{0,3})?"
    + _TOKEN,
    re.I,
)
_OPTION_WORD = re.compile(r"\b(?:option|choice)\b\W{0,3}" + _TOKEN, re.I)
_LEADING = re.compile(r"^\W{0,3}" + _TOKEN)
_ANY_TOKEN = re.compile(r"(?<![A-Za-z0-9'])" + _TOKEN)


def _letter_ok(text: str, m: re.Match, upper_only: bool = False) -> bool:
    """Is this letter meant as an option letter rather than a word ("a rare", "A patient")?"""
    letter, rest = m.group("letter"), text[m.end() :]
    if m.group("open") and m.group("close"):
        return True
    if upper_only and not letter.isupper():
        return False
    if not rest.strip() or rest[0] in ".):,;!?\n*":
        return True
    if not letter.isupper():
        return False
    nxt = rest.lstrip()[:1]
    return letter not in "AI" or not nxt.islower()


def _option_text_match(text: str, options: Mapping[str, str]) -> str | None:
    """The option whose normalized text occurs earliest in the reply (longer texts win ties)."""
    norm = f" {normalize_answer(text)} "
    best: tuple[int, int, str] | None = None
    for letter, option in options.items():
        opt = normalize_answer(str(option))
        if not opt:
            continue
        pos = norm.find(f" {opt} ")
        if pos >= 0 and (best is None or (pos, -len(opt)) < (best[0], best[1])):
            best = (pos, -len(opt), letter)
    return best[2] if best else None


def extract_choice(text: str, options: Mapping[str, str] | Sequence[str]) -> str | None:
    """The option letter a free-text reply picks, or None.

    Tries, in order: an explicit "the answer is B" / "Answer: (b)" / "option C"; a letter opening the
    reply ("B.", "(b)", "C)"); a parenthesized letter anywhere; the text of an option ("Yes, ...",
    "paralysis of the facial muscles"), earliest first; a stand-alone capital letter ("I pick D").
    Letters that read as words ("a rare disease", "A patient") are not taken.
    """
    letters = {k.upper() for k in (options.keys() if isinstance(options, Mapping) else options)}
    if not text or not letters:
        return None

    def first(matches: Iterable[re.Match], upper_only: bool = False, need_parens: bool = False) -> str | None:
        for m in matches:
            letter = m.group("letter").upper()
            if need_parens and not (m.group("open") and m.group("close")):
                continue
            if letter in letters and _letter_ok(text, m, upper_only):
                return letter
        return None

    found = (
        first(_EXPLICIT.finditer(text))
        or first(_OPTION_WORD.finditer(text))
        or first(filter(None, [_LEADING.match(text)]))
        or first(_ANY_TOKEN.finditer(text), need_parens=True)
    )
    if found:
        return found
    if isinstance(options, Mapping) and (
        found := _option_text_match(text, {k.upper(): v for k, v in options.items()})
    ):
        return found
    return first(_ANY_TOKEN.finditer(text), upper_only=True)


def accuracy(predicted: Sequence[Any], gold: Sequence[Any]) -> float:
    """Share of positions where predicted equals gold (None never matches)."""
    if len(predicted) != len(gold):
        raise ValueError("predicted and gold differ in length")
    if not gold:
        return 0.0
    return sum(p is not None and p == g for p, g in zip(predicted, gold, strict=True)) / len(gold)


# ---------------------------------------------------------------- retrieval
def _dedupe(ranked: Iterable[str]) -> list[str]:
    """Keep the first occurrence of each id (several chunks of one document count once)."""
    seen: set[str] = set()
    return [x for x in ranked if not (x in seen or seen.add(x))]


def recall_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Share of the distinct relevant ids found among the first k distinct ranked ids:
    |relevant & top k| / |relevant|. Entries of one id (chunks of one page) count once, and so do repeated
    relevant ids; with one relevant id it equals hit_at_k, with several it is at most k / |relevant|."""
    rel = set(relevant)
    if not rel:
        return 0.0
    return len(rel & set(_dedupe(ranked)[:k])) / len(rel)


def hit_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """1.0 when any relevant id is among the first k distinct ranked ids (success@k)."""
    return float(bool(set(relevant) & set(_dedupe(ranked)[:k])))


def reciprocal_rank(ranked: Sequence[str], relevant: Iterable[str], k: int | None = None) -> float:
    """1 / rank of the first relevant id among distinct ranked ids (0 if none within k)."""
    rel = set(relevant)
    for i, doc in enumerate(_dedupe(ranked)[:k], start=1):
        if doc in rel:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[str], relevant: Iterable[str], k: int) -> float:
    """Binary-gain nDCG@k: sum 1/log2(rank+1) over relevant hits, over the ideal ordering."""
    rel = set(relevant)
    if not rel:
        return 0.0
    dcg = sum(1.0 / math.log2(i + 1) for i, doc in enumerate(_dedupe(ranked)[:k], start=1) if doc in rel)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(rel), k) + 1))
    return dcg / ideal


# ---------------------------------------------------------------- citations
def citation_rate(valid_citation_counts: Sequence[int]) -> float:
    """Share of answers with at least one valid citation."""
    if not valid_citation_counts:
        return 0.0
    return sum(1 for n in valid_citation_counts if n > 0) / len(valid_citation_counts)


def supported_sentence_rate(per_answer: Sequence[tuple[int, int]]) -> float:
    """Share of all answer sentences (pooled over answers) that the verifier marked supported, from each
    answer's (supported sentences, sentences)."""
    total = sum(n for _, n in per_answer)
    return sum(s for s, _ in per_answer) / total if total else 0.0


# ---------------------------------------------------------------- safety
def confusion_matrix(
    expected: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> dict[str, Any]:
    """{"labels": [...], "matrix": rows = expected label, columns = predicted label}."""
    if len(expected) != len(predicted):
        raise ValueError("expected and predicted differ in length")
    labels = list(labels) if labels else sorted(set(expected) | set(predicted))
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for e, p in zip(expected, predicted, strict=True):
        if e not in index or p not in index:
            raise ValueError(f"label {e if e not in index else p!r} is not in {labels}")
        matrix[index[e]][index[p]] += 1
    return {"labels": labels, "matrix": matrix}


def per_label_scores(confusion: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each label from a `confusion_matrix` result."""
    labels, m = confusion["labels"], confusion["matrix"]
    out: dict[str, dict[str, float]] = {}
    for i, label in enumerate(labels):
        tp = m[i][i]
        predicted = sum(row[i] for row in m)
        support = sum(m[i])
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[label] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return out


# ---------------------------------------------------------------- latency
def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation (numpy's default method)."""
    data = sorted(values)
    if not data:
        return 0.0
    pos = (len(data) - 1) * q / 100.0
    lo, hi = math.floor(pos), math.ceil(pos)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def latency_summary(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """p50/p95/mean of total latency and TTFT (seconds) and p50/mean decode tok/s.

    `records` carry `latency_s` and optionally `ttft_s` and `tok_per_s`; zeros/missing are skipped.
    """
    out: dict[str, float] = {}
    for key, name, qs in (
        ("latency_s", "latency", (50, 95)),
        ("ttft_s", "ttft", (50, 95)),
        ("tok_per_s", "tok_per_s", (50,)),
    ):
        vals = [float(r[key]) for r in records if r.get(key)]
        if not vals:
            continue
        for q in qs:
            out[f"{name}_p{q}" + ("_s" if key != "tok_per_s" else "")] = percentile(vals, q)
        out[f"{name}_mean" + ("_s" if key != "tok_per_s" else "")] = sum(vals) / len(vals)
    return out


def mean(values: Iterable[float]) -> float:
    vals = [float(v) for v in values]
    return sum(vals) / len(vals) if vals else 0.0
