-- Every stored copy of a run's backup (issue 11: 3-2-1). A target may write
-- each backup to several storages; each copy is read back and its sha256
-- matched before it counts, is proven by a real restore in rotation, may be
-- under S3 Object Lock, and is pruned on its own storage's terms. runs keeps
-- the primary copy's storage and key as before (position 0 here).
CREATE TABLE backup_copies (
    run_id        bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    storage       text        NOT NULL,
    position      int         NOT NULL,
    key           text        NOT NULL,
    stored_bytes  bigint      NOT NULL DEFAULT 0,
    sha256        text        NOT NULL DEFAULT '',
    -- stored: written, not yet read back; verified: read back and matched;
    -- failed: the write or the read-back failed (error says why).
    status        text        NOT NULL CHECK (status IN ('stored', 'verified', 'failed')),
    error         text        NOT NULL DEFAULT '',
    verified_at   timestamptz,
    -- proven_by_run: the latest run whose restore read this copy and passed.
    proven_by_run bigint,
    proven_at     timestamptz,
    lock_mode     text        NOT NULL DEFAULT '',
    locked_until  timestamptz,
    pruned_at     timestamptz,
    pruned_reason text        NOT NULL DEFAULT '',
    PRIMARY KEY (run_id, storage)
);

-- The age recipients a backup was encrypted to (from its manifest): the
-- target page warns when no loaded identity matches a retained backup's.
ALTER TABLE runs ADD COLUMN recipients text[];
