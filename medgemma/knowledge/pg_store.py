"""pg_store.py owns the PostgreSQL knowledge store (MEDGEMMA_DATABASE_URL): documents, chunks and vectors
in tables (schema: medgemma/db/migrations/001_knowledge.sql), each commit one transaction, writers
serialized by advisory locks. `KnowledgeStore` is the write-side interface it shares with the embedded
store.py. It knows nothing about ranking (pg_search.py) or the build engine (builder.py).
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from medgemma.db.migrations import ensure as ensure_schema
from medgemma.errors import IndexNotReady
from medgemma.knowledge.chunking import embedding_text
from medgemma.knowledge.retrieve import bm25_groups
from medgemma.knowledge.snapshot import DocEntry, entry_vectors
from medgemma.storage import process_exists
from medgemma.types import Chunk

logger = logging.getLogger(__name__)

_CHUNK_COLUMNS = "index_id, doc_id, chunk_id, chunk, lexical, embedding_model, dimension, embedding"
_COPY_TYPES = ["int4", "text", "text", "jsonb", "text", "text", "int4", "vector"]


@runtime_checkable
class KnowledgeStore(Protocol):
    """What the knowledge base and the build engine need from a store (store.Store and PgStore): the
    newest complete state (`load`), commits of documents and of vectors, writer locks, build status."""

    def load(self) -> Any: ...

    def writing(self) -> AbstractContextManager[None]: ...

    def exclusive(self, name: str) -> AbstractContextManager[bool]: ...

    def commit(
        self,
        *,
        adds: list[DocEntry],
        removes: set[str],
        sources: dict[str, dict[str, Any] | None],
        model: str,
        dimension: int,
        replace_all: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> Any: ...

    def write_status(self, **fields: Any) -> None: ...

    def read_status(self) -> dict[str, Any]: ...


@dataclass
class PgView:
    """The manifest of one index as committed (one row read per call: nothing is cached, so another
    process's commits show at once). Chunks stay in the database: `chunks` is empty, `count` and `dense`
    say how many there are and how many have vectors."""

    store: PgStore
    index_id: int
    manifest: dict[str, Any]
    chunks: tuple = ()
    vectors: Any = None

    @property
    def generation(self) -> int:
        return int(self.manifest["generation"])

    @property
    def model(self) -> str:
        return str(self.manifest.get("embedding_model", ""))

    @property
    def count(self) -> int:
        return int(self.manifest["chunks"])

    @property
    def dense(self) -> int:
        return int(self.manifest["dense_chunks"])

    @property
    def complete(self) -> bool:
        return self.dense == self.count

    def doc_table(self) -> dict[str, dict[str, Any]]:
        """doc_id -> record without its text parts."""
        with self.store.db.connection() as conn:
            rows = conn.execute(
                "SELECT doc_id, record FROM kb_documents WHERE index_id = %s ORDER BY doc_id",
                (self.index_id,),
            ).fetchall()
        return {doc_id: record for doc_id, record in rows}

    def iter_documents(self) -> Iterator[dict[str, Any]]:
        """Full records with their text parts (for a rebuild)."""
        with self.store.db.connection() as conn:
            rows = conn.execute(
                "SELECT record, parts FROM kb_documents WHERE index_id = %s ORDER BY doc_id", (self.index_id,)
            ).fetchall()
        for record, parts in rows:
            yield {**record, "parts": parts}


def lexical_texts(chunks: Sequence[Chunk]) -> list[str]:
    """The keyword text of each chunk: its whole unit (the chunks of one section of one page, as
    retrieve.bm25_groups scores them), so every chunk of a MedQuAD answer matches its question's words."""
    groups = bm25_groups(chunks)
    joined: dict[int, list[str]] = {}
    for chunk, g in zip(chunks, groups, strict=True):
        joined.setdefault(g, []).append(embedding_text(chunk))
    return [" ".join(joined[g]) for g in groups]


class PgStore:
    """One named index in a PostgreSQL database; migrates the schema on first use."""

    def __init__(self, url: str, name: str = "default") -> None:
        from medgemma.db import database

        ensure_schema(url)
        self.db = database(url)
        self.name = name
        self.root = f"{self.db.masked} (index {name})"

    def _key(self, what: str) -> str:
        return f"medgemma.kb.{what}:{self.name}"

    # ---- reading ----------------------------------------------------------------------------
    def load(self) -> PgView | None:
        """The index as last committed, or None before its first commit."""
        with self.db.connection() as conn:
            row = conn.execute(
                "SELECT id, embedding_model, dimension, generation, documents, chunks, dense, sources, extra, "
                "built_at FROM kb_indexes WHERE name = %s",
                (self.name,),
            ).fetchone()
        if row is None:
            return None
        index_id, model, dim, gen, docs, chunks, dense, sources, extra, built = row
        manifest = {
            **extra,
            "backend": "postgres",
            "generation": gen,
            "embedding_model": model,
            "dimension": dim,
            "index_type": "hnsw (pgvector)",
            "documents": docs,
            "chunks": chunks,
            "dense_chunks": dense,
            "sources": sources,
            "built_at": built.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        return PgView(self, index_id, manifest)

    def pending(self, limit: int) -> list[tuple[int, Chunk]]:
        """Up to `limit` chunks without a vector yet (oldest first), with their row ids."""
        view = self.load()
        if view is None:
            return []
        with self.db.connection() as conn:
            rows = conn.execute(
                "SELECT id, chunk FROM kb_chunks WHERE index_id = %s AND embedding IS NULL ORDER BY id LIMIT %s",
                (view.index_id, limit),
            ).fetchall()
        return [(row_id, Chunk(**data)) for row_id, data in rows]

    # ---- locks --------------------------------------------------------------------------------
    @contextmanager
    def writing(self) -> Iterator[None]:
        """The writer lock of this index across processes and hosts (a session advisory lock on a
        connection of its own; a killed writer's connection drops and the server releases it)."""
        with self.db.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext(%s))", (self._key("write"),))
            conn.commit()
            try:
                yield
            finally:
                if not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self._key("write"),))
                    conn.commit()

    @contextmanager
    def exclusive(self, name: str) -> Iterator[bool]:
        """A non-blocking lock (e.g. one starter build per index, whichever replica gets there first)."""
        with self.db.connection() as conn:
            got = conn.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (self._key(name),)).fetchone()[0]
            conn.commit()
            try:
                yield bool(got)
            finally:
                if got and not conn.closed:
                    conn.execute("SELECT pg_advisory_unlock(hashtext(%s))", (self._key(name),))
                    conn.commit()

    # ---- writing -------------------------------------------------------------------------------
    def _index_row(self, conn, model: str, dimension: int, replace_all: bool) -> tuple[int, dict]:
        """The index row, locked for this transaction; created on the first commit. A different model
        or dimension is taken only by a rebuild (replace_all) or while the index has no chunk."""
        row = conn.execute(
            "SELECT id, embedding_model, dimension, chunks, sources FROM kb_indexes WHERE name = %s FOR UPDATE",
            (self.name,),
        ).fetchone()
        if row is None:
            (index_id,) = conn.execute(
                "INSERT INTO kb_indexes (name, embedding_model, dimension) VALUES (%s, %s, %s) RETURNING id",
                (self.name, model, dimension),
            ).fetchone()
            self._hnsw(conn, index_id, dimension)
            return index_id, {}
        index_id, old_model, old_dim, chunks, sources = row
        if (old_model, old_dim) != (model, dimension):
            if chunks and not replace_all:
                raise IndexNotReady(
                    f"The index was built with {old_model} ({old_dim} dimensions); adding {model} "
                    f"({dimension}) vectors needs a rebuild first: python -m medgemma index build --rebuild"
                )
            conn.execute("DELETE FROM kb_documents WHERE index_id = %s", (index_id,))
            conn.execute("DELETE FROM kb_lexemes WHERE index_id = %s", (index_id,))
            conn.execute(f"DROP INDEX IF EXISTS kb_chunks_hnsw_{int(index_id)}_{int(old_dim)}")
            conn.execute(
                "UPDATE kb_indexes SET embedding_model = %s, dimension = %s WHERE id = %s",
                (model, dimension, index_id),
            )
            self._hnsw(conn, index_id, dimension)
        return index_id, sources

    @staticmethod
    def _hnsw(conn, index_id: int, dimension: int) -> None:
        """The HNSW (cosine) index over this index's vectors: a partial expression index per dimension,
        so indexes of several models share one table. Searches repeat its expression and predicate."""
        i, d = int(index_id), int(dimension)
        conn.execute(
            f"CREATE INDEX IF NOT EXISTS kb_chunks_hnsw_{i}_{d} ON kb_chunks USING hnsw "
            f"((embedding::vector({d})) vector_cosine_ops) WITH (m = 16, ef_construction = 64) "
            f"WHERE index_id = {i}"
        )

    def commit(
        self,
        *,
        adds: list[DocEntry],
        removes: set[str],
        sources: dict[str, dict[str, Any] | None],
        model: str,
        dimension: int,
        replace_all: bool = False,
        extra: dict[str, Any] | None = None,
    ) -> PgView:
        """One transaction: drop `removes` and the re-added documents, insert `adds` (NaN vector rows stay
        NULL until `set_vectors`), merge `sources`, bump the generation. All of it lands or none does."""
        from psycopg.types.json import Jsonb

        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._key("commit"),))
            index_id, old_sources = self._index_row(conn, model, dimension, replace_all)
            if replace_all:
                conn.execute("DELETE FROM kb_documents WHERE index_id = %s", (index_id,))
                conn.execute("DELETE FROM kb_lexemes WHERE index_id = %s", (index_id,))
                old_sources = {}
            drop = sorted(removes | {e.record["doc_id"] for e in adds})
            if drop:
                self._count_lexemes(conn, index_id, drop, -1)
                conn.execute(
                    "DELETE FROM kb_documents WHERE index_id = %s AND doc_id = ANY(%s)", (index_id, drop)
                )
            if adds:
                with conn.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO kb_documents (index_id, doc_id, source_key, hash, content_hash, record, "
                        "parts) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        [
                            (
                                index_id,
                                e.record["doc_id"],
                                e.record.get("source_key", ""),
                                e.record.get("hash", ""),
                                e.record.get("content_hash", ""),
                                Jsonb({k: v for k, v in e.record.items() if k != "parts"}),
                                Jsonb(e.record.get("parts", [])),
                            )
                            for e in adds
                        ],
                    )
                    with cur.copy(f"COPY kb_chunks ({_CHUNK_COLUMNS}) FROM STDIN WITH (FORMAT BINARY)") as cp:
                        cp.set_types(_COPY_TYPES)
                        for e in adds:
                            vecs = entry_vectors(e, dimension)
                            for c, text, v in zip(e.chunks, lexical_texts(e.chunks), vecs, strict=True):
                                vec = None if np.isnan(v[0]) else v
                                row = (
                                    index_id,
                                    c.doc_id,
                                    c.chunk_id,
                                    Jsonb(c.to_dict()),
                                    text,
                                    model,
                                    dimension,
                                )
                                cp.write_row((*row, vec))
                self._count_lexemes(conn, index_id, [e.record["doc_id"] for e in adds], +1)
            merged = dict(old_sources)
            for key, value in sources.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            self._finish(conn, index_id, merged, extra)
        return self.load()

    @staticmethod
    def _count_lexemes(conn, index_id: int, doc_ids: list[str], sign: int) -> None:
        """Add (+1) or take away (-1) the stems of these documents' chunks in kb_lexemes."""
        counts = (
            "SELECT u.lexeme, count(*) AS n FROM kb_chunks c, unnest(c.tsv) AS u "
            "WHERE c.index_id = %(i)s AND c.doc_id = ANY(%(docs)s) GROUP BY u.lexeme ORDER BY u.lexeme"
        )
        if sign > 0:
            sql = (
                f"INSERT INTO kb_lexemes (index_id, lexeme, df) SELECT %(i)s, lexeme, n FROM ({counts}) d "
                "ON CONFLICT (index_id, lexeme) DO UPDATE SET df = kb_lexemes.df + excluded.df"
            )
        else:
            sql = (
                f"UPDATE kb_lexemes l SET df = l.df - d.n FROM ({counts}) d "
                "WHERE l.index_id = %(i)s AND l.lexeme = d.lexeme"
            )
        conn.execute(sql, {"i": index_id, "docs": doc_ids})

    @staticmethod
    def _finish(conn, index_id: int, sources: dict | None = None, extra: dict | None = None) -> None:
        """Recount, store the sources and extra fields, bump the generation (inside the commit)."""
        from psycopg.types.json import Jsonb

        conn.execute(
            "UPDATE kb_indexes SET generation = generation + 1, built_at = now(), "
            "documents = (SELECT count(*) FROM kb_documents WHERE index_id = %(i)s), "
            "chunks = (SELECT count(*) FROM kb_chunks WHERE index_id = %(i)s), "
            "dense = (SELECT count(*) FROM kb_chunks WHERE index_id = %(i)s AND embedding IS NOT NULL), "
            "sources = coalesce(%(s)s, sources), extra = coalesce(%(e)s, extra) WHERE id = %(i)s",
            {
                "i": index_id,
                "s": None if sources is None else Jsonb(sources),
                "e": None if extra is None else Jsonb(extra),
            },
        )

    def set_vectors(self, rows: Sequence[int], vectors: np.ndarray, model: str) -> PgView:
        """Give chunks (row ids from `pending`) their vectors, in one transaction; rows deleted meanwhile
        are skipped, rows that have a vector already keep it."""
        vectors = np.asarray(vectors, dtype=np.float32).reshape(len(rows), -1)
        with self.db.transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self._key("commit"),))
            row = conn.execute(
                "SELECT id, embedding_model, dimension FROM kb_indexes WHERE name = %s FOR UPDATE",
                (self.name,),
            ).fetchone()
            if row is None:
                raise IndexNotReady("There is no index to add vectors to.")
            index_id, have, dim = row
            if have != model or dim != vectors.shape[1]:
                raise IndexNotReady(f"The index was built with {have}; it cannot take {model} vectors.")
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE kb_chunks SET embedding = %s WHERE id = %s AND index_id = %s AND embedding IS NULL",
                    [(v, int(r), index_id) for r, v in zip(rows, vectors, strict=True)],
                )
            self._finish(conn, index_id)
        return self.load()

    # ---- build status (shared with every replica) ----------------------------------------------
    def write_status(self, **fields: Any) -> None:
        from psycopg.types.json import Jsonb

        status = {**fields, "pid": os.getpid(), "host": socket.gethostname(), "updated_at": time.time()}
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO kb_status (name, status) VALUES (%s, %s) ON CONFLICT (name) DO UPDATE "
                "SET status = excluded.status, updated_at = now()",
                (self.name, Jsonb(json.loads(json.dumps(status, default=str)))),
            )

    def read_status(self) -> dict[str, Any]:
        """The last build status; a build whose process is gone (same host) reads as interrupted."""
        with self.db.connection() as conn:
            row = conn.execute("SELECT status FROM kb_status WHERE name = %s", (self.name,)).fetchone()
        status = dict(row[0]) if row else {}
        if status.get("state") == "building" and status.get("host") == socket.gethostname():
            if not process_exists(int(status.get("pid", 0))):
                status["state"] = "interrupted"
        return status
