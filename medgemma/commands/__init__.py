"""CLI verbs, one module per area. Each module defines `register(subparsers)` and/or
`register_eval(eval_subparsers)`; handlers take argparse args and return an exit code."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from medgemma.config import Settings, load_settings


def add_common(parser: argparse.ArgumentParser) -> None:
    """Flags every verb accepts: a YAML config file and the log level."""
    parser.add_argument("--config", help="YAML settings file (overrides defaults; env and flags override it)")
    parser.add_argument("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR")


def settings_from(args: argparse.Namespace, **overrides: Any) -> Settings:
    """Settings for a verb: defaults < YAML (--config) < MEDGEMMA_* env < the given flag values."""
    return load_settings(getattr(args, "config", None), overrides=overrides)


def say(text: str = "", err: bool = False) -> None:
    """One line of a verb's output for the user: stdout (results), or stderr with err=True (progress,
    notices). Diagnostics go through logging instead."""
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}\n")
    stream.flush()


def print_json(obj: Any) -> None:
    json.dump(obj, sys.stdout, ensure_ascii=False, indent=2, default=str)
    sys.stdout.write("\n")
    sys.stdout.flush()
