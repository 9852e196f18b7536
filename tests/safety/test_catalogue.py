"""The red-flag catalogue (medgemma/safety/red_flags.yaml): its size and sources, the loader's errors on
a broken file, and every entry as a test: each phrasing fires through the whole rule-only guard with the
entry's tier, each negation keeps the entry quiet, and consumer questions about a symptom stay allowed."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from pathlib import Path

import pytest
import yaml

from medgemma.config import load_settings
from medgemma.errors import ConfigError
from medgemma.safety import advice as A
from medgemma.safety.catalogue import CATALOGUE_FILE, TIERS, catalogue, load, match
from medgemma.safety.guard import SafetyGuard
from medgemma.safety.rules import prepare

FLAGS = catalogue()
AREAS = {
    "cardiac",
    "stroke_neuro",
    "breathing",
    "allergy",
    "poisoning_overdose",
    "mental_health",
    "pregnancy_postpartum",
    "infants_children",
    "bleeding",
    "trauma_head",
    "infection_sepsis",
    "diabetes",
    "kidney_dialysis",
    "eyes",
    "testicular_abdominal",
    "limbs",
}


@pytest.fixture(scope="module")
def guard():
    return SafetyGuard(load_settings(overrides={"safety_learned": False}), warm=False)


def _fires(flag, text: str) -> bool:
    t = prepare(text)
    hits, _ = match(t, bool(A.GENERIC.search(t.norm)), (flag,))
    return bool(hits)


def test_the_catalogue_covers_the_areas_with_both_tiers_and_named_guidance():
    assert len(FLAGS) >= 80
    areas = Counter(f.area for f in FLAGS)
    assert set(areas) == AREAS and all(n >= 3 for n in areas.values()), areas
    assert {f.tier for f in FLAGS} == set(TIERS)
    assert sum(f.tier == "urgent" for f in FLAGS) >= 20
    for f in FLAGS:
        assert f.guidance and all(s.url.startswith("https://") and s.name for s in f.guidance), f.id
        assert len(f.examples) >= 2 and f.negations and len(f.facts) > 40, f.id
    ids = {f.id for f in FLAGS}
    for needed in (
        "pregnancy.bleeding",
        "pregnancy.reduced_movements",
        "neuro.sudden_confusion",
        "poison.whole_bottle",
        "mental.passive_ideation",
        "child.infant_fever",
        "breathing.asthma_attack_worsening",
        "limbs.dvt",
        "limbs.compartment_syndrome",
        "kidney.missed_dialysis",
    ):
        assert needed in ids


def test_the_catalogue_is_loaded_once():
    assert catalogue() is catalogue()


@pytest.mark.parametrize(
    "flag,text", [(f, ex) for f in FLAGS for ex in f.examples], ids=lambda x: getattr(x, "id", "")
)
def test_each_phrasing_fires_with_its_tier(guard, flag, text):
    assert _fires(flag, text), f"{flag.id} does not match {text!r}"
    verdict = guard.classify(text)
    assert verdict.label == flag.tier, (text, verdict)


@pytest.mark.parametrize(
    "flag,text", [(f, ex) for f in FLAGS for ex in f.negations], ids=lambda x: getattr(x, "id", "")
)
def test_each_negation_keeps_its_entry_quiet(flag, text):
    assert not _fires(flag, text), f"{flag.id} fired on {text!r}"


@pytest.mark.parametrize(
    "text",
    [
        "What are the symptoms of gout?",
        "what causes a fever in babies?",
        "What are the warning signs of a stroke?",
        "How is a DVT treated?",
        "Can a UTI turn into a kidney infection?",
        "What is compartment syndrome?",
        "Why do people on dialysis have to limit fluids?",
        "Is bleeding in early pregnancy always a miscarriage?",
        "How much paracetamol is in a bottle of Calpol?",
        "What does reduced fetal movement mean?",
        "I have a mild UTI, it stings a bit when I pee",
        "My knee hurts after running, what stretches help?",
    ],
)
def test_information_questions_and_mild_problems_are_not_escalated(guard, text):
    assert guard.classify(text).label not in {"emergency", "urgent"}


def test_medquad_consumer_questions_rarely_fire(shared_data):
    """Consumer questions about a condition are information, not a person's situation."""
    path = shared_data / "corpus" / "medquad_answered.jsonl.gz"
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        questions = [json.loads(line)["question"] for _, line in zip(range(3000), fh, strict=False)]
    fired = []
    for q in questions[::3]:
        hits, _ = match(prepare(q), bool(A.GENERIC.search(prepare(q).norm)))
        if hits:
            fired.append((q, [h.flag.id for h in hits]))
    assert len(fired) <= 0.01 * len(questions[::3]), fired[:10]


# ---------------------------------------------------------------- the loader's errors
def _write(tmp_path: Path, flags: list[dict], sources: dict | None = None) -> Path:
    path = tmp_path / "flags.yaml"
    src = {"nhs": {"name": "NHS", "url": "https://www.nhs.uk/"}} if sources is None else sources
    path.write_text(yaml.safe_dump({"sources": src, "flags": flags}), encoding="utf-8")
    return path


def _entry(**changes) -> dict:
    entry = {
        "id": "x.one",
        "area": "x",
        "tier": "urgent",
        "reason": "a reason",
        "facts": "some facts",
        "guidance": ["nhs"],
        "match": [["calf"], ["swollen"]],
        "examples": ["my calf is swollen"],
        "negations": ["my calf is not swollen"],
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def test_a_valid_small_catalogue_loads_and_matches(tmp_path):
    (flag,) = load(_write(tmp_path, [_entry()]))
    assert flag.rule == "redflag.x.one" and _fires(flag, "my calf is swollen")
    assert not _fires(flag, "my calf is not swollen")


@pytest.mark.parametrize(
    "changes,message",
    [
        ({"tier": "soon"}, "tier must be one of emergency, urgent"),
        ({"facts": None}, "missing facts"),
        ({"negations": None, "examples": None}, "missing examples, negations"),
        ({"guidance": ["who"]}, "unknown sources: who"),
        ({"match": [["(unclosed"]]}, "not a valid regular expression"),
        ({"match": "calf"}, "match must be a list of term groups"),
        ({"colour": "red"}, "unknown fields: colour"),
    ],
)
def test_a_broken_entry_is_named_with_its_problem(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message) as err:
        load(_write(tmp_path, [_entry(**changes)]))
    assert "x.one" in str(err.value)


def test_broken_files_get_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="used twice"):
        load(_write(tmp_path, [_entry(), _entry()]))
    with pytest.raises(ConfigError, match="https:// url"):
        load(_write(tmp_path, [_entry()], sources={"nhs": {"name": "NHS", "url": "nhs.uk"}}))
    with pytest.raises(ConfigError, match="'flags'"):
        load(_write(tmp_path, []))
    with pytest.raises(ConfigError, match="not found"):
        load(tmp_path / "missing.yaml")
    assert CATALOGUE_FILE.is_file()
