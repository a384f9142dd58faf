-- Run history: one row per pass of the pipeline, one row per stage, the
-- checks it ran and every log line it wrote.
CREATE TABLE runs (
    id              bigserial PRIMARY KEY,
    target          text        NOT NULL,
    trigger         text        NOT NULL CHECK (trigger IN ('schedule', 'api', 'webhook', 'dashboard', 'cli')),
    status          text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
    error           text        NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz,
    -- the artifact, set by the backup stage
    storage         text,
    artifact_key    text,
    stored_bytes    bigint,
    raw_bytes       bigint,
    sha256          text,
    server_version  text,
    pg_dump_version text,
    -- schema inventory and row counts taken in the dump's snapshot
    source_snapshot jsonb
);
CREATE INDEX runs_target_id_idx ON runs (target, id DESC);
CREATE INDEX runs_active_idx ON runs (status) WHERE status IN ('queued', 'running');

CREATE TABLE run_stages (
    run_id      bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage       text        NOT NULL CHECK (stage IN ('backup', 'restore', 'verify', 'report')),
    position    smallint    NOT NULL,
    status      text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'succeeded', 'failed', 'skipped')),
    attempt     integer     NOT NULL DEFAULT 0,
    started_at  timestamptz,
    finished_at timestamptz,
    error       text        NOT NULL DEFAULT '',
    metrics     jsonb,
    PRIMARY KEY (run_id, stage)
);

CREATE TABLE check_results (
    run_id   bigint  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    position integer NOT NULL,
    name     text    NOT NULL,
    builtin  boolean NOT NULL,
    passed   boolean NOT NULL,
    expected text    NOT NULL,
    observed text    NOT NULL,
    PRIMARY KEY (run_id, position)
);

-- Append-only; read by id cursor.
CREATE TABLE run_logs (
    id      bigserial   PRIMARY KEY,
    run_id  bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    stage   text        NOT NULL DEFAULT '',
    ts      timestamptz NOT NULL DEFAULT clock_timestamp(),
    level   text        NOT NULL,
    message text        NOT NULL
);
CREATE INDEX run_logs_run_id_idx ON run_logs (run_id, id);
