-- 001_knowledge: the PostgreSQL knowledge store (medgemma/knowledge/pg_store.py).
-- One kb_indexes row per named index holds its manifest: the embedding model and dimension every chunk
-- row must match (a composite foreign key plus a dimension check), the sources, counts and a generation
-- bumped by every commit. Vectors live in kb_chunks.embedding (NULL until the meaning side fills them in);
-- the store adds one HNSW index per index and dimension: ((embedding::vector(n)) vector_cosine_ops).
CREATE EXTENSION IF NOT EXISTS vector;

CREATE TABLE kb_indexes (
    id serial PRIMARY KEY,
    name text NOT NULL UNIQUE,
    backend text NOT NULL DEFAULT 'postgres' CHECK (backend = 'postgres'),
    embedding_model text NOT NULL CHECK (embedding_model <> ''),
    dimension integer NOT NULL CHECK (dimension BETWEEN 1 AND 2000),
    generation bigint NOT NULL DEFAULT 0,
    documents integer NOT NULL DEFAULT 0,
    chunks integer NOT NULL DEFAULT 0,
    dense integer NOT NULL DEFAULT 0,
    sources jsonb NOT NULL DEFAULT '{}'::jsonb,
    extra jsonb NOT NULL DEFAULT '{}'::jsonb,
    built_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (id, embedding_model, dimension)
);

CREATE TABLE kb_documents (
    index_id integer NOT NULL REFERENCES kb_indexes (id) ON DELETE CASCADE,
    doc_id text NOT NULL,
    source_key text NOT NULL DEFAULT '',
    hash text NOT NULL DEFAULT '',
    content_hash text NOT NULL DEFAULT '',
    record jsonb NOT NULL,
    parts jsonb NOT NULL,
    PRIMARY KEY (index_id, doc_id)
);
CREATE INDEX kb_documents_source ON kb_documents (index_id, source_key);

CREATE TABLE kb_chunks (
    id bigserial PRIMARY KEY,
    index_id integer NOT NULL,
    doc_id text NOT NULL,
    chunk_id text NOT NULL,
    chunk jsonb NOT NULL,
    lexical text NOT NULL,
    tsv tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, lexical)) STORED,
    embedding_model text NOT NULL,
    dimension integer NOT NULL,
    embedding vector,
    FOREIGN KEY (index_id, doc_id) REFERENCES kb_documents (index_id, doc_id) ON DELETE CASCADE,
    FOREIGN KEY (index_id, embedding_model, dimension)
        REFERENCES kb_indexes (id, embedding_model, dimension),
    CHECK (embedding IS NULL OR vector_dims(embedding) = dimension)
);
-- A search reads the tsvector of every row its words match: kept in the row (not in TOAST, which cost an
-- index lookup per row and made keyword ranking twice as slow); the keyword text itself is read only on
-- insert, so it goes out of line.
ALTER TABLE kb_chunks ALTER COLUMN tsv SET STORAGE MAIN;
ALTER TABLE kb_chunks ALTER COLUMN lexical SET STORAGE EXTERNAL;
ALTER TABLE kb_chunks SET (toast_tuple_target = 8160);
CREATE INDEX kb_chunks_tsv ON kb_chunks USING gin (tsv);
CREATE INDEX kb_chunks_doc ON kb_chunks (index_id, doc_id);
CREATE INDEX kb_chunks_pending ON kb_chunks (index_id, id) WHERE embedding IS NULL;

CREATE TABLE kb_status (
    name text PRIMARY KEY,
    status jsonb NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- How many chunks of an index hold each stem (BM25's document frequency, kept by every commit), so a
-- search weighs its words by idf without counting matches.
CREATE TABLE kb_lexemes (
    index_id integer NOT NULL REFERENCES kb_indexes (id) ON DELETE CASCADE,
    lexeme text NOT NULL,
    df integer NOT NULL CHECK (df >= 0),
    PRIMARY KEY (index_id, lexeme)
);
