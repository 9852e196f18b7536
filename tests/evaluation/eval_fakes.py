"""Collaborators for the evaluation tests, behind the interfaces the runner uses: a TF-IDF retriever, a
word-overlap model, an extractive predictor, a keyword guard, and held-out MedQuAD rows to ask about.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter

from medgemma.evaluation import suites as es
from medgemma.evaluation.predictors import (
    Prediction,
)
from medgemma.types import Chunk, Hit

_WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


class TfidfSearch:
    """A tiny lexical search over real MedQuAD pages (one chunk per answer)."""

    def __init__(self, rows):
        self.chunks = [
            Chunk(chunk_id=f"c{i}", doc_id=r["url"], text=r["answer"], title=r.get("focus", ""), url=r["url"])
            for i, r in enumerate(rows)
        ]
        self.tfs = [Counter(words(c.title + " " + c.text)) for c in self.chunks]
        df = Counter(w for tf in self.tfs for w in tf)
        self.idf = {w: math.log(len(self.tfs) / n) for w, n in df.items()}
        self.queries: list[str] = []

    def __call__(self, query: str, k: int) -> list[Hit]:
        self.queries.append(query)
        q = set(words(query))
        scores = [
            sum(self.idf.get(w, 0) * (1 + math.log(tf[w])) for w in q if w in tf)
            / math.sqrt(sum(tf.values()))
            for tf in self.tfs
        ]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])[:k]
        return [Hit(chunk=self.chunks[i], score=scores[i], rank=r) for r, i in enumerate(order, 1)]


class OverlapBackend:
    """Stands in for a model through the Backend interface: picks the option sharing most words with
    the prompt's question and passages, and streams "<letter>. <option>" token by token."""

    name, adapter = "overlap", ""

    class spec:  # noqa: N801 - mirrors ModelSpec's attribute
        name = "overlap-baseline"

    def __init__(self):
        self.prompts: list[str] = []

    def render(self, messages):
        return "".join(f"<{m['role']}>\n{m['content']}\n" for m in messages) + "<assistant>\n"

    def count_tokens(self, text):
        return len(text.split())

    def stream(self, prompt, params, stats=None, stop_event=None):
        self.prompts.append(prompt)
        body, _, options = prompt.partition("Options:\n")
        context = set(words(body))
        best = max(
            (line for line in options.splitlines() if re.match(r"^[A-Z]\. ", line)),
            key=lambda line: len(context & set(words(line[3:]))),
            default="A. ?",
        )
        pieces = f" {best[0]}. {best[3:]}".split(" ")
        if stats is not None:
            stats.ttft_s, stats.total_s, stats.tokens = 0.01, 0.02, len(pieces)
        for piece in pieces:
            yield piece + " "


class ExtractivePredictor:
    """Answers with the first two sentences of the best retrieved passage."""

    name = "extractive"

    def __init__(self, search):
        self.search = search

    def predict(self, example):
        hits = self.search(example.question, 3)
        sentences = re.split(r"(?<=[.!?])\s+", " ".join(hits[0].chunk.text.split())) if hits else [""]
        return Prediction(
            text=" ".join(sentences[:2]),
            latency_s=0.01,
            ttft_s=0.005,
            tokens=40,
            tok_per_s=20.0,
            passages=[h.chunk.chunk_id for h in hits],
        )


def keyword_guard(text: str) -> str:
    low = text.lower()
    if any(w in low for w in ("can't breathe", "chest pain", "overdose")):
        return "emergency"
    if any(w in low for w in ("poison", "kill a person", "fake prescription")):
        return "harmful"
    if re.search(r"\b(my|i)\b.*\b(dose|take)\b", low):
        return "personal_advice"
    return "allowed"


def heldout_rows(settings, n=40):
    held = es.medquad_eval_urls(settings)
    rows = [r for r in es.read_jsonl(es.data_file(settings, es.MEDQUAD_FILE)) if r["url"] in held]
    return rows[:n]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


# ---------------------------------------------------------------- runner
