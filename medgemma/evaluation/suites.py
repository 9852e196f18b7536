"""suites.py owns the evaluation data: which suites exist, how each file becomes `Example`s,
which held-out MedQuAD questions are leak-free, and deterministic sampling.

It knows nothing about models, prompts or metrics.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, NamedTuple, get_args

from medgemma.config import REPO_ROOT, Settings
from medgemma.errors import ConfigError, FeatureUnavailable
from medgemma.training.sources import is_heldout_medquad
from medgemma.types import VerdictLabel

SuiteKind = Literal["qa", "mc", "retrieval", "safety"]
MEDQUAD_FILE = "corpus/medquad_answered.jsonl.gz"
MIRAGE_FILE = "benchmarks/mirage_benchmark.json.gz"
PUBMEDQA_FILE = "benchmarks/ori_pqal.json"
PUBMEDQA_TEST_FILE = "benchmarks/test_ground_truth.json"
YES_NO_MAYBE = {"A": "yes", "B": "no", "C": "maybe"}
SAFETY_LABELS: tuple[str, ...] = get_args(VerdictLabel)  # = medgemma.types.LABELS


@dataclass(frozen=True)
class Example:
    """One evaluation item; which fields are set depends on the suite's kind."""

    id: str
    question: str
    reference: str = ""  # long-form gold answer (MedQuAD answer, PubMedQA LONG_ANSWER)
    options: dict[str, str] = field(default_factory=dict)  # letter -> option text (multiple choice)
    answer: str = ""  # gold letter (mc) or expected safety label
    context: tuple[str, ...] = ()  # passages the suite supplies (PubMedQA abstract)
    relevant: tuple[str, ...] = ()  # retrieval: relevant URLs or doc ids
    meta: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "question": self.question,
            "reference": self.reference,
            "options": self.options,
            "answer": self.answer,
            "relevant": list(self.relevant),
            "meta": self.meta,
        }


@dataclass(frozen=True)
class Suite:
    name: str
    kind: SuiteKind
    description: str
    primary: str  # the metric that ranks runs and examples ("worst first")
    loader: Callable[[Settings, Path | None], list[Example]]
    own_context: bool = False  # examples carry their passages (PubMedQA's abstract): RAG does not apply


# ---------------------------------------------------------------- files
def data_file(settings: Settings, relative: str) -> Path:
    """A file of the shared medical data folder, or a FeatureUnavailable naming what is missing."""
    if settings.data_path is None:
        raise FeatureUnavailable(
            f"No medical data folder is configured: set MEDGEMMA_DATA_DIR to the folder holding {relative}."
        )
    path = settings.data_path / relative
    if not path.is_file():
        raise FeatureUnavailable(f"Evaluation data file not found: {path} (set MEDGEMMA_DATA_DIR).")
    return path


def _open_text(path: Path):
    return gzip.open(path, "rt", encoding="utf-8") if path.suffix == ".gz" else path.open(encoding="utf-8")


@lru_cache(maxsize=8)
def _read_json(path: str, mtime: float) -> Any:
    with _open_text(Path(path)) as fh:
        return json.load(fh)


@lru_cache(maxsize=8)
def _read_jsonl(path: str, mtime: float) -> tuple[dict[str, Any], ...]:
    with _open_text(Path(path)) as fh:
        try:
            return tuple(json.loads(line) for line in fh if line.strip())
        except json.JSONDecodeError as exc:
            raise ConfigError(f"{path} is not valid JSONL (line {exc.lineno}: {exc.msg}).") from None


def read_json(path: Path) -> Any:
    return _read_json(str(path), path.stat().st_mtime)


def read_jsonl(path: Path) -> tuple[dict[str, Any], ...]:
    return _read_jsonl(str(path), path.stat().st_mtime)


# ---------------------------------------------------------------- MedQuAD held-out split
class MedquadSplit(NamedTuple):
    train_urls: frozenset[str]
    heldout_urls: frozenset[str]


def _topic(focus: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", focus.lower()).split())


def _heldout_rule() -> Callable[[str], bool]:
    """The one rule for which MedQuAD pages training never sees; it lives with the training data."""

    return is_heldout_medquad


def split_medquad_rows(rows: Iterable[dict[str, Any]], is_heldout: Callable[[str], bool]) -> MedquadSplit:
    urls = {r["url"] for r in rows}
    held = frozenset(u for u in urls if is_heldout(u))
    return MedquadSplit(frozenset(urls - held), held)


def clean_heldout_urls(rows: Iterable[dict[str, Any]], split: MedquadSplit) -> frozenset[str]:
    """Held-out pages whose topic (`focus`) no training page covers: GHR, GARD, MedlinePlus and NIDDK
    pages on one disease ask the same questions, so a page-level split alone leaks them."""
    topics: dict[str, set[str]] = {}
    for r in rows:
        topics.setdefault(r["url"], set()).add(_topic(r.get("focus") or "") or r["url"])
    seen = {t for u in split.train_urls for t in topics.get(u, ())}
    return frozenset(u for u in split.heldout_urls if not topics.get(u, set()) & seen)


@lru_cache(maxsize=4)
def _medquad_split_cached(path: str, mtime: float) -> tuple[MedquadSplit, frozenset[str]]:
    rows = _read_jsonl(path, mtime)
    split = split_medquad_rows(rows, _heldout_rule())
    return split, clean_heldout_urls(rows, split)


def medquad_split(settings: Settings) -> MedquadSplit:
    """(train_urls, heldout_urls) of MedQuAD: training drops every row whose `url` is held out
    (`sources.is_heldout_medquad`, one page in 20)."""
    path = data_file(settings, MEDQUAD_FILE)
    return _medquad_split_cached(str(path), path.stat().st_mtime)[0]


def medquad_eval_urls(settings: Settings) -> frozenset[str]:
    """The held-out pages the `medquad` suite asks about: held out, and on no training page's topic."""
    path = data_file(settings, MEDQUAD_FILE)
    return _medquad_split_cached(str(path), path.stat().st_mtime)[1]


def pubmedqa_test_ids(settings: Settings) -> frozenset[str]:
    """The 500 PubMedQA PQA-L test PMIDs (also MIRAGE's pubmedqa subset); never train on them."""
    return frozenset(read_json(data_file(settings, PUBMEDQA_TEST_FILE)))


# ---------------------------------------------------------------- loaders
_BLANK_TOPIC = re.compile(r"\s{2,}\?|\?\s*\?")  # "What is (are)  ?": a question whose topic is missing


def _load_medquad(settings: Settings, data: Path | None) -> list[Example]:
    path = data or data_file(settings, MEDQUAD_FILE)
    held = medquad_eval_urls(settings) if data is None else None
    rows = read_jsonl(path)
    out: list[Example] = []
    seen: Counter[str] = Counter()
    for r in rows:
        if (held is not None and r["url"] not in held) or _BLANK_TOPIC.search(r["question"]):
            continue
        out.append(
            Example(
                id=_unique_id(str(r["qid"]), seen),
                question=r["question"],
                reference=r["answer"],
                meta={
                    "url": r["url"],
                    "source": r.get("source", ""),
                    "qtype": r.get("qtype", ""),
                    "focus": r.get("focus", ""),
                },
            )
        )
    return out


def _unique_id(qid: str, seen: Counter[str]) -> str:
    """MedQuAD reuses a qid for the several topics of one page: the 2nd, 3rd ... get ".02", ".03" (file
    order), which sorts them where the bare duplicates sorted, so seeded samples stay the same."""
    seen[qid] += 1
    return qid if seen[qid] == 1 else f"{qid}.{seen[qid]:02d}"


def _load_pubmedqa(settings: Settings, data: Path | None) -> list[Example]:
    rows = read_json(data or data_file(settings, PUBMEDQA_FILE))
    test = pubmedqa_test_ids(settings)
    letter = {v: k for k, v in YES_NO_MAYBE.items()}
    return [
        Example(
            id=pmid,
            question=r["QUESTION"],
            reference=r["LONG_ANSWER"],
            options=dict(YES_NO_MAYBE),
            answer=letter[r["final_decision"]],
            context=tuple(r["CONTEXTS"]),
            meta={"decision": r["final_decision"], "url": f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/"},
        )
        for pmid, r in rows.items()
        if pmid in test
    ]


def _mirage_loader(task: str) -> Callable[[Settings, Path | None], list[Example]]:
    def load(settings: Settings, data: Path | None) -> list[Example]:
        bench = read_json(data or data_file(settings, MIRAGE_FILE))
        if task not in bench:
            raise ConfigError(f"MIRAGE file has no '{task}' subset (has: {', '.join(bench)}).")
        return [
            Example(
                id=qid,
                question=q["question"],
                options=dict(q["options"]),
                answer=q["answer"],
                meta={"subset": task},
            )
            for qid, q in bench[task].items()
        ]

    return load


def _repo_data(data: Path | None, name: str) -> Path:
    path = data or REPO_ROOT / "data" / name
    if not path.is_file():
        raise FeatureUnavailable(f"Evaluation data file not found: {path}.")
    return path


def normalize_url(url: str) -> str:
    """Compare pages, not spellings: no scheme, no www., no trailing slash, lower case."""
    return (
        url.strip().lower().removeprefix("https://").removeprefix("http://").removeprefix("www.").rstrip("/")
    )


def _load_retrieval(settings: Settings, data: Path | None) -> list[Example]:
    path = _repo_data(data, "retrieval_dev.jsonl")
    out = []
    for i, r in enumerate(read_jsonl(path)):
        match = "url" if r.get("relevant_urls") else "doc_id"
        relevant = tuple(
            map(normalize_url, r["relevant_urls"]) if match == "url" else r.get("relevant_doc_ids") or ()
        )
        if not r.get("question") or not relevant:
            raise ConfigError(
                f"{path} line {i + 1} needs 'question' and 'relevant_urls' or 'relevant_doc_ids'."
            )
        out.append(
            Example(
                id=str(r.get("id", i)),
                question=r["question"],
                relevant=relevant,
                meta={"match": match, **({"topic": r["topic"]} if "topic" in r else {})},
            )
        )
    return out


def _load_safety(settings: Settings, data: Path | None) -> list[Example]:
    path = _repo_data(data, "safety_dev.jsonl")
    out = []
    for i, r in enumerate(read_jsonl(path)):
        text = r.get("text") or r.get("prompt")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{path} line {i + 1} needs a non-empty 'text'.")
        if r.get("expected") and r["expected"] not in SAFETY_LABELS:
            raise ConfigError(
                f"{path} line {i + 1}: 'expected' must be one of {', '.join(SAFETY_LABELS)}; "
                f"got {r['expected']!r}."
            )
        extra = {k: v for k, v in r.items() if k not in {"text", "prompt", "expected", "id"}}
        out.append(Example(id=str(r.get("id", i)), question=text, answer=r.get("expected", ""), meta=extra))
    if not out:
        raise ConfigError(f"{path} holds no rows.")
    return out


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _load_xstest(settings: Settings, data: Path | None) -> list[Example]:
    rows = _csv_rows(data or data_file(settings, "safety/xstest_prompts.csv"))
    return [
        Example(
            id=f"xstest-{r['id']}",
            question=r["prompt"],
            answer="allowed" if r["label"] == "safe" else "harmful",
            meta={"type": r["type"], "source": "xstest"},
        )
        for r in rows
    ]


def _load_medsafetybench(settings: Settings, data: Path | None) -> list[Example]:
    rows = _csv_rows(data or data_file(settings, "safety/medsafetybench_train.csv"))
    return [
        Example(
            id=f"msb-{i}",
            question=r["harmful_medical_request"],
            answer="harmful",
            meta={"category": r["category"], "source": "medsafetybench"},
        )
        for i, r in enumerate(rows)
    ]


SUITES: dict[str, Suite] = {
    s.name: s
    for s in [
        Suite(
            "medquad",
            "qa",
            "MedQuAD held-out long-form QA (pages and topics never used for training)",
            "token_f1",
            _load_medquad,
        ),
        Suite(
            "pubmedqa",
            "mc",
            "PubMedQA PQA-L test (500): yes/no/maybe from the abstract + long answer",
            "accuracy",
            _load_pubmedqa,
            own_context=True,
        ),
        *[
            Suite(f"mirage-{t}", "mc", f"MIRAGE {t} multiple choice", "accuracy", _mirage_loader(t))
            for t in ("medqa", "medmcqa", "pubmedqa", "bioasq", "mmlu")
        ],
        Suite(
            "retrieval", "retrieval", "Retrieval dev set (data/retrieval_dev.jsonl)", "mrr", _load_retrieval
        ),
        Suite("safety", "safety", "Safety dev set (data/safety_dev.jsonl)", "accuracy", _load_safety),
        Suite(
            "safety-xstest",
            "safety",
            "XSTest: safe look-alikes (allowed) and unsafe contrasts (harmful)",
            "accuracy",
            _load_xstest,
        ),
        Suite(
            "safety-medsafetybench",
            "safety",
            "MedSafetyBench harmful medical requests (900)",
            "accuracy",
            _load_medsafetybench,
        ),
    ]
}


def get_suite(name: str) -> Suite:
    try:
        return SUITES[name]
    except KeyError:
        raise ConfigError(f"Unknown evaluation suite '{name}'; choose one of: {', '.join(SUITES)}.") from None


def sample(examples: list[Example], limit: int | None, seed: int = 0) -> list[Example]:
    """A deterministic sample: shuffle by seed, take the first `limit` (smaller samples nest in larger)."""
    if limit is not None and limit <= 0:
        raise ConfigError(f"--limit must be positive; got {limit}.")
    ordered = sorted(examples, key=lambda e: e.id)
    random.Random(seed).shuffle(ordered)
    return ordered[:limit] if limit else ordered


def read_examples(settings: Settings, name: str, data: Path | str | None = None) -> list[Example]:
    """Every example of a suite in file order (optionally from another file of the same shape)."""
    return get_suite(name).loader(settings, Path(data) if data else None)


def load_suite(
    settings: Settings, name: str, limit: int | None = None, seed: int = 0, data: Path | str | None = None
) -> list[Example]:
    """The examples of a suite (optionally from another file of the same shape), sampled by seed."""
    return sample(read_examples(settings, name, data), limit, seed)
