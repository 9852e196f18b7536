-- 002_shared_state: what app replicas on one database share besides the knowledge base (medgemma/db/state.py
-- and jobs_state.py read and write these). Times are the database's clock, so replicas agree.

-- Thumbs up/down on chat answers; the id is made by the app, so a retried insert stores a record once.
CREATE TABLE feedback (
    id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    created timestamptz NOT NULL DEFAULT clock_timestamp(),
    rating text NOT NULL CHECK (rating IN ('up', 'down')),
    record jsonb NOT NULL
);

-- The safety guard's flagged messages and the admin actions, append-only, in the order written.
CREATE TABLE audit_log (
    id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    stream text NOT NULL CHECK (stream IN ('safety', 'admin')),
    created timestamptz NOT NULL DEFAULT clock_timestamp(),
    record jsonb NOT NULL
);
CREATE INDEX audit_log_stream_seq ON audit_log (stream, seq);

-- One row per failed admin login; client is a SHA-256 of the client key, never the address itself.
CREATE TABLE login_failures (
    client text NOT NULL CHECK (length(client) = 64),
    at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX login_failures_client_at ON login_failures (client, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- The job list: one row per run, mirroring its status.json; the log and outputs stay in the run folder
-- on the host that ran it (host, folder).
CREATE TABLE jobs (
    id text PRIMARY KEY,
    kind text NOT NULL,
    state text NOT NULL,
    host text NOT NULL,
    pid integer,
    folder text NOT NULL,
    created timestamptz NOT NULL,
    updated timestamptz NOT NULL DEFAULT clock_timestamp(),
    status jsonb NOT NULL,
    config jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX jobs_kind_created ON jobs (kind, created DESC);

-- Small named choices the admin makes for every replica (key 'active_adapter').
CREATE TABLE app_state (
    key text PRIMARY KEY,
    value jsonb NOT NULL,
    updated timestamptz NOT NULL DEFAULT clock_timestamp()
);
