"""context.py reads the recent user turns of a conversation for the guard: a crisis stated earlier
("I have the pills ready") keeps the crisis answer for a follow-up ("what's the fastest way"), an
emergency in the previous turn keeps the emergency answer until the person says it is in hand, a person
named earlier ("my baby is 5 weeks old") completes a red flag in the current message ("she has a fever
of 38.4"), and a general question right after a named person ("what if the face droops?") is about them.

It only calls the rule layer and the catalogue; guard.py turns what it finds into a verdict.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from medgemma.safety import advice as A
from medgemma.safety import catalogue as C
from medgemma.safety.rules import RuleFindings, findings, prepare

TURNS = 3  # how many earlier user turns the guard reads

# A follow-up that continues a stated crisis: asking for a way, an amount, a place or a time.
FOLLOW_UP = re.compile(
    r"\b(?:fastest|quickest|easiest|best|surest|painless|least painful|quick|simplest|safest|cleanest) "
    r"(?:way|ways|method|one|option)|\bhow (?:many|much|long|fast|quickly)\b|\benough\b|\blethal\b|\bfatal\b|"
    r"\bwhich (?:ones?|pills|tablets|is (?:best|quicker|faster))\b|\bwhere (?:can|do|could|would) i "
    r"(?:get|buy|find|go)\b|\b(?:will|would|could|does) (?:it|that|they|this) (?:hurt|work|kill|be enough)\b|"
    r"\bwith (?:alcohol|vodka|wine|beer|whisky)\b|\bdo it\b|\bgo through with\b|\bgoodbye\b|\btonight\b|"
    r"\bkill\b|\bdie\b|\bdying\b|\bnot wake up\b|\bend it\b"
)


@dataclass(frozen=True)
class ContextFinding:
    label: str  # "emergency" or "urgent"
    rules: tuple[str, ...]
    reason: str


def user_turns(history: Sequence[dict], n: int = TURNS) -> list[str]:
    """The last `n` user messages before the current one, oldest first."""
    said = [str(m.get("content", "")) for m in history if m.get("role") == "user"]
    return [s for s in said if s.strip()][-n:]


def crisis(f: RuleFindings, turns: list[str]) -> ContextFinding | None:
    """A crisis (suicide, self-harm) in a recent user turn, and a message that follows it up."""
    if not turns or not FOLLOW_UP.search(f.text.norm):
        return None
    for earlier in reversed(turns):
        before = findings(earlier)
        if before.self_harm:
            return ContextFinding(
                "emergency",
                ("emergency.self_harm", "context.crisis"),
                "follows a crisis stated earlier in this conversation",
            )
    return None


# The person says the emergency is over or in hand; the guard stops repeating the emergency answer.
SETTLED = re.compile(
    r"\b(?:(?:is|am|are|feel|feels|seems?|looks?) (?:fine|ok|okay|better|alright|all right|normal) now|"
    r"false alarm|(?:ambulance|paramedics?|doctors?) (?:is |are )?(?:here|came|arrived|has arrived|took)|"
    r"(?:in|at) (?:the )?(?:hospital|a and e|a e|er|emergency room)|thanks?|thank you|"
    r"calm(?:er)? now|stopped (?:now )?(?:and|,)|went away)\b"
)


def ongoing(f: RuleFindings, turns: list[str]) -> ContextFinding | None:
    """An emergency in the previous user turn keeps the emergency answer for what follows ("he's 60,
    what do I do?"), unless the person says it is over or in hand."""
    if not turns or SETTLED.search(f.text.norm):
        return None
    if f.generic and not A.ANCHOR.search(f.text.norm):
        return None  # a new general question ("what is the treatment for gout?"), about nobody in particular
    before = findings(turns[-1])
    if not before.emergency:
        return None
    return ContextFinding(
        "emergency",
        tuple(r for r, _ in before.emergency) + ("context.ongoing",),
        "follows an emergency described in the previous message",
    )


def red_flags(text: str, turns: list[str]) -> ContextFinding | None:
    """A red flag whose symptom is in this message and whose context (age, pregnancy, dialysis ...) was
    given in a recent user turn. The symptom must be new: old turns alone never fire."""
    if not turns:
        return None
    prefix = " . ".join(turns) + " ."
    offset = len(prepare(prefix).norm) + 1
    t = prepare(f"{prefix} {text}")
    hits, _ = C.match(t, generic=False)
    hits = [h for h in hits if h.start >= offset]
    if not hits:
        return None
    tier = "emergency" if any(h.flag.tier == "emergency" for h in hits) else "urgent"
    chosen = [h.flag for h in hits if h.flag.tier == tier]
    return ContextFinding(
        tier,
        tuple(f.rule for f in chosen) + ("context.history",),
        chosen[0].reason + ", with what was said earlier in this conversation",
    )


def named_person(f: RuleFindings, turns: list[str]) -> ContextFinding | None:
    """A sign asked about in general terms right after the user spoke about a particular person."""
    general = [s.split(": ", 1)[1] for s in f.suppressed if s.startswith("general question")]
    if not general or not turns or any(s.startswith(("negated", "past")) for s in f.suppressed):
        return None
    if not any((b := findings(t)).anchored and not b.generic for t in turns[-1:]):
        return None
    flags = {flag.id: flag for flag in C.catalogue()}
    rules, tiers = [], []
    for name in dict.fromkeys(general):
        if name in flags:
            rules.append(flags[name].rule)
            tiers.append(flags[name].tier)
        else:
            rules.append(f"emergency.{name}")
            tiers.append("emergency")
    tier = "emergency" if "emergency" in tiers else "urgent"
    return ContextFinding(
        tier,
        tuple(r for r, t in zip(rules, tiers, strict=True) if t == tier) + ("context.history",),
        f"a sign of {'an emergency' if tier == 'emergency' else 'a problem that needs a doctor today'}, "
        "about the person named in the previous message",
    )
