"""sources.py builds fine-tuning examples from the built-in medical data and from chat feedback.

MedQuAD Q&A, MedQuAD RAG-aware examples (gold passage + distractors -> answer citing [n]), PubMedQA
(never its 500 test ids), MedSafetyBench safe responses, and answers users rated up. One MedQuAD page in
20 is held out for evaluation. `load_source` also accepts dataset files (see training/datasets.py).
"""

from __future__ import annotations

import csv
import functools
import gzip
import hashlib
import json
import random
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medgemma.chat.feedback import good_examples
from medgemma.chat.prompts import build
from medgemma.config import Settings
from medgemma.errors import DatasetError
from medgemma.training.datasets import Example, load_file
from medgemma.types import Chunk, Hit

BUILTINS = (
    "medquad",
    "medquad-rag",
    "pubmedqa",
    "medsafetybench",
    "feedback",
    # training/reference.py: what the shipped cited-answer adapter learns beyond one gold passage
    "medquad-rag-hard",
    "medquad-unanswerable",
    "personal-rag",
    "guard-refusals",
)
HELDOUT_EVERY = 20  # one MedQuAD page in 20 is held out of training (see is_heldout_medquad)


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def parse_spec(spec: str) -> tuple[str, int]:
    """'medquad-rag:2000' -> ('medquad-rag', 2000); a file path -> (path, 0)."""
    head, sep, tail = spec.strip().rpartition(":")
    if sep and head and tail.isdigit():
        return head.strip(), int(tail)
    return spec.strip(), 0


def is_builtin(name: str) -> bool:
    """A built-in source name; a trailing '?' marks it optional ("feedback?": skipped when empty)."""
    return name.removesuffix("?") in BUILTINS


def is_heldout_medquad(url: str) -> bool:
    """MedQuAD pages kept out of training so evaluation can use their questions (1 page in 20)."""
    return int(hashlib.sha1(url.encode("utf-8")).hexdigest(), 16) % HELDOUT_EVERY == 0


def load_source(
    spec: str,
    settings: Settings,
    mapping: dict[str, str] | None = None,
    seed: int = 0,
    skip_invalid: bool = False,
) -> list[Example]:
    """Examples from a built-in source name (optionally ':N' limited) or a JSON/JSONL/CSV file."""
    name, limit = parse_spec(spec)
    optional = name.endswith("?")  # "feedback?": use it when there is some, skip it quietly otherwise
    name = name.removesuffix("?")
    rng = random.Random(seed)
    if not is_builtin(name):
        examples = load_file(name, mapping, skip_invalid)
    else:
        from medgemma.training.reference import BUILDERS

        builders = {
            **BUILDERS,
            "medquad": _medquad,
            "medquad-rag": _medquad_rag,
            "pubmedqa": _pubmedqa,
            "medsafetybench": _medsafety,
            "feedback": _feedback,
        }
        examples = builders[name](settings, rng, limit)
        if not examples and optional:
            return []
        if not examples:
            hint = " No chat answer has been rated thumbs-up yet." if name == "feedback" else ""
            raise DatasetError(f"Built-in source '{name}' produced no examples.{hint}")
    if limit and len(examples) > limit:
        examples = rng.sample(examples, limit)
    return examples


def _data_file(settings: Settings, *parts: str) -> Path:
    if settings.data_path is None or not settings.data_path.joinpath(*parts).is_file():
        raise DatasetError(
            f"The shared medical data file {'/'.join(parts)} is not available "
            "(set MEDGEMMA_DATA_DIR to the folder holding it)."
        )
    return settings.data_path.joinpath(*parts)


def medquad_records(settings: Settings, heldout: bool = False) -> list[dict[str, Any]]:
    """MedQuAD answered pairs from the training pages (or, with heldout=True, the held-out pages)."""
    records = _read_medquad(str(_data_file(settings, "corpus", "medquad_answered.jsonl.gz")))
    return [r for r in records if is_heldout_medquad(r.get("url", "")) == heldout]


@functools.lru_cache(maxsize=2)
def _read_medquad(path: str) -> tuple[dict[str, Any], ...]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        records = (json.loads(line) for line in fh if line.strip())
        return tuple(r for r in records if r.get("question") and r.get("answer"))


def _sample(items: list, rng: random.Random, limit: int) -> list:
    return rng.sample(items, limit) if limit and len(items) > limit else items


def _clean(text: str) -> str:
    return " ".join(str(text).split())


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")


def sentences(text: str) -> list[str]:
    return [s for s in _SENTENCE.split(_clean(text)) if s]


def clip(text: str, max_chars: int) -> str:
    """Whole sentences up to max_chars (at least one sentence, cut at a word if that is too long)."""
    out: list[str] = []
    for s in sentences(text):
        if out and len(" ".join(out)) + len(s) + 1 > max_chars:
            break
        out.append(s)
    joined = " ".join(out)
    return joined if len(joined) <= max_chars else joined[:max_chars].rsplit(" ", 1)[0] + " ..."


def answer_text(text: str, max_chars: int) -> str:
    """A reference answer: whole sentences, without the question the page repeats before answering."""
    return clip(" ".join(s for s in sentences(text) if not s.endswith("?")) or text, max_chars)


def cite(text: str, n: int) -> str:
    """Put [n] at the end of every sentence (before its final punctuation)."""
    return " ".join(
        re.sub(r"([.!?])?$", lambda m: f" [{n}]{m.group(1) or '.'}", s, count=1) for s in sentences(text)
    )


def _medquad(settings: Settings, rng: random.Random, limit: int = 0) -> list[Example]:
    return [
        Example(tuple(build(r["question"], []).messages), answer_text(r["answer"], 900), "medquad")
        for r in _sample(medquad_records(settings), rng, limit)
    ]


def _hit(doc_id: str, text: str, title: str, url: str = "", source: str = "") -> Hit:
    return Hit(
        chunk=Chunk(chunk_id=f"{doc_id}#0", doc_id=doc_id, text=text, title=title, url=url, source=source),
        score=1.0,
    )


def rag_example(
    question: str,
    answer: str,
    gold: Hit,
    distractors: Sequence[Hit],
    rng: random.Random,
    answer_chars: int = 400,
    source: str = "rag",
) -> Example:
    """Question + numbered passages (gold at a random position) -> a short answer citing the gold [n]."""
    hits = list(distractors)
    position = rng.randrange(len(hits) + 1)
    hits.insert(position, gold)
    return Example(
        tuple(build(question, hits).messages), cite(answer_text(answer, answer_chars), position + 1), source
    )


def _medquad_rag(settings: Settings, rng: random.Random, limit: int = 0, k: int = 3) -> list[Example]:
    records = medquad_records(settings)
    examples = []
    for r in _sample(records, rng, limit):
        gold = _hit(
            r["qid"], clip(r["answer"], 700), r.get("focus", ""), r.get("url", ""), r.get("source", "")
        )
        others = []
        while len(others) < k - 1:
            o = records[rng.randrange(len(records))]
            if o.get("url") != r.get("url"):
                others.append(_hit(o["qid"], clip(o["answer"], 700), o.get("focus", ""), o.get("url", "")))
        examples.append(rag_example(r["question"], gold.chunk.text, gold, others, rng, source="medquad-rag"))
    return examples


def pubmedqa_train_ids(settings: Settings) -> list[str]:
    """PubMedQA PQA-L ids that are not among the 500 test ids."""
    data = json.loads(_data_file(settings, "benchmarks", "ori_pqal.json").read_text(encoding="utf-8"))
    test = set(
        json.loads(_data_file(settings, "benchmarks", "test_ground_truth.json").read_text(encoding="utf-8"))
    )
    return [pmid for pmid in data if pmid not in test]


def _pubmedqa(settings: Settings, rng: random.Random, limit: int = 0) -> list[Example]:
    data = json.loads(_data_file(settings, "benchmarks", "ori_pqal.json").read_text(encoding="utf-8"))
    examples = []
    for pmid in pubmedqa_train_ids(settings):
        r = data[pmid]
        contexts = [c for c in r.get("CONTEXTS", []) if c.strip()]
        if not contexts or not r.get("LONG_ANSWER"):
            continue
        url = f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"
        hits = [
            _hit(f"pmid{pmid}-{i}", clip(c, 700), f"PubMed {pmid}", url, "pubmed")
            for i, c in enumerate(contexts[:3])
        ]
        words = set(re.findall(r"\w+", r["LONG_ANSWER"].lower()))
        best = max(
            range(len(hits)), key=lambda i: len(words & set(re.findall(r"\w+", hits[i].chunk.text.lower())))
        )
        answer = f"{r['final_decision'].capitalize()}. {cite(clip(r['LONG_ANSWER'], 400), best + 1)}"
        examples.append(Example(tuple(build(r["QUESTION"], hits).messages), answer, "pubmedqa"))
    return examples


def _medsafety(settings: Settings, rng: random.Random, limit: int = 0) -> list[Example]:
    path = _data_file(settings, "safety", "medsafetybench_train.csv")
    rows = list(csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines()))
    return [
        Example(
            tuple(build(r["harmful_medical_request"], []).messages),
            _clean(r["safe_response"]),
            "medsafetybench",
        )
        for r in rows
        if r.get("harmful_medical_request") and r.get("safe_response")
    ]


def _feedback(settings: Settings, rng: random.Random, limit: int = 0) -> list[Example]:
    """Chat answers rated 'up'. With stored passages they train as RAG examples; without them the [n]
    markers are removed, so the model never learns to cite sources it was not shown."""

    examples = []
    for r in good_examples(settings):
        question, answer = _text(r.get("question")), _text(r.get("answer"))
        hits = [
            _hit(str(p.get("doc_id", i)), _text(p.get("text")), _text(p.get("title")), _text(p.get("url")))
            for i, p in enumerate(r.get("passages") or [])
            if isinstance(p, dict) and p.get("text")
        ]
        if not hits:
            answer = re.sub(r"\s*\[\d+\]", "", answer)
        examples.append(Example(tuple(build(question, hits).messages), answer, "feedback"))
    return examples
