"""corpus.py assembles the safety classifier's data: training rows, a validation split held out by
source (where thresholds are picked), and the held-out sets it is measured on and never sees.

Every row is an `Example(text, label, source)`. It reads ../shared/data (`Settings.data_dir`), the repo's
data/*.jsonl and the red-flag catalogue when it exists; it knows no model and no thresholds.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

from medgemma.config import REPO_ROOT, Settings
from medgemma.errors import InputRejected
from medgemma.storage import read_jsonl
from medgemma.types import LABELS

DATA = REPO_ROOT / "data"
CATALOGUE = REPO_ROOT / "medgemma" / "safety" / "red_flags.yaml"
# MedQuAD's consumer questions, split by the NIH site they come from (never by row):
MEDQUAD_TRAIN = ("GHR", "GARD", "NIDDK", "CancerGov")
MEDQUAD_VALID = ("NINDS", "NHLBI")
MEDQUAD_TEST = ("MPlusHealthTopics", "NIHSeniorHealth", "CDC")
MEDQUAD_PER_SOURCE = 400  # questions per site: MedQuAD repeats one template per disease
# HarmBench's copyright behaviours ("Generate the lyrics of ...") break a copyright policy, not a medical
# safety one: this guard is not built to refuse them, so they are reported apart and not in harmful recall.
HARMBENCH_COPYRIGHT = "copyright"
# medeval-harness ESI levels -> guard labels. ESI 1-2 (resuscitation; high risk, "danger zone" vitals,
# would not wait) = emergency; ESI 3 (stable, needs two or more resources, same day) = urgent; ESI 4-5
# (one or no resource: a small cut, a refill, a simple UTI) = allowed, general information is fine.
ESI_LABEL = {1: "emergency", 2: "emergency", 3: "urgent", 4: "allowed", 5: "allowed"}
SALT = "medgemma-safety-corpus-v1"
MEDSAFETYBENCH_VALID = ("7", "8", "9")  # whole AMA-ethics categories held out for validation
CATALOGUE_VALID_SHARE = 0.3  # of the catalogue's areas (cardiac, eyes, ...) go to validation whole
SAFETY_TRAIN_VALID_SHARE = 0.5  # data/safety_train.jsonl: its benign clinician tasks must also train
COCONOT_HARMFUL = ("misinformation", "privacy violations", "triggers for offensive language")
COCONOT_VALID_SHARE = 0.3
URGENT_VALID_SHARE = 0.3  # of data/safety_train_urgent.jsonl
PUBMEDQA_QUESTIONS = 400  # research questions in a clinician's voice: benign
# The earlier blind sets in patients' voices (data/safety_fresh*.jsonl): the first six train, the next two
# validate (thresholds are picked on patients' voices too); the newest stay held out and are never seen.
FRESH_TRAIN = ("fresh", "fresh2", "fresh3", "fresh4", "fresh5", "fresh6")
FRESH_VALID = ("fresh7", "fresh8")
FRESH_HELD_OUT = tuple(f"fresh{n}" for n in range(9, 23))  # fresh9 ... fresh22


@dataclass(frozen=True)
class Example:
    text: str
    label: str
    source: str


def _pick(text: str, share: float) -> bool:
    """A fixed, content-based sample: the same text is always in or always out."""
    digest = hashlib.sha256(f"{SALT}:{text.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def _csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def _root(settings: Settings) -> Path:
    root = settings.data_path
    if root is None or not (root / "safety").is_dir():
        raise InputRejected(
            f"The safety data folder was not found ({root or 'MEDGEMMA_DATA_DIR is empty'}); set "
            "MEDGEMMA_DATA_DIR to the shared data folder (../shared/data) to train or measure the guard."
        )
    return root


def _jsonl(path: Path, source: str) -> list[Example]:
    return [
        Example(_clean(r["text"]), r["expected"], source)
        for r in read_jsonl(path)
        if r.get("text") and r.get("expected") in LABELS
    ]


def _medquad_field(settings: Settings, sources: tuple[str, ...], name: str) -> dict[str, list[str]]:
    """Each named MedQuAD site's distinct values of one field (question, focus), in file order."""
    by_source: dict[str, dict[str, None]] = {s: {} for s in sources}
    with gzip.open(_root(settings) / "corpus" / "medquad_answered.jsonl.gz", "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if row.get("source") in by_source and (value := _clean(row.get(name, ""))):
                by_source[row["source"]][value] = None
    return {source: list(values) for source, values in by_source.items()}


def medquad(
    settings: Settings, sources: tuple[str, ...], per_source: int = MEDQUAD_PER_SOURCE
) -> list[Example]:
    """Up to `per_source` distinct consumer questions from each named MedQuAD site (benign, allowed)."""
    out = []
    for source, questions in _medquad_field(settings, sources, "question").items():
        ranked = sorted(questions, key=lambda q: hashlib.sha256(f"{SALT}:{q}".encode()).hexdigest())
        out += [Example(q, "allowed", f"medquad.{source}") for q in ranked[:per_source]]
    return out


TOPIC_REQUESTS = (
    "Do you have information about {}",
    "Can you tell me about {}?",
    "I would like to learn more about {}",
    "Where can I find information on {}?",
    "Please give me some information about {}",
    "What should I know about {}?",
    "Explain {} to me",
    "Any info on {}",
)


def medquad_topic_requests(
    settings: Settings, sources: tuple[str, ...] = MEDQUAD_TRAIN, n: int = MEDQUAD_PER_SOURCE
) -> list[Example]:
    """Requests for information about a health topic in everyday wordings, one per MedQuAD focus of the
    named sites (benign): MedQuAD's own questions are templates ("What is (are) X ?"), and without other
    wordings "do you have information about X" looked like CoCoNot's requests for a person's data."""
    ranked = [
        t
        for topics in _medquad_field(settings, sources, "focus").values()
        for t in sorted(topics, key=lambda q: hashlib.sha256(f"{SALT}:topic:{q}".encode()).hexdigest())[
            : n // len(sources)
        ]
    ]
    return [
        Example(TOPIC_REQUESTS[i % len(TOPIC_REQUESTS)].format(t), "allowed", "medquad_topics")
        for i, t in enumerate(ranked)
    ]


def medsafetybench(settings: Settings) -> list[Example]:
    """MedSafetyBench's harmful requests; the source names the AMA-ethics category (medsafetybench.1 ...)."""
    rows = _csv(_root(settings) / "safety" / "medsafetybench_train.csv")
    return [
        Example(_clean(r["harmful_medical_request"]), "harmful", f"medsafetybench.{r['category']}")
        for r in rows
    ]


def advbench(settings: Settings) -> list[Example]:
    rows = _csv(_root(settings) / "safety" / "advbench_harmful_behaviors.csv")
    return [Example(_clean(r["goal"]), "harmful", "advbench") for r in rows]


def xstest(settings: Settings) -> list[Example]:
    rows = _csv(_root(settings) / "safety" / "xstest_prompts.csv")
    return [
        Example(_clean(r["prompt"]), "allowed" if r["label"] == "safe" else "harmful", f"xstest.{r['label']}")
        for r in rows
    ]


def coconot_pref(settings: Settings) -> list[Example]:
    """CoCoNot's contrast TRAIN prompts: benign requests that look refusable (allowed)."""
    rows = read_jsonl(_root(settings) / "safety" / "coconot_pref.jsonl")
    return [Example(_clean(r["prompt"]), "allowed", "coconot_pref") for r in rows if r.get("prompt")]


def coconot_contrast(settings: Settings) -> list[Example]:
    """CoCoNot's contrast TEST prompts (held out): benign, for over-refusal."""
    rows = read_jsonl(_root(settings) / "safety" / "coconot_contrast_eval.jsonl")
    return [Example(_clean(r["prompt"]), "allowed", "coconot_contrast") for r in rows if r.get("prompt")]


def coconot_refusals(settings: Settings) -> list[Example]:
    """CoCoNot's original set, the requests with safety concerns that are not medical (misinformation,
    privacy violations, offensive language): harmful. Its "dangerous or sensitive topics" mix real
    emergencies ("my friend is unconscious after an overdose") with harm, so they stay out."""
    rows = read_jsonl(_root(settings) / "safety" / "coconot_eval_no_wildchat.jsonl")
    return [
        Example(_clean(r["prompt"]), "harmful", f"coconot_original.{r['subcategory'].split()[0]}")
        for r in rows
        if r.get("prompt") and r.get("subcategory") in COCONOT_HARMFUL
    ]


def pubmedqa_questions(settings: Settings, n: int = PUBMEDQA_QUESTIONS) -> list[Example]:
    """PubMedQA's research questions (benign; a clinician's voice, unlike MedQuAD's consumer one)."""
    path = _root(settings) / "benchmarks" / "ori_pqal.json"
    if not path.is_file():
        return []
    questions = sorted(
        {_clean(r["QUESTION"]) for r in json.loads(path.read_text(encoding="utf-8")).values()},
        key=lambda q: hashlib.sha256(f"{SALT}:{q}".encode()).hexdigest(),
    )
    return [Example(q, "allowed", "pubmedqa") for q in questions[:n]]


def harmbench(settings: Settings, copyright_too: bool = False) -> list[Example]:
    """HarmBench behaviours (held out): harmful; the copyright category only when asked for."""
    rows = _csv(_root(settings) / "safety" / "harmbench_behaviors.csv")
    keep = [r for r in rows if copyright_too or r["FunctionalCategory"] != HARMBENCH_COPYRIGHT]
    return [Example(_clean(r["Behavior"]), "harmful", f"harmbench.{r['FunctionalCategory']}") for r in keep]


def triage_cases(wheel_or_json: Path) -> list[Example]:
    """The 50 ED triage cases of medeval-harness 0.1.0 (the wheel or its esi_cases.json), by ESI level."""
    path = Path(wheel_or_json)
    if path.suffix == ".whl":
        with zipfile.ZipFile(path) as zf:
            cases = json.loads(zf.read("medeval_harness/data/esi_cases.json"))
    else:
        cases = json.loads(path.read_text(encoding="utf-8"))
    return [
        Example(_clean(c["input"]["complaint"]), ESI_LABEL[int(c["expected"]["esi_level"])], "medeval_esi")
        for c in cases
    ]


def catalogue_phrasings(path: Path = CATALOGUE) -> list[Example]:
    """Each red-flag entry's phrasings with its tier, and its negations as allowed (empty when absent)."""
    if not path.is_file():
        return []
    from medgemma.storage import read_yaml

    data = read_yaml(path, what="Red-flag catalogue") or {}
    entries = data.get("flags", [])
    out: list[Example] = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or entry.get("tier") not in ("emergency", "urgent"):
            continue
        examples = entry.get("examples") or []
        area = str(entry.get("area", "misc"))
        out += [
            Example(_clean(p), entry["tier"], f"catalogue.{area}") for p in examples if isinstance(p, str)
        ]
        negations = entry.get("negations") or []
        out += [Example(_clean(p), "allowed", f"catalogue.{area}") for p in negations if isinstance(p, str)]
    return out


def training_and_validation(settings: Settings) -> tuple[list[Example], list[Example]]:
    """(train, validation). Validation is held out by source: half of data/safety_train (its other half
    trains: without its benign clinician tasks, "draft a consent form" looked like MedSafetyBench's harmful
    requests), whole red-flag areas of the catalogue, three of MedSafetyBench's nine categories, a fixed
    30 % of CoCoNot's non-medical harmful requests and two MedQuAD sites; a validation text never appears
    in training. XSTest trains (its look-alike pairs teach what is not harmful; as validation it set the
    harmful threshold by homonyms, not by requests like HarmBench's)."""
    flags = catalogue_phrasings()
    flags_valid = [e for e in flags if _pick(e.source, CATALOGUE_VALID_SHARE)]  # whole areas held out
    msb = medsafetybench(settings)
    msb_valid = [e for e in msb if e.source.split(".")[1] in MEDSAFETYBENCH_VALID]
    urgent = _jsonl(DATA / "safety_train_urgent.jsonl", "safety_train_urgent")
    urgent_valid = [e for e in urgent if _pick(e.text, URGENT_VALID_SHARE)]  # urgent is rare in validation
    st = _jsonl(DATA / "safety_train.jsonl", "safety_train")
    st_valid = [e for e in st if _pick(e.text, SAFETY_TRAIN_VALID_SHARE)]
    coco = coconot_refusals(settings)
    coco_valid = [e for e in coco if _pick(e.text, COCONOT_VALID_SHARE)]
    fresh = {
        name: _jsonl(DATA / f"safety_{name}.jsonl", f"fresh.{name}") for name in FRESH_TRAIN + FRESH_VALID
    }
    train = (
        _jsonl(DATA / "safety_dev.jsonl", "safety_dev")
        + [e for e in urgent if e not in urgent_valid]
        + [e for e in st if e not in st_valid]
        + [e for e in flags if e not in flags_valid]
        + [e for e in msb if e not in msb_valid]
        + [e for e in coco if e not in coco_valid]
        + advbench(settings)
        + xstest(settings)
        + coconot_pref(settings)
        + pubmedqa_questions(settings)
        + medquad(settings, MEDQUAD_TRAIN)
        + medquad_topic_requests(settings)
        + [e for name in FRESH_TRAIN for e in fresh[name]]
    )
    valid = (
        [e for name in FRESH_VALID for e in fresh[name]]
        + st_valid
        + urgent_valid
        + flags_valid
        + msb_valid
        + coco_valid
        + medquad(settings, MEDQUAD_VALID)
    )
    seen = {e.text.lower() for e in valid}
    return dedupe([e for e in train if e.text.lower() not in seen]), dedupe(valid)


def held_out_sets(settings: Settings, triage: Path | None = None) -> dict[str, list[Example]]:
    """The sets the classifier never trains or tunes on, by name (triage only with the medeval wheel); a
    text that also occurs in training or validation is dropped from them."""
    sets = {
        "harmbench": harmbench(settings),
        "harmbench_copyright": [
            e for e in harmbench(settings, True) if e.source.endswith(HARMBENCH_COPYRIGHT)
        ],
        "coconot_contrast": coconot_contrast(settings),
        "medquad_heldout": medquad(settings, MEDQUAD_TEST),
        **{name: _jsonl(DATA / f"safety_{name}.jsonl", name) for name in FRESH_HELD_OUT},
    }
    if triage is not None:
        sets["medeval_triage"] = triage_cases(triage)
    train, valid = training_and_validation(settings)
    seen = {e.text.lower() for e in train + valid}  # MedQuAD repeats a question across its sites
    return {name: [e for e in dedupe(rows) if e.text.lower() not in seen] for name, rows in sets.items()}


def dedupe(examples: list[Example]) -> list[Example]:
    seen: dict[str, Example] = {}
    for e in examples:
        seen.setdefault(e.text.lower(), e)
    return list(seen.values())


def data_hash(examples: list[Example], extra: str = "") -> str:
    h = hashlib.sha256(extra.encode())
    for e in examples:
        h.update(f"\n{e.label}\t{e.source}\t{e.text}".encode())
    return h.hexdigest()
