"""guard.py is the chat's safety guard: it labels a message (allowed, urgent, emergency, personal_advice,
harmful), writes the audit log, and words the fixed emergency, urgent, refusal and personal-advice responses.

It combines the rule layer (rules, with the red-flag catalogue), the recent user turns (context), the
learned layer and the optional classifier hook (safety_model). It never calls the chat model, and nothing in a message or a document can switch it off.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from medgemma.config import Settings
from medgemma.errors import DatabaseError
from medgemma.safety import audit, context
from medgemma.safety.classifier import SafetyClassifier, artifact_for
from medgemma.safety.frames import mask_idioms
from medgemma.safety.model_guard import ModelGuard
from medgemma.safety.responses import emergency_text, refusal_text, urgent_text
from medgemma.safety.rules import RuleFindings, findings, output_findings
from medgemma.types import LABELS, Verdict

if TYPE_CHECKING:
    from medgemma.knowledge.embeddings import Embedders

logger = logging.getLogger(__name__)

EU_112 = (
    "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO CH "
    "IN TR RU UA RS"
).split()
EMERGENCY_NUMBERS = {
    "US": "911",
    "CA": "911",
    "MX": "911",
    "PH": "911",
    "AR": "911",
    "GB": "999",
    "UK": "999",
    "HK": "999",
    "AU": "000",
    "NZ": "111",
    "JP": "119",
    "KR": "119",
    "CN": "120",
    "BR": "192",
    "CO": "123",
    "CL": "131",
    "ZA": "112",
    "SG": "995",
    **{c: "112" for c in EU_112},
}
CRISIS_LINES = {
    "US": "988",
    "CA": "988",
    "GB": "116 123",
    "UK": "116 123",
    "IE": "116 123",
    "AU": "13 11 14",
    "NZ": "1737",
    "ES": "024",
    "MX": "800 911 2000",
    "FR": "3114",
    "DE": "0800 111 0 111",
}
DEFAULT_CRISIS = "988"

# The classifier adds catches above its own thresholds (in its sidecar); the rules stay authoritative.
LEARNED_OVERRULE = 0.90  # the classifier's vote where the rules found a reason to hold back


def emergency_number(settings: Settings) -> str:
    return settings.emergency_number or EMERGENCY_NUMBERS.get(settings.locale.upper(), "112")


def crisis_line(settings: Settings) -> str:
    if settings.crisis_line and settings.crisis_line != DEFAULT_CRISIS:
        return settings.crisis_line
    return CRISIS_LINES.get(settings.locale.upper(), "") or (
        "988" if settings.locale.upper() in {"US", "CA"} else ""
    )


def hash_session(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()[:16] if session_id else ""


class SafetyGuard:
    """Rules first (fast, no model), then the learned layer and the optional classifier for the rest."""

    def __init__(self, settings: Settings, warm: bool = True, embedders: Embedders | None = None) -> None:
        """The learned layer is the fine-tuned classifier shipped in data/ (own encoder, loaded on first
        use); `embedders` is accepted from callers that share models but the classifier needs none."""
        self.settings = settings
        self.learned = SafetyClassifier(artifact_for(settings)) if settings.safety_learned else None
        self.classifier = (
            ModelGuard(settings.safety_model, settings.device) if settings.safety_model else None
        )
        self._warm = warm
        self._warm_started = False

    def warm_up(self) -> None:
        """Load (or train) the learned layer in a background thread; the rules work meanwhile."""
        if self.learned is not None and self._warm and not self._warm_started:
            self._warm_started = True
            threading.Thread(target=self.learned.ensure_ready, name="safety-warmup", daemon=True).start()

    # ---- decisions ------------------------------------------------------------------
    def check_input(self, text: str, history: Sequence[dict] | None = None, session_id: str = "") -> Verdict:
        """Label one user message and audit-log it; emergencies are decided by the rules alone, in ms."""
        verdict = self.classify(text, history)
        self._audit("input", verdict, text, session_id)
        self.warm_up()  # after the verdict: loading the model must never delay an emergency answer
        return verdict

    def classify(self, text: str, history: Sequence[dict] | None = None) -> Verdict:
        """Label one user message without writing the audit log (evaluation, benchmarks)."""
        return self._decide(text or "", list(history or []))

    def classify_many(self, texts: Sequence[str]) -> list[Verdict]:
        """Label many messages (no history, no audit), embedding them in batches for the learned layer."""
        probs = self.probabilities_many(texts)
        return [self._decide(t or "", [], p) for t, p in zip(texts, probs, strict=True)]

    def probabilities_many(self, texts: Sequence[str]) -> list[dict[str, float] | None]:
        """The classifier's probabilities for many messages in batches (None each without a classifier)."""
        if self.learned is None or not texts or not self.learned.ensure_ready():
            return [None] * len(texts)
        rows = self.learned.predict([mask_idioms(t or "") for t in texts])
        return [dict(zip(LABELS, map(float, row), strict=True)) for row in rows]

    def check_output(self, answer: str, session_id: str = "") -> Verdict:
        """Catch answers that give the user a dose, a diagnosis, a treatment decision, or unsafe steps."""
        label, rules, reasons = output_findings(answer or "")
        verdict = Verdict(label, reasons, rules, 1.0 if rules else 0.0)
        self._audit("output", verdict, answer, session_id)
        return verdict

    def _decide(self, text: str, history: list[dict], probs: dict[str, float] | None = None) -> Verdict:
        f = findings(text)
        lang = ("lang.es",) if f.text.spanish else ()
        if f.emergency:
            return Verdict("emergency", f.reasons(), f.rules() + lang, 1.0)
        turns = context.user_turns(history)
        blocked = f.harmful or f.injection
        found = (
            context.crisis(f, turns)
            or context.ongoing(f, turns)
            or context.named_person(f, turns)
            or context.red_flags(text, turns)
        )
        if found is not None and (found.label == "emergency" or not blocked):  # harm outranks urgent
            return Verdict(found.label, (found.reason,), found.rules + lang, 0.9)
        if blocked:
            return Verdict("harmful", f.reasons(), f.rules() + lang, 1.0)
        if f.urgent:
            return Verdict("urgent", f.reasons(), f.rules() + lang, 1.0)
        probs = probs or self._probabilities(text)
        learned = self._learned_label(f, probs) if probs else None
        if learned == "emergency":
            return Verdict(
                "emergency",
                ("resembles messages about an emergency happening now",),
                ("learned.emergency",) + lang,
                round(probs["emergency"], 3),
            )
        if learned == "harmful":
            return Verdict(
                "harmful",
                ("resembles harmful requests",),
                ("learned.harmful",) + lang,
                round(probs["harmful"], 3),
            )
        if learned == "urgent":
            return Verdict(
                "urgent",
                ("resembles messages about a problem that needs a doctor today",),
                ("learned.urgent",) + lang,
                round(probs["urgent"], 3),
            )
        if self.classifier is not None:  # a hub guard model: its medical-advice category is not a block
            said = self.classifier.check(text)
            if said.label in ("harmful", "emergency") or (said.label == "personal_advice" and not f.personal):
                return Verdict(
                    said.label,
                    (f"flagged by the safety model ({said.detail})",),
                    (f"model.{self.settings.safety_model}",) + lang,
                    round(said.score, 3),
                )
        if f.personal:
            return Verdict("personal_advice", f.reasons(), f.rules() + lang, 1.0)
        score = round(probs["allowed"], 3) if probs else 1.0
        return Verdict("allowed", (), (), score)

    def _probabilities(self, text: str) -> dict[str, float] | None:
        if self.learned is None or not self.learned.ensure_ready():
            return None
        return self.learned.probabilities(mask_idioms(text))

    def _learned_label(self, f: RuleFindings, probs: dict[str, float]) -> str | None:
        """The classifier's vote above its per-label thresholds (picked on validation). Where the rules
        know better (a negation, the past, a general question that names nobody, a myth to check or a
        plan for later, a benign context, the user's own question) it must be surer (LEARNED_OVERRULE)
        to add a catch; a message told as settled ("stopped after 5 minutes", "now playing normally")
        gets no emergency or urgent vote, nor a carer's question ("how can I support my daughter who
        used to self-harm") a harmful one. Its personal_advice vote is not used: alone it flagged general
        questions told in the first person ("is 128/82 fine for a 50 year old"); personal advice is the
        rules' call (a dose, a diagnosis, a change to a treatment)."""
        assert self.learned is not None
        vote = self.learned.label(probs)
        if vote is None or (vote in ("emergency", "urgent") and f.settled):
            return None  # told as over ("stopped after 5 minutes", "now playing normally"): rules decide
        if vote == "harmful" and f.support:  # "how can I support my daughter who used to self-harm"
            return None  # a carer; the rules catch real harm inside such a question
        doubt = (
            (
                vote in ("emergency", "urgent")
                and (bool(f.suppressed) or f.not_now or (f.generic and not f.anchored))
            )
            or (vote == "harmful" and (f.benign_context or f.personal))
            or f.text.spanish  # MiniLM reads little Spanish: the rules carry it
        )
        return vote if not doubt or probs[vote] >= LEARNED_OVERRULE else None

    # ---- audit ----------------------------------------------------------------------
    def _audit(self, stage: str, verdict: Verdict, text: str, session_id: str) -> None:
        if verdict.allowed:
            return
        record: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "stage": stage,
            "label": verdict.label,
            "rules": list(verdict.rules),
            "reasons": list(verdict.reasons),
            "score": verdict.score,
            "session": hash_session(session_id),
        }
        if self.settings.audit_raw_text:
            record["text"] = text
        try:
            audit.write(self.settings, "safety", record)
        except (OSError, DatabaseError):
            logger.exception("Could not write the safety audit log")

    # ---- responses ------------------------------------------------------------------
    def emergency_response(self, verdict: Verdict) -> str:

        return emergency_text(verdict, emergency_number(self.settings), crisis_line(self.settings))

    def urgent_response(self, verdict: Verdict) -> str:
        """See a clinician today (by locale), said before the general, cited answer."""
        return urgent_text(verdict, emergency_number(self.settings), self.settings.locale)

    def urgent_line(self, verdict: Verdict) -> str:
        """The urgent note's first paragraph, which opens the chat's answer."""
        return self.urgent_response(verdict).split("\n\n", 1)[0]

    def refusal_response(self, verdict: Verdict) -> str:

        return refusal_text(verdict, emergency_number(self.settings))

    def personal_advice_note(self) -> str:
        return (
            "I can share general information from medical sources, but I can't diagnose you, choose a "
            "dose, or make a treatment decision for you. Please check with a doctor or pharmacist who "
            "knows your situation."
        )
