"""reference.py builds the examples that teach the cited-answer adapter what the chat asks of it beyond
one gold passage: pick the passage that answers among sections of the same page, say "I don't know" in
one sentence when no passage answers, keep an asker's personal question general, and decline a harmful
request in the guard's own words. Only MedQuAD's training pages are used (see sources.is_heldout_medquad).
"""

from __future__ import annotations

import random
from collections import defaultdict
from typing import Any

from medgemma.chat.abstain import MODEL_ABSTAIN
from medgemma.chat.prompts import build
from medgemma.chat.quotes import BOILERPLATE
from medgemma.config import Settings
from medgemma.safety.guard import emergency_number
from medgemma.safety.responses import refusal_text
from medgemma.training.datasets import Example
from medgemma.training.sources import (
    _data_file,
    _hit,
    answer_text,
    clip,
    medquad_records,
    rag_example,
    sentences,
)
from medgemma.types import Hit, Verdict

# Sections that often cover every other question about a page; never used as "does not answer".
_BROAD = frozenset({"information", "considerations", "research", "support groups"})
# Personal phrasings of a MedQuAD question type (the answer stays the general, cited one).
PERSONAL = {
    "treatment": (
        "I was just diagnosed with {f}. What should I do about it?",
        "My son has {f}. What treatment does he need?",
        "My doctor says I have {f}; which treatment is right for me?",
    ),
    "symptoms": (
        "I think I might have {f}. What signs should I look for?",
        "Could my mom's problems be {f}? What are the symptoms?",
    ),
    "outlook": ("My husband has {f}. Is he going to get worse?",),
    "causes": ("Why did I get {f}?",),
    "prevention": ("How can I make sure my kids don't get {f}?",),
}


def answer_of(r: dict[str, Any]) -> str:
    """The page's answer without its boilerplate sentences ("These resources address ...", "The table
    below ..."), as the quotes leave it out too; "" when nothing else is left."""
    if "Human Phenotype Ontology" in r["answer"]:  # GARD's symptom tables: lost in the flat text
        return ""
    kept = [x for x in sentences(answer_text(r["answer"], 1200)) if not BOILERPLATE.search(x)]
    text = " ".join(kept)
    return text if len(text.split()) >= 12 else ""


def _passage(r: dict[str, Any]) -> Hit:
    return _hit(r["qid"], clip(r["answer"], 700), r.get("focus", ""), r.get("url", ""), r.get("source", ""))


def _by_page(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    pages: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        pages[r.get("url", "")].append(r)
    return pages


def _other_pages(records: list[dict[str, Any]], url: str, rng: random.Random, n: int) -> list[Hit]:
    out: list[Hit] = []
    while len(out) < n:
        o = records[rng.randrange(len(records))]
        if o.get("url") != url:
            out.append(_passage(o))
    return out


def _sibling(page: list[dict[str, Any]], r: dict[str, Any], rng: random.Random) -> dict[str, Any] | None:
    """Another section of the same page that answers a different, specific question type."""
    others = [o for o in page if o["qtype"] != r["qtype"] and o["qtype"] not in _BROAD]
    return rng.choice(others) if others else None


def medquad_rag_hard(settings: Settings, rng: random.Random, limit: int = 0) -> list[Example]:
    """Gold section + (when the page has one) another section of the same page + another page."""
    records = medquad_records(settings)
    pages = _by_page(records)
    usable = [r for r in records if answer_of(r)]
    picked = rng.sample(usable, limit) if limit and len(usable) > limit else usable
    out = []
    for r in picked:
        sib = _sibling(pages[r.get("url", "")], r, rng) if r["qtype"] not in _BROAD else None
        others = ([_passage(sib)] if sib else []) + _other_pages(
            records, r.get("url", ""), rng, 2 - bool(sib)
        )
        out.append(
            rag_example(r["question"], answer_of(r), _passage(r), others, rng, source="medquad-rag-hard")
        )
    return out


def medquad_unanswerable(settings: Settings, rng: random.Random, limit: int = 0) -> list[Example]:
    """Passages that do not answer (a different section of the same page, other pages) -> one sentence."""
    records = [r for r in medquad_records(settings) if r["qtype"] not in _BROAD]
    pages = _by_page(records)
    picked = rng.sample(records, limit) if limit and len(records) > limit else records
    out = []
    for r in picked:
        sib = _sibling(pages[r.get("url", "")], r, rng)
        hits = ([_passage(sib)] if sib else []) + _other_pages(records, r.get("url", ""), rng, 3 - bool(sib))
        rng.shuffle(hits)
        out.append(Example(tuple(build(r["question"], hits).messages), MODEL_ABSTAIN, "medquad-unanswerable"))
    return out


def personal_rag(settings: Settings, rng: random.Random, limit: int = 0) -> list[Example]:
    """A question asked about oneself or a relative, answered with the page's general, cited facts."""
    records = medquad_records(settings)
    usable = [r for r in records if r["qtype"] in PERSONAL and r.get("focus") and answer_of(r)]
    picked = rng.sample(usable, limit) if limit and len(usable) > limit else usable
    out = []
    for r in picked:
        question = rng.choice(PERSONAL[r["qtype"]]).format(f=r["focus"].strip())
        others = _other_pages(records, r.get("url", ""), rng, 2)
        out.append(rag_example(question, answer_of(r), _passage(r), others, rng, source="personal-rag"))
    return out


def guard_refusals(settings: Settings, rng: random.Random, limit: int = 0) -> list[Example]:
    """MedSafetyBench's harmful requests (its training file), declined with the guard's refusal."""
    import csv

    path = _data_file(settings, "safety", "medsafetybench_train.csv")
    rows = [r for r in csv.DictReader(path.read_text(encoding="utf-8-sig").splitlines())]
    requests = [r["harmful_medical_request"].strip() for r in rows if r.get("harmful_medical_request")]
    picked = rng.sample(requests, limit) if limit and len(requests) > limit else requests
    records = medquad_records(settings)
    answer = refusal_text(Verdict("harmful"), emergency_number(settings))
    return [
        Example(tuple(build(q, _other_pages(records, "", rng, 2)).messages), answer, "guard-refusals")
        for q in picked
    ]


BUILDERS = {
    "medquad-rag-hard": medquad_rag_hard,
    "medquad-unanswerable": medquad_unanswerable,
    "personal-rag": personal_rag,
    "guard-refusals": guard_refusals,
}
