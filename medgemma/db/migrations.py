"""migrations.py applies the versioned schema: medgemma/db/migrations/NNN_name.sql, in order, each in its
own transaction under one advisory lock (two replicas starting at once apply each file once), recorded
in schema_migrations. It knows nothing about what the tables hold.
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from medgemma.db.connect import connect, explain, mask_url
from medgemma.errors import DatabaseError

logger = logging.getLogger(__name__)

FOLDER = Path(__file__).with_name("migrations")
LOCK_KEY = 7_461_023_918  # pg_advisory_xact_lock key of the migrations (any constant bigint)
_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)"""
_done: set[str] = set()  # URLs this process migrated to the newest version
_done_lock = threading.Lock()


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path

    def sql(self) -> str:
        return self.path.read_text(encoding="utf-8")


def migrations(folder: Path = FOLDER) -> list[Migration]:
    """The migration files, oldest first; two files with one number are a packaging bug."""
    found = []
    for p in sorted(folder.glob("*.sql")):
        m = _NAME.match(p.name)
        if m is None:
            raise DatabaseError(f"{p.name}: migration files are named NNN_name.sql")
        found.append(Migration(int(m.group(1)), m.group(2), p))
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise DatabaseError(f"two migrations share a number in {folder}: {versions}")
    return found


def _applied(conn) -> dict[int, str]:
    exists = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()[0]
    if not exists:
        return {}
    return dict(conn.execute("SELECT version, name FROM schema_migrations").fetchall())


def current_version(url: str) -> int:
    """The newest applied migration (0 on an empty database)."""
    import psycopg

    with connect(url, vector=False) as conn:
        try:
            applied = _applied(conn)
        except psycopg.Error as exc:
            raise explain(exc, url) from None
    return max(applied, default=0)


def status(url: str) -> list[dict]:
    """Every known migration with whether it is applied."""
    import psycopg

    with connect(url, vector=False) as conn:
        try:
            applied = _applied(conn)
        except psycopg.Error as exc:
            raise explain(exc, url) from None
    return [{"version": m.version, "name": m.name, "applied": m.version in applied} for m in migrations()]


def migrate(url: str, target: int | None = None, folder: Path = FOLDER) -> list[int]:
    """Apply the pending migrations up to `target` (default: all); returns the versions this call applied.
    Each runs in one transaction holding the advisory lock, so a concurrent migrate waits, then skips it."""
    import psycopg

    wanted = [m for m in migrations(folder) if target is None or m.version <= target]
    ran: list[int] = []
    with connect(url, vector=False) as conn:
        for m in wanted:
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                    conn.execute(_TABLE)
                    if m.version in _applied(conn):
                        continue
                    conn.execute(m.sql())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)", (m.version, m.name)
                    )
            except psycopg.errors.FeatureNotSupported as exc:
                raise _extension_error(exc, url, m) from None
            except psycopg.errors.UndefinedFile as exc:
                raise _extension_error(exc, url, m) from None
            except psycopg.errors.InsufficientPrivilege as exc:
                raise DatabaseError(
                    f"Database {mask_url(url)}: migration {m.path.name} needs more privileges "
                    f"({str(exc).splitlines()[0]}); run it once as the database owner."
                ) from None
            except psycopg.Error as exc:
                raise DatabaseError(f"Migration {m.path.name} failed: {explain(exc, url)}") from None
            ran.append(m.version)
            logger.info("applied migration %03d_%s to %s", m.version, m.name, mask_url(url))
    return ran


def _extension_error(exc: Exception, url: str, m: Migration) -> DatabaseError:
    return DatabaseError(
        f"Database {mask_url(url)}: migration {m.path.name} needs the pgvector extension, which this server "
        f"does not have ({str(exc).splitlines()[0]}). Install pgvector (https://github.com/pgvector/pgvector) "
        "or use a server that bundles it."
    )


def ensure(url: str) -> None:
    """Migrate this URL to the newest version once per process (the stores call it before first use)."""
    with _done_lock:
        if url in _done:
            return
        migrate(url)
        _done.add(url)
