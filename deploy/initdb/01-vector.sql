-- Runs once, on an empty data volume (the pgvector image's docker-entrypoint-initdb.d): the extension the
-- knowledge base's vector(n) column and HNSW index need. The app's migrations also ask for it.
CREATE EXTENSION IF NOT EXISTS vector;
