"""The versioned schema on a real PostgreSQL, up to migration 002 (shared state): an empty database migrates
to the newest version, a database at version 1 with knowledge rows in it migrates to 2 keeping them, and
migrating again, or from several processes at once, applies each file once."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import psycopg

from medgemma.db import connect, current_version, migrate, migrations

ROOT = Path(__file__).resolve().parents[2]
SHARED_TABLES = {"feedback", "audit_log", "login_failures", "jobs", "app_state"}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def _applied(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def test_shared_state_is_migration_2_and_the_newest_includes_it():
    versions = {m.version: m.name for m in migrations()}
    assert versions[2] == "shared_state" and versions[1] == "knowledge"


def test_an_empty_database_migrates_to_the_newest_version(pg_url):
    assert current_version(pg_url) == 0 and not (_tables(pg_url) & SHARED_TABLES)
    applied = migrate(pg_url)
    assert applied == [m.version for m in migrations()] and 2 in applied
    assert current_version(pg_url) == migrations()[-1].version
    assert SHARED_TABLES <= _tables(pg_url)
    assert migrate(pg_url) == []  # again: nothing to do, nothing changed
    assert [v for v, _ in _applied(pg_url)] == [m.version for m in migrations()]


def test_a_database_at_version_1_with_rows_migrates_to_2_keeping_them(pg_url):
    assert migrate(pg_url, target=1) == [1]
    assert current_version(pg_url) == 1 and not (_tables(pg_url) & SHARED_TABLES)
    vector = np.arange(1, 5, dtype=np.float32) / 10
    with connect(pg_url) as conn:  # what a version-1 knowledge store holds: an index, a document, a chunk
        index_id = conn.execute(
            "INSERT INTO kb_indexes (name, embedding_model, dimension, documents, chunks)"
            " VALUES ('default', 'all-MiniLM-L6-v2', 4, 1, 1) RETURNING id"
        ).fetchone()[0]
        conn.execute(
            "INSERT INTO kb_documents (index_id, doc_id, source_key, hash, record, parts)"
            " VALUES (%s, 'gout', 'gout.md', 'h1', '{\"title\": \"Gout\"}', '[]')",
            (index_id,),
        )
        conn.execute(
            "INSERT INTO kb_chunks (index_id, doc_id, chunk_id, chunk, lexical, embedding_model, dimension,"
            " embedding) VALUES (%s, 'gout', 'gout#0', '{}', 'Gout is caused by uric acid crystals.',"
            " 'all-MiniLM-L6-v2', 4, %s)",
            (index_id, vector),
        )
        conn.execute("INSERT INTO kb_status (name, status) VALUES ('default', '{\"state\": \"ready\"}')")
        conn.commit()

    assert migrate(pg_url) == [2]
    assert current_version(pg_url) == 2 and SHARED_TABLES <= _tables(pg_url)
    with connect(pg_url) as conn:
        assert conn.execute("SELECT name, documents, chunks FROM kb_indexes").fetchall() == [
            ("default", 1, 1)
        ]
        assert conn.execute("SELECT doc_id, record->>'title' FROM kb_documents").fetchall() == [
            ("gout", "Gout")
        ]
        chunk, kept = conn.execute("SELECT lexical, embedding FROM kb_chunks").fetchone()
        assert chunk == "Gout is caused by uric acid crystals." and np.allclose(kept.to_numpy(), vector)
        lexical = conn.execute("SELECT count(*) FROM kb_chunks WHERE tsv @@ to_tsquery('english', 'uric')")
        assert lexical.fetchone()[0] == 1
        assert conn.execute("SELECT status->>'state' FROM kb_status").fetchone()[0] == "ready"
    assert _applied(pg_url) == [(1, "knowledge"), (2, "shared_state")]


def test_processes_migrating_at_once_apply_each_file_once(pg_url):
    """Three real processes (three replicas starting together) migrate one empty database at the same time."""
    code = "import sys; from medgemma.db import migrate; print(migrate(sys.argv[1]))"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code, pg_url],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err[-1500:] for _, err in outputs]
    applied = [v for out, _ in outputs for v in ast.literal_eval(out.strip().splitlines()[-1])]
    assert sorted(applied) == [m.version for m in migrations()]  # every file applied by exactly one
    assert [v for v, _ in _applied(pg_url)] == [m.version for m in migrations()]
    assert SHARED_TABLES <= _tables(pg_url)
