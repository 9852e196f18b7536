"""rules.py is the guard's rule layer: it reads a normalised message and says what the rules saw.

Emergencies need a sign that is not negated, not in the past and not a general question; the red-flag
catalogue (catalogue.py) adds emergency and urgent (see a clinician today) situations; harmful requests
need a harmful act aimed at a real target; personal advice needs the user's own case. It knows nothing of
embeddings, settings or responses (safety/guard.py combines the layers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from medgemma.safety import advice as A
from medgemma.safety import catalogue as C
from medgemma.safety import frames as F
from medgemma.safety import harm as H
from medgemma.safety import patterns as P
from medgemma.safety.settled import TRANSIENT_RULES, settled
from medgemma.safety.text import Speller, Text, english_words, normalize

_SPANISH_COMMON = frozenset(
    "tengo tiene tienes puedo puede debo deberia estoy esta estan quiero quiere tomar tomo tome darle dolor "
    "pecho brazo cabeza mucho mucha muchas muchos todas todos todo toda para pero como donde cuando cuanto "
    "cuanta cuantos cuantas cual cuales porque hace hacer ayer manana noche dias semana semanas meses anos "
    "hijo hija hijos esposo esposa marido mama papa bebe abuela abuelo hermano hermana amigo amiga novio novia "
    "medico doctor receta pastillas pastilla medicamento medicina presion azucar fiebre gripe garganta piel "
    "mancha respirar respira ahora siempre nunca nada alguien algo otra otro mismo misma sangre sangrando "
    "vomito vomitando mareo mareado desmayo desmayado despierta responde habla hablar puedes saber sirve "
    "causa causan sintomas senales alarma corazon cerebral derrame infarto diabetes ayuno dormir duele "
    "dejar seguir vivir morir morirme matar matarme preparado listo cloro frasco botella pila boton cara "
    "boca torcida debil dormido convulsiones convulsionando inconsciente sobredosis tomar dosis vitamina "
    "melatonina ibuprofeno paracetamol antibioticos infeccion urinaria orinar arde operarme rodilla tiroides "
    "alimentos buenos proceso linux previene hipertension insulina funciona reanimacion cardiopulmonar "
    "factores riesgo suicidio ataque script python ejecuto colesterol quiero saber solo sintomas".split()
)


@lru_cache(maxsize=1)
def _spellers() -> Speller:
    terms: set[str] = set()
    patterns = [
        *P.EMERGENCY_SIGNS,
        *P.EMERGENCY_EVENTS,
        *P.SELF_HARM,
        *H.HARM_PATTERNS,
        *A.PERSONAL_PATTERNS,
        H.INJECTION,
    ]
    for pat in patterns:
        terms.update(re.findall(r"[a-z]{4,}", pat.regex.pattern))
    terms.update(re.findall(r"[a-z]{4,}", A.MEDICAL.pattern))
    terms.update(C.vocabulary())
    english = english_words()
    # Regex fragments ("synthesi") are not words: keep only real English words and drug names.
    terms = {t for t in terms if t in english} | set(A.DRUG_NAMES) | set(A.TYPO_TARGETS)
    return Speller(terms, english | _SPANISH_COMMON)


def prepare(text: str) -> Text:
    """Normalise a message with the rule vocabulary's spell correction (English only)."""
    return normalize(text, _spellers())


@dataclass
class RuleFindings:
    """What the rule layer saw in one message."""

    text: Text
    emergency: list[tuple[str, str]] = field(default_factory=list)  # (rule, reason)
    urgent: list[tuple[str, str]] = field(default_factory=list)  # red flags for a clinician today
    harmful: list[tuple[str, str]] = field(default_factory=list)
    personal: list[tuple[str, str]] = field(default_factory=list)
    injection: bool = False
    self_harm: bool = False
    generic: bool = False  # phrased as a general / educational question
    benign_context: bool = False  # game, sport, fiction, pests: violent words not about real people
    support: bool = False  # how to support / help / look after someone (a carer's question)
    not_now: bool = False  # a myth to check, a plan for later, an illness long past (frames.NOT_NOW)
    anchored: bool = False  # about the user or someone they name (my dad, I, he ...)
    suppressed: list[str] = field(default_factory=list)  # "negated: chest_pain", "past: event", ...
    settled: bool = False  # told as over: gone by itself, checked and cleared, back to playing (settled.py)

    @property
    def label(self) -> str | None:
        """The label the rules alone would give, or None when they saw nothing decisive."""
        if self.emergency:
            return "emergency"
        if self.harmful or self.injection:
            return "harmful"
        if self.urgent:
            return "urgent"
        if self.personal:
            return "personal_advice"
        return None

    def rules(self) -> tuple[str, ...]:
        found = [r for r, _ in self.emergency + self.harmful + self.urgent + self.personal]
        if self.injection:
            found.append(H.INJECTION.rule)
        return tuple(dict.fromkeys(found))

    def reasons(self) -> tuple[str, ...]:
        found = [why for _, why in self.emergency + self.harmful + self.urgent + self.personal]
        if self.injection:
            found.append(H.INJECTION.reason)
        return tuple(dict.fromkeys(found))


# The words just before a match's last word that deny it ("no vomiting", "does not have a fever").
_DENIED_LAST = re.compile(
    r"(?:\bno|\bwithout|\b(?:does|do|did|has|have) not (?:have|had|got)(?: a| an| any)?|\bnot any)$"
)
_ABSENT_SIGNS = frozenset(
    "pulse heartbeat breathing breath response responding movement movements kicks urine".split()
)
_PERSON_WORD = re.compile(r"\b(?:i|me|my|we|our|us|he|she|they|his|her|him|them|their|someone|somebody)\b")
# The writer's own thoughts of suicide: a helper's or a general question that also tells of them stays a crisis.
_OWN_CRISIS = re.compile(
    r"\b(?:i (?:am|keep|have been|have|was|feel|want|think) (?:\w+ ){0,3}(?:thinking|thoughts|thought|feeling|wanting|"
    r"want|planning|plan|urges?)|myself|doing it|end (?:my life|it all)|kill me)\b"
)
# A child's milk tooth coming out bleeds a lot and is never an ambulance (NHS: bite on gauze 15 minutes).
_MILK_TOOTH = re.compile(r"\b(?:first|baby|milk|wobbly|loose) (?:tooth|teeth)\b")
_ACCIDENT = re.compile(
    r"\b(?:accidentally|by accident|by mistake|while (?:cooking|shaving|chopping|gardening))\b"
)


def _anchored_near(t: Text, start: int, end: int) -> bool:
    return bool(A.STRONG_ANCHOR.search(t.window(start, end, before=10, after=8)))


def _emergencies(t: Text, f: RuleFindings) -> None:
    question = bool(C.QUESTION.search(t.norm))
    for group in (P.EMERGENCY_SIGNS, P.EMERGENCY_EVENTS, P.SELF_HARM):
        for pat in group:
            for m in pat.regex.finditer(t.norm):
                name = pat.rule.split(".", 1)[1]
                method = pat.rule == "emergency.self_harm_method"
                if t.negated(m.start()):
                    f.suppressed.append(f"negated: {name}")
                    continue
                denied = _DENIED_LAST.search(m.group(0).rsplit(" ", 1)[0])
                last = m.group(0).rsplit(" ", 1)[-1]
                if (
                    denied
                    and last not in _ABSENT_SIGNS
                    and not pat.spells(m.group(0), re.escape(denied.group(0)))
                ):
                    # "6 week old and she does not have a fever": a wildcard took the denial of the sign
                    f.suppressed.append(f"negated: {name}")
                    continue
                if t.past(m.start(), m.end()):
                    f.suppressed.append(f"past: {name}")
                    continue
                if pat.rule in TRANSIENT_RULES and f.settled:
                    f.suppressed.append(f"settled: {name}")  # "it went away by itself, the ECG was normal"
                    continue
                if not method and C.FICTION.search(t.norm) and not _anchored_near(t, m.start(), m.end()):
                    f.suppressed.append(f"fiction: {name}")  # "in greys anatomy someone got stabbed"
                    continue
                if pat.rule == "emergency.bleeding" and _MILK_TOOTH.search(t.norm):
                    f.suppressed.append(f"milk tooth: {name}")
                    continue
                if (
                    pat.rule == "emergency.self_harm"
                    and F.HELPER.search(t.norm)
                    and not _OWN_CRISIS.search(t.norm)
                ):
                    f.suppressed.append(f"helper: {name}")  # "suicide prevention volunteer, how do I ask ..."
                    continue
                if pat.rule == "emergency.self_harm" and _ACCIDENT.search(t.window(m.start(), m.end())):
                    f.suppressed.append(f"accident: {name}")  # "I accidentally cut myself cooking"
                    continue
                # "how do I bring up suicide with my mum, I have been thinking about it myself"
                own = pat.rule == "emergency.self_harm" and bool(_OWN_CRISIS.search(t.norm))
                if f.generic and not method and not own and not _anchored_near(t, m.start(), m.end()):
                    f.suppressed.append(f"general question: {name}")
                    continue
                if (
                    question and not method and not _PERSON_WORD.search(t.norm)
                ):  # "can stress cause chest pain?"
                    f.suppressed.append(f"general question: {name}")
                    continue
                f.emergency.append((pat.rule, pat.reason))
                f.self_harm = f.self_harm or pat.rule.startswith("emergency.self_harm")
                break


def _red_flags(t: Text, f: RuleFindings) -> None:
    hits, suppressed = C.match(t, f.generic)
    f.suppressed.extend(suppressed)
    for hit in hits:
        if hit.flag.rule in TRANSIENT_RULES and f.settled:
            f.suppressed.append(f"settled: {hit.flag.id}")
            continue
        finding = (hit.flag.rule, hit.flag.reason)
        (f.emergency if hit.flag.tier == "emergency" else f.urgent).append(finding)
        f.self_harm = f.self_harm or (hit.flag.area == "mental_health" and hit.flag.tier == "emergency")
    if f.emergency:
        f.urgent.clear()  # the emergency answer covers it; urgent is never shown next to it


def _harms(t: Text, f: RuleFindings) -> None:
    operational = bool(H.OPERATIONAL.search(t.norm))
    norm = F.mask_idioms(t.norm)  # "bath bomb", "kill time": blanked at the same length, offsets hold
    for pat in H.HARM_PATTERNS:
        m = pat.regex.search(norm)
        if not m:
            continue
        if t.negated(m.start(), window=3) and not operational:
            f.suppressed.append(f"negated: {pat.rule}")
            continue
        if pat.rule in {
            "harmful.violence",
            "harmful.attack",
            "harmful.harassment",
            "harmful.unethical_practice",
            "harmful.cyber",
            "harmful.graphic",
        } and (f.benign_context and not operational):
            f.suppressed.append(f"benign context: {pat.rule}")
            continue
        f.harmful.append((pat.rule, pat.reason))


def _personal(t: Text, f: RuleFindings) -> None:
    if not A.ANCHOR.search(t.norm):
        return
    drug = A.has_drug(t.norm)
    medical = drug or bool(A.MEDICAL.search(t.norm))
    dosing = drug or bool(A.DOSE_WORD.search(t.norm))
    normal_range = bool(A.NORMAL_RANGE.search(t.norm))
    everyday = bool(A.EVERYDAY.search(t.norm)) and not A.DOSE_WORD.search(t.norm)
    for pat in A.PERSONAL_STRONG + (A.PERSONAL_PATTERNS if medical else []):
        if (
            (pat.rule in ("personal_advice.dose", "personal_advice.treatment") and everyday)
            or (pat.rule == "personal_advice.dose" and not dosing)
            or (pat.rule == "personal_advice.diagnosis" and normal_range)
        ):
            continue
        m = next((m for m in pat.regex.finditer(t.norm) if not t.negated(m.start(), window=2)), None)
        if m:
            f.personal.append((pat.rule, pat.reason))


def findings(text: str) -> RuleFindings:
    """Run every rule over one message (English or Spanish); cheap, no model involved."""
    t = prepare(text)
    f = RuleFindings(text=t)
    f.generic = bool(A.GENERIC.search(t.norm))
    f.benign_context = bool(F.SAFE_CONTEXT.search(t.norm)) or bool(F.SAFE_TITLE.search(text))
    f.anchored = bool(A.STRONG_ANCHOR.search(t.norm))
    f.support = bool(F.SUPPORT.search(t.norm))
    f.not_now = bool(F.NOT_NOW.search(t.norm))
    f.injection = bool(H.INJECTION.regex.search(t.norm))
    f.settled = settled(t.norm)
    _emergencies(t, f)
    if not t.spanish:
        _red_flags(t, f)
    _harms(t, f)
    _personal(t, f)
    return f


# ---------------------------------------------------------------- answers (check_output)
_OUTPUT = [
    P.rule_pattern(
        "output.dose",
        "the answer gives the user a dose",
        r"you (?:should|can|could|may|need to|must) (?:take|give|use|double|increase|decrease|skip|stop taking|start taking) "
        r".{0,40}\d+ ?(?:mg|milligrams?|g|ml|units?|tablets?|pills?|capsules?|puffs?|drops?)",
        r"(?:^|[.!?] )(?:take|give (?:him|her|them|your \w+)|use) \d+ ?(?:mg|milligrams?|ml|units?|tablets?|pills?|"
        r"capsules?|puffs?)\b",
        r"your (?:dose|dosage) (?:should be|is) \d+",
        r"(?:toma|tome|dele|tomar) \d+ ?(?:mg|ml|pastillas|tabletas)",
    ),
    P.rule_pattern(
        "output.diagnosis",
        "the answer diagnoses the user",
        r"you (?:have|probably have|likely have|most likely have|definitely have|are suffering from|are having) "
        r"(?:a |an )?(?:\w+ ){0,2}(?:\w+(?:itis|osis|emia|oma|pathy)|diabetes|cancer|infection|hypertension|"
        r"hypothyroidism|hyperthyroidism|pneumonia|a tumou?r|an ulcer|depression|anxiety disorder|melanoma|"
        r"a uti|strep|covid|the flu|migraine|asthma|heart disease|kidney disease|sleep apnea|alzheimer)",
        r"your (?:son|daughter|child|baby|husband|wife|mother|father) (?:has|probably has|likely has) "
        r"(?:a |an )?(?:\w+ ){0,2}(?:\w+(?:itis|osis|emia|oma)|diabetes|cancer|infection|adhd|autism|alzheimer)",
        r"(?:usted )?tiene (?:diabetes|cancer|una infeccion)",
    ),
    P.rule_pattern(
        "output.treatment",
        "the answer makes a treatment decision for the user",
        r"you (?:should|must|need to|can safely|can) (?:stop|discontinue|quit|skip|double|switch to|start) "
        r"(?:taking )?(?:your |the |this )?(?:\w+ ){0,2}(?:medication|medicine|pills?|dose|insulin|antibiotics?|"
        r"statin|treatment|antidepressants?|\w+(?:pril|sartan|olol|statin|formin|cillin|mycin|zepam|oxetine))",
        r"you (?:do not|don t) need (?:to see )?(?:a |an )?(?:doctor|antibiotics|treatment|surgery|medical attention)",
        r"no need to see a doctor",
        r"you (?:should|must) (?:not )?(?:have|get|refuse|decline) (?:the )?surgery",
    ),
]
_OUTPUT_HARM = [p for p in H.HARM_PATTERNS if p.rule in {"harmful.weapons", "harmful.drugs"}]
_STEPS = re.compile(r"\b(?:step \d|first,? .{0,40}then|mix|combine|heat|dissolve|grams? of|ml of)\b")


def output_findings(answer: str) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """(label, rules, reasons) for a generated answer: personal_advice, harmful or allowed."""
    t = prepare(answer)
    harm = [p for p in _OUTPUT_HARM if p.regex.search(t.norm)]
    if harm and _STEPS.search(t.norm):
        return "harmful", tuple(p.rule for p in harm), tuple(p.reason for p in harm)
    if P.SELF_HARM[1].regex.search(t.norm) and _STEPS.search(t.norm):
        return "harmful", ("output.self_harm_method",), ("the answer describes a way to self-harm",)
    hits = [p for p in _OUTPUT if p.regex.search(t.norm)]
    if hits:
        return "personal_advice", tuple(p.rule for p in hits), tuple(p.reason for p in hits)
    return "allowed", (), ()
