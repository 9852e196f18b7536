"""The rule layer's label alone (no classifier): what the safety tests of the rules check."""

from __future__ import annotations

from medgemma.safety.rules import findings


def rules_label(text: str) -> str:
    return findings(text).label or "allowed"
