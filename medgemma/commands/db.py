"""Verbs `db migrate` and `db status`: the PostgreSQL schema of MEDGEMMA_DATABASE_URL."""

from __future__ import annotations

import argparse

from medgemma.commands import add_common, print_json, say, settings_from
from medgemma.errors import DatabaseError


def register(sub: argparse._SubParsersAction) -> None:
    db = sub.add_parser("db", help="the PostgreSQL database (MEDGEMMA_DATABASE_URL): migrations")
    dsub = db.add_subparsers(dest="db_verb", metavar="ACTION")
    dsub.required = True
    p = dsub.add_parser(
        "migrate", help="apply the pending schema migrations (safe to run from several hosts)"
    )
    add_common(p)
    p.add_argument("--target", type=int, default=None, help="stop at this version (default: the newest)")
    p.set_defaults(handler=_migrate)
    p = dsub.add_parser("status", help="which migrations are applied")
    add_common(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(handler=_status)


def _url(args: argparse.Namespace) -> str:
    url = settings_from(args).database_url
    if not url:
        raise DatabaseError(
            "No database configured: set MEDGEMMA_DATABASE_URL=postgresql://user:pass@host/db."
        )
    return url


def _migrate(args: argparse.Namespace) -> int:
    from medgemma.db import current_version, mask_url, migrate

    url = _url(args)
    ran = migrate(url, target=args.target)
    say(f"{mask_url(url)}: applied {', '.join(f'{v:03d}' for v in ran) or 'nothing (up to date)'}; "
        f"schema version {current_version(url)}")  # fmt: skip
    return 0


def _status(args: argparse.Namespace) -> int:
    from medgemma.db import mask_url
    from medgemma.db.migrations import status

    url = _url(args)
    rows = status(url)
    if args.json:
        print_json({"database": mask_url(url), "migrations": rows})
        return 0
    say(f"database {mask_url(url)}")
    for r in rows:
        say(f"  {r['version']:03d}_{r['name']:<24} {'applied' if r['applied'] else 'pending'}")
    return 0
