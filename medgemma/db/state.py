"""state.py is the one place that decides where the shared state lives: files under the data home (the
default) or, with MEDGEMMA_DATABASE_URL set, the PostgreSQL tables of migration 002, so app replicas on one
database share feedback, audit logs, login lock-outs, the job list and the active adapter.

The file (or in-memory) implementations live next to the code that uses them; the PostgreSQL ones are here
(the job registry's in jobs_state.py). It knows the tables, not what the records mean.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar

from medgemma.config import Settings
from medgemma.errors import DatabaseError

if TYPE_CHECKING:
    from medgemma.chat.feedback import FeedbackStore
    from medgemma.db.connect import Database
    from medgemma.jobs.registry import JobRegistry
    from medgemma.models.adapters import AdapterChoice
    from medgemma.safety.audit import AuditLog

logger = logging.getLogger(__name__)
T = TypeVar("T")


def shared_database(settings: Settings) -> Database | None:
    """The configured database, migrated to the newest schema on first use in this process; None for files."""
    if not settings.database_url:
        return None
    from medgemma.db.connect import database
    from medgemma.db.migrations import ensure

    ensure(settings.database_url)
    return database(settings.database_url)


# ---- choosing an implementation -----------------------------------------------------------------


def feedback_store(settings: Settings) -> FeedbackStore:
    db = shared_database(settings)
    if db is not None:
        return PgFeedback(db)
    from medgemma.chat.feedback import FileFeedback, feedback_path

    return FileFeedback(feedback_path(settings))


def audit_log(settings: Settings) -> AuditLog:
    db = shared_database(settings)
    if db is not None:
        return PgAudit(db)
    from medgemma.safety.audit import FileAudit

    return FileAudit(settings.path("audit"))


def lockout_store(settings: Settings, limit: int, window_s: float) -> Any:
    """Failed logins per client: in this process's memory (chat.limits.RateLimiter) or in the database,
    so a client locked out through one replica is locked out on every one."""
    db = shared_database(settings)
    if db is not None:
        return PgLockouts(db, limit, window_s)
    from medgemma.chat.limits import RateLimiter

    return RateLimiter(limit, window_s)


def job_registry(settings: Settings) -> JobRegistry:
    db = shared_database(settings)
    if db is not None:
        from medgemma.db.jobs_state import PgJobRegistry

        return PgJobRegistry(db, settings)
    from medgemma.jobs.registry import FileRegistry

    return FileRegistry(settings)


def adapter_choice(settings: Settings) -> AdapterChoice:
    db = shared_database(settings)
    if db is not None:
        return PgAdapterChoice(db)
    from medgemma.models.adapters import ACTIVE_FILE, FileAdapterChoice

    return FileAdapterChoice(settings.path(ACTIVE_FILE))


# ---- the PostgreSQL implementations ----------------------------------------------------------------


def retried(db: Database, work: Callable[[], T]) -> T:
    """Run a read or an idempotent write, once more on fresh connections if the first try lost its connection
    (pooled connections the server closed, a restart): written rows are keyed by an id made before the first
    try, so a retry cannot store one twice."""
    try:
        return work()
    except DatabaseError as exc:
        logger.warning("database call failed (%s); retrying once on a new connection", exc)
        db.close()  # the other pooled connections are most likely dead too
        return work()


def fetch(db: Database, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """The rows of one read (retried like a write: a read is always safe to repeat)."""

    def read() -> list[tuple[Any, ...]]:
        with db.connection() as conn:
            return conn.execute(sql, params).fetchall()

    return retried(db, read)


def jsonb(value: Any) -> Any:
    from psycopg.types.json import Jsonb

    return Jsonb(value)


class PgFeedback:
    """Table feedback: one row per record id (INSERT ... ON CONFLICT DO NOTHING)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, record: dict[str, Any]) -> None:
        def write() -> None:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO feedback (id, rating, record) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    (record["id"], record["rating"], jsonb(record)),
                )

        retried(self.db, write)

    def records(self) -> Iterator[dict[str, Any]]:
        return iter([r[0] for r in fetch(self.db, "SELECT record FROM feedback ORDER BY seq")])


class PgAudit:
    """Table audit_log: one row per record, per stream, in the order written; the row id is made before
    the first try, so a retried insert stores it once."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def append(self, stream: str, record: dict[str, Any]) -> None:
        row_id = uuid.uuid4().hex

        def write() -> None:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO audit_log (id, stream, record) VALUES (%s, %s, %s) ON CONFLICT (id) DO NOTHING",
                    (row_id, stream, jsonb(record)),
                )

        retried(self.db, write)

    def records(self, stream: str) -> Iterator[dict[str, Any]]:
        rows = fetch(self.db, "SELECT record FROM audit_log WHERE stream = %s ORDER BY seq", (stream,))
        return iter([r[0] for r in rows])


class PgLockouts:
    """Table login_failures: one row per failed login, keyed by a hash of the client (never the address
    itself), timed by the database's clock so replicas with skewed clocks agree. The same interface as
    chat.limits.RateLimiter: at most `limit` failures per `window_s` seconds per client."""

    def __init__(self, db: Database, limit: int, window_s: float) -> None:
        self.db, self.limit, self.window_s = db, limit, float(window_s)

    @staticmethod
    def _key(client: str) -> str:
        return hashlib.sha256(client.encode()).hexdigest()

    def wait_s(self, key: str) -> float:
        """Seconds until `key` may try again: 0.0 while it has fewer than `limit` failures in the window."""
        rows = fetch(
            self.db,
            "SELECT extract(epoch FROM clock_timestamp() - at) FROM login_failures"
            " WHERE client = %s AND at > clock_timestamp() - make_interval(secs => %s)"
            " ORDER BY at DESC OFFSET %s LIMIT 1",
            (self._key(key), self.window_s, self.limit - 1),
        )
        return 0.0 if not rows else max(0.0, self.window_s - float(rows[0][0]))

    def record(self, key: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO login_failures (client) VALUES (%s)", (self._key(key),))
            conn.execute(  # forget failures older than the window, everyone's
                "DELETE FROM login_failures WHERE at < clock_timestamp() - make_interval(secs => %s)",
                (self.window_s,),
            )

    def reset(self, key: str) -> None:
        def write() -> None:
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM login_failures WHERE client = %s", (self._key(key),))

        retried(self.db, write)

    def keys(self) -> int:
        """How many clients have failures within the window."""
        sql = "SELECT count(DISTINCT client) FROM login_failures WHERE at > clock_timestamp() - make_interval(secs => %s)"
        return fetch(self.db, sql, (self.window_s,))[0][0]


class PgAdapterChoice:
    """Row 'active_adapter' of table app_state: the admin's adapter choice, the same for every replica."""

    KEY = "active_adapter"

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self) -> dict[str, Any] | None:
        rows = fetch(self.db, "SELECT value FROM app_state WHERE key = %s", (self.KEY,))
        return rows[0][0] if rows else None

    def set(self, choice: dict[str, Any]) -> None:
        def write() -> None:
            with self.db.transaction() as conn:
                conn.execute(
                    "INSERT INTO app_state (key, value) VALUES (%s, %s)"
                    " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated = clock_timestamp()",
                    (self.KEY, jsonb(choice)),
                )

        retried(self.db, write)
