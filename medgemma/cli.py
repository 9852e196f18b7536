"""cli.py is the `python -m medgemma` entry point: it builds the parser from medgemma/commands/.

Each module in medgemma/commands/ registers its own verbs with `register(subparsers)` and, for the
shared `eval` verb, its sub-verbs with `register_eval(eval_subparsers)`. A verb's handler takes the
parsed arguments and returns an exit code. UserFacingError becomes a one-line message and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
from collections.abc import Sequence

from medgemma import __version__
from medgemma.commands import say
from medgemma.errors import UserFacingError

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    import medgemma.commands as commands

    parser = argparse.ArgumentParser(
        prog="python -m medgemma",
        description="MedGemma AI Platform: cited medical chat, knowledge base, training, evaluation, export.",
    )
    parser.add_argument("--version", action="version", version=f"medgemma {__version__}")
    sub = parser.add_subparsers(dest="verb", metavar="VERB")
    sub.required = True
    eval_parser = sub.add_parser("eval", help="evaluate retrieval, safety or the assistant")
    eval_sub = eval_parser.add_subparsers(dest="eval_verb", metavar="SUITE")
    eval_sub.required = True
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"medgemma.commands.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
        if hasattr(module, "register_eval"):
            module.register_eval(eval_sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from medgemma.logs import setup_logging

    setup_logging(getattr(args, "log_level", None))
    try:
        return int(args.handler(args) or 0)
    except UserFacingError as exc:
        say(f"error: {exc}", err=True)
        return 2
    except KeyboardInterrupt:
        say("interrupted", err=True)
        return 130
