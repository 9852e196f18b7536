"""Migrations on a real PostgreSQL: an empty database, repeats, concurrent replicas, errors with the
password masked, and the knowledge schema's manifest checks."""

from __future__ import annotations

import threading

import numpy as np
import psycopg
import pytest

from medgemma.db import connect, current_version, mask_url, migrate, migrations
from medgemma.db.migrations import status
from medgemma.errors import DatabaseError


def test_empty_database_migrates_to_newest(pg_url):
    assert current_version(pg_url) == 0
    newest = migrations()[-1].version
    assert migrate(pg_url) == [m.version for m in migrations()]
    assert current_version(pg_url) == newest
    assert migrate(pg_url) == []  # a second run applies nothing
    assert all(r["applied"] for r in status(pg_url))
    with connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert {"schema_migrations", "kb_indexes", "kb_documents", "kb_chunks", "kb_status"} <= tables


def test_target_stops_early(pg_url):
    assert migrate(pg_url, target=1) == [1]
    assert current_version(pg_url) == 1


def test_replicas_migrating_at_once_apply_each_file_once(pg_url):
    results, errors = [], []

    def run():
        try:
            results.append(migrate(pg_url))
        except Exception as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    applied = sorted(v for r in results for v in r)
    assert applied == [m.version for m in migrations()]  # each version applied by exactly one caller
    with connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(migrations())


def test_errors_name_the_problem_and_mask_the_password(pg_server):
    secret = "s3cr3t-pw"
    refused = f"postgresql://bob:{secret}@127.0.0.1:1/db"
    with pytest.raises(DatabaseError) as err:
        migrate(refused)
    assert secret not in str(err.value) and "cannot reach" in str(err.value) and "bob:***@" in str(err.value)
    missing = pg_server.url("no_such_db").replace("postgres@", f"postgres:{secret}@")
    with pytest.raises(DatabaseError) as err:
        current_version(missing)
    assert secret not in str(err.value) and "does not exist" in str(err.value)
    with pytest.raises(DatabaseError, match="must start with postgresql://"):
        connect(f"mysql://u:{secret}@h/db")
    assert mask_url(f"postgresql://u:{secret}@h:5/db") == "postgresql://u:***@h:5/db"


def test_vector_types_need_the_extension(pg_url):
    with pytest.raises(DatabaseError, match="pgvector extension is not installed"):
        connect(pg_url)  # an unmigrated database has no `vector` type yet
    migrate(pg_url)
    connect(pg_url).close()


def test_chunks_must_match_their_index_model_and_dimension(pg_db):
    with connect(pg_db) as conn:
        (idx,) = conn.execute(
            "INSERT INTO kb_indexes (name, embedding_model, dimension) VALUES ('x', 'm1', 3) RETURNING id"
        ).fetchone()
        conn.execute(
            "INSERT INTO kb_documents (index_id, doc_id, record, parts) VALUES (%s, 'd', '{}', '[]')", (idx,)
        )
        row = "INSERT INTO kb_chunks (index_id, doc_id, chunk_id, chunk, lexical, embedding_model, dimension, embedding) VALUES (%s, 'd', 'c', '{}', 'text', %s, %s, %s)"  # noqa: E501
        conn.execute(row, (idx, "m1", 3, np.ones(3, dtype=np.float32)))
        conn.commit()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(row, (idx, "m2", 3, np.ones(3, dtype=np.float32)))  # another model
        conn.rollback()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(row, (idx, "m1", 3, np.ones(4, dtype=np.float32)))  # another dimension
        conn.rollback()
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("UPDATE kb_indexes SET backend = 'faiss'")


def test_cli_verbs(pg_url, monkeypatch, capsys):
    from medgemma.cli import main

    assert main(["db", "migrate"]) == 2  # no database configured: a one-line error, exit 2
    assert "MEDGEMMA_DATABASE_URL" in capsys.readouterr().err
    monkeypatch.setenv("MEDGEMMA_DATABASE_URL", pg_url)
    assert main(["db", "status"]) == 0 and "pending" in capsys.readouterr().out
    assert main(["db", "migrate", "--target", "1"]) == 0 and "applied 001" in capsys.readouterr().out
    assert (
        main(["db", "migrate"]) == 0
        and f"schema version {migrations()[-1].version}" in capsys.readouterr().out
    )
    assert main(["db", "status"]) == 0 and "pending" not in capsys.readouterr().out
