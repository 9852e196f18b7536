"""connect.py opens PostgreSQL connections from a URL (Settings.database_url): one small pool per URL
per process, pgvector's types registered, and every failure turned into a DatabaseError that names the
problem with the password masked. It knows nothing about tables (migrations.py and the stores do).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from medgemma.errors import DatabaseError

logger = logging.getLogger(__name__)

POOL_SIZE = 8  # idle connections kept per URL; more are opened when needed and closed on return
CONNECT_TIMEOUT = 10


def mask_url(url: str) -> str:
    """The URL with its password replaced by *** (safe to log or show)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparsable database URL>"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def _secret(url: str) -> str | None:
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def _clean(text: str, url: str) -> str:
    secret = _secret(url)
    text = text.replace(url, mask_url(url))
    if secret:
        text = text.replace(secret, "***")
    return re.sub(r"password=\S+", "password=***", text).strip()


def explain(exc: Exception, url: str) -> DatabaseError:
    """A DatabaseError for a psycopg failure: what went wrong and what to check, password masked."""
    import psycopg

    where = mask_url(url)
    detail = _clean(str(exc), url).splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, psycopg.ProgrammingError) and "dsn" in str(exc).lower():
        hint = "MEDGEMMA_DATABASE_URL is not a valid URL; expected postgresql://user:password@host:5432/db"
    elif "password authentication failed" in str(exc) or "no password supplied" in str(exc):
        hint = "the server refused the user name or password in MEDGEMMA_DATABASE_URL"
    elif "does not exist" in str(exc) and "database" in str(exc):
        hint = "the database in MEDGEMMA_DATABASE_URL does not exist: create it (createdb) first"
    elif isinstance(exc, psycopg.OperationalError):
        hint = "cannot reach the PostgreSQL server: is it running, and are the host and port right?"
    else:
        hint = "the database refused the request"
    return DatabaseError(f"Database {where}: {hint} ({detail}).")


def connect(url: str, *, autocommit: bool = False, vector: bool = True) -> Any:
    """A new psycopg connection; `vector` registers pgvector's types (the extension must exist)."""
    if not url:
        raise DatabaseError(
            "No database configured: set MEDGEMMA_DATABASE_URL=postgresql://user:pass@host/db."
        )
    if not url.startswith(("postgresql://", "postgres://")):
        raise DatabaseError(
            f"MEDGEMMA_DATABASE_URL must start with postgresql:// (got {mask_url(url).split(':', 1)[0]}:...)."
        )
    import psycopg

    try:
        conn = psycopg.connect(url, autocommit=autocommit, connect_timeout=CONNECT_TIMEOUT)
    except psycopg.Error as exc:
        raise explain(exc, url) from None
    if vector:
        try:
            from pgvector.psycopg import register_vector

            register_vector(conn)
        except psycopg.ProgrammingError:
            conn.close()
            raise DatabaseError(
                f"Database {mask_url(url)}: the pgvector extension is not installed in this database; "
                "run `python -m medgemma db migrate` (it needs pgvector on the server: CREATE EXTENSION vector)."
            ) from None
    return conn


class Database:
    """A URL and a small pool of its connections. `with db.connection() as conn:` gives a connection
    outside any transaction; `with db.transaction() as conn:` one whose block commits or rolls back."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.masked = mask_url(url)
        self._idle: list[Any] = []
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Database({self.masked})"

    @contextmanager
    def connection(self) -> Iterator[Any]:
        import psycopg

        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None or conn.closed:
            conn = connect(self.url)
        try:
            yield conn
        except psycopg.OperationalError as exc:
            conn.close()
            raise explain(exc, self.url) from None
        except BaseException:
            if not conn.closed:
                conn.rollback()
            raise
        if conn.closed or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            if not conn.closed:
                conn.rollback()
        with self._lock:
            if len(self._idle) < POOL_SIZE and not conn.closed:
                self._idle.append(conn)
                conn = None
        if conn is not None:
            conn.close()

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        with self.connection() as conn, conn.transaction():
            yield conn

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


_databases: dict[str, Database] = {}
_guard = threading.Lock()


def database(url: str) -> Database:
    """The process's one Database for this URL (its pool is shared by every store and state object)."""
    with _guard:
        if url not in _databases:
            _databases[url] = Database(url)
        return _databases[url]
