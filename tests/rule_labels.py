"""The rule layer's verdict alone (no classifier): what the safety tests of the rules check."""

from __future__ import annotations

from medgemma.safety.rules import findings


def rules_label(text: str) -> str:
    return findings(text).label or "allowed"


def harm_rules(text: str) -> list[str]:
    """The harmful rules that fired on a message."""
    return [rule for rule, _ in findings(text).harmful]
