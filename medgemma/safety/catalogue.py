"""catalogue.py loads the red-flag catalogue (red_flags.yaml: data, not code) and matches a message to it.

An entry fires when each of its term groups (a symptom, a context ...) matches somewhere in the normalised
message, outside a negation, the past and a general question about the topic. It knows no verdicts and
no responses: rules.py turns a hit into a finding, guard.py into a label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from medgemma.errors import ConfigError
from medgemma.safety import advice as A
from medgemma.safety import frames as F
from medgemma.safety.text import Text
from medgemma.storage import read_yaml

CATALOGUE_FILE = Path(__file__).with_name("red_flags.yaml")
TIERS = ("emergency", "urgent")  # emergency: call the emergency number now; urgent: a clinician today
FIELDS = ("id", "area", "tier", "reason", "facts", "guidance", "match", "examples", "negations")


@dataclass(frozen=True)
class Source:
    name: str
    url: str


@dataclass(frozen=True)
class RedFlag:
    """One red flag: what it encodes, which public guidance it follows, and the terms that find it."""

    id: str
    area: str
    tier: str
    reason: str  # shown to the user in the safety panel
    facts: str
    guidance: tuple[Source, ...]
    groups: tuple[re.Pattern, ...]  # every group must match
    unless: re.Pattern | None  # a match (not negated) keeps it quiet ("3 years old" for an infant)
    examples: tuple[str, ...]  # first- and third-person phrasings that must fire with this tier
    negations: tuple[str, ...]  # phrasings that must not fire

    @property
    def rule(self) -> str:
        return f"redflag.{self.id}"


@dataclass(frozen=True)
class Hit:
    flag: RedFlag
    start: int
    end: int


def _terms(alternatives: list[Any], where: str) -> re.Pattern:
    """One regex from a group's terms; a nested list (a shared group, `*child`) is spliced in."""
    if isinstance(alternatives, list):
        alternatives = [a for x in alternatives for a in (x if isinstance(x, list) else [x])]
    if not alternatives or not all(isinstance(a, str) and a.strip() for a in alternatives):
        raise ConfigError(f"{where}: a term group must be a non-empty list of strings")
    try:
        return re.compile(r"(?<![a-z0-9])(?:" + "|".join(alternatives) + r")(?![a-z0-9])")
    except re.error as exc:
        raise ConfigError(f"{where}: a term is not a valid regular expression ({exc})") from None


def _flag(raw: Any, n: int, sources: dict[str, Source], path: Path) -> RedFlag:
    where = f"{path.name} entry {n + 1}"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, not a {type(raw).__name__}")
    where = f"{path.name} entry {n + 1} ({raw.get('id', 'no id')})"
    missing = [k for k in FIELDS if not raw.get(k)]
    if missing:
        raise ConfigError(f"{where} is missing {', '.join(missing)}")
    unknown = sorted(set(raw) - set(FIELDS) - {"unless"})
    if unknown:
        raise ConfigError(f"{where} has unknown fields: {', '.join(unknown)}")
    if raw["tier"] not in TIERS:
        raise ConfigError(f"{where}: tier must be one of {', '.join(TIERS)}, not {raw['tier']!r}")
    refs = raw["guidance"] if isinstance(raw["guidance"], list) else [raw["guidance"]]
    bad = [r for r in refs if r not in sources]
    if bad:
        raise ConfigError(f"{where}: guidance names unknown sources: {', '.join(map(str, bad))}")
    groups = raw["match"]
    if not isinstance(groups, list) or not all(isinstance(g, list) for g in groups):
        raise ConfigError(f"{where}: match must be a list of term groups (lists of terms)")
    for key in ("examples", "negations"):
        if not isinstance(raw[key], list) or not all(isinstance(x, str) and x.strip() for x in raw[key]):
            raise ConfigError(f"{where}: {key} must be a list of phrasings")
    return RedFlag(
        id=str(raw["id"]),
        area=str(raw["area"]),
        tier=raw["tier"],
        reason=str(raw["reason"]).strip(),
        facts=" ".join(str(raw["facts"]).split()),
        guidance=tuple(sources[r] for r in refs),
        groups=tuple(_terms(g, f"{where} match group {i + 1}") for i, g in enumerate(groups)),
        unless=_terms(raw["unless"], f"{where} unless") if raw.get("unless") else None,
        examples=tuple(raw["examples"]),
        negations=tuple(raw["negations"]),
    )


def load(path: str | Path = CATALOGUE_FILE) -> tuple[RedFlag, ...]:
    """Read and validate a catalogue; ConfigError names the entry and the field that is wrong."""
    path = Path(path)
    data = read_yaml(path, what="Red-flag catalogue")
    raw_sources, raw_flags = data.get("sources"), data.get("flags")
    if not isinstance(raw_sources, dict) or not isinstance(raw_flags, list) or not raw_flags:
        raise ConfigError(f"{path} must hold 'sources' (a mapping) and 'flags' (a non-empty list)")
    sources = {}
    for key, s in raw_sources.items():
        if not isinstance(s, dict) or not s.get("name") or not str(s.get("url", "")).startswith("https://"):
            raise ConfigError(f"{path.name} source {key!r} needs a name and an https:// url")
        sources[key] = Source(str(s["name"]), str(s["url"]))
    flags = tuple(_flag(raw, n, sources, path) for n, raw in enumerate(raw_flags))
    seen: set[str] = set()
    for f in flags:
        if f.id in seen:
            raise ConfigError(f"{path.name}: the id {f.id!r} is used twice")
        seen.add(f.id)
    return flags


@lru_cache(maxsize=1)
def catalogue() -> tuple[RedFlag, ...]:
    """The packaged catalogue, loaded and validated once per process."""
    return load(CATALOGUE_FILE)


# Questions about a topic ("can a TIA cause numbness?") fire only when they name a person near the sign.
QUESTION = re.compile(
    r"^(?:can|could|does|do|did|is|are|will|would|should|why|what|whats|how|when|which|who|where)\b|"
    r"\bis (?:it|this) (?:normal|safe|serious|dangerous|common)\b"
)
# Told as over ("had a fever at 6 weeks and was fine") or as a story ("the character takes ...", a medical
# drama, a documentary: frames.SCREEN and frames.MEDIA), with nothing that says it is happening now.
_RESOLVED = re.compile(
    r"\b(?:was|were|turned out) (?:fine|ok|okay|alright|all right)\b(?!.*\b(?:now|today|tonight|again)\b)"
)
FICTION = re.compile(
    r"\b(?:writing|wrote|write|in) (?:a|my|the|this) (?:novel|story|screenplay|script|book|play|scene|poem)\b|"
    r"\bthe (?:character|protagonist|villain|hero|heroine)\b|\bin (?:the|a) (?:film|movie|game|show|series)\b|"
    + F.SCREEN.pattern
    + "|"
    + F.MEDIA.pattern
)
_NEGATORS = frozenset("no not never without nobody none nothing neither nor denies deny".split())
_SUBJECTS = frozenset("i my he his she her they their it its we our the now".split())
_AFFIRMING = frozenset("stop help quit".split())  # "can not stop crying" is crying


def _anchored_near(t: Text, start: int, end: int) -> bool:
    return bool(A.ANCHOR.search(t.window(start, end, before=10, after=8)))


def _negated(t: Text, m: re.Match, taken: set[int]) -> bool:
    """A negator in the clause within five tokens before the match, not inside another group's match
    ("has not passed urine for 12 hours": the "not" belongs to the symptom, not to "12 hours")."""
    i = t.token_index(m.start())
    lo, _ = t.clause_bounds(i)
    for k in range(i - 1, max(lo, i - 5) - 1, -1):
        if t.tokens[k] == "and" and k + 1 <= i and t.tokens[k + 1] in _SUBJECTS:
            return False  # "is not feeding and her lips look blue", "has not peed and now she is confused"
        if t.tokens[k] in _NEGATORS and k not in taken and t.tokens[k + 1] not in _AFFIRMING:
            return True
    return False


def _tokens(t: Text, m: re.Match) -> set[int]:
    return set(range(t.token_index(m.start()), t.token_index(m.end()) + 1))


def _live(t: Text, pattern: re.Pattern, taken: set[int]) -> tuple[re.Match | None, bool]:
    """The first match outside a negation, and whether the group matched at all. A negator inside the
    match counts too unless the group's terms spell it ("testicle is not swollen" through "(?:\\w+ )?")."""
    spelled = set(re.findall(r"[a-z]+", pattern.pattern)) & _NEGATORS
    seen = False
    for m in pattern.finditer(t.norm):
        seen = True
        inside = set(m.group(0).split()) & _NEGATORS
        if not _negated(t, m, taken - _tokens(t, m)) and not inside - spelled:
            return m, True
    return None, seen


def match(t: Text, generic: bool, flags: tuple[RedFlag, ...] | None = None) -> tuple[list[Hit], list[str]]:
    """(hits, suppressed) for one normalised message; `generic` = the rules saw a general question."""
    hits: list[Hit] = []
    suppressed: list[str] = []
    question = generic or bool(QUESTION.search(t.norm))
    for flag in catalogue() if flags is None else flags:
        if not all(g.search(t.norm) for g in flag.groups):
            continue
        taken = {k for g in flag.groups for m in g.finditer(t.norm) for k in _tokens(t, m)}
        found = [_live(t, g, taken) for g in flag.groups]
        first = found[0][0]
        if first is None or any(m is None for m, _ in found):
            suppressed.append(f"negated: {flag.id}")
            continue
        if flag.unless is not None and any(not _negated(t, m, set()) for m in flag.unless.finditer(t.norm)):
            continue  # a negated exception ("no pain") does not keep the entry quiet
        if any(t.past(m.start(), m.end()) for m, _ in found if m is not None) or _RESOLVED.search(t.norm):
            suppressed.append(f"past: {flag.id}")
            continue
        if FICTION.search(t.norm):
            suppressed.append(f"fiction: {flag.id}")
            continue
        if question and not _anchored_near(t, first.start(), first.end()):
            suppressed.append(f"general question: {flag.id}")
            continue
        hits.append(Hit(flag, first.start(), first.end()))
    return hits, suppressed


def vocabulary() -> set[str]:
    """The words the catalogue's terms use (for the rule layer's spell correction)."""
    words: set[str] = set()
    for flag in catalogue():
        for g in flag.groups:
            words.update(re.findall(r"[a-z]{4,}", g.pattern))
    return words
