-- Backups are runs' artifacts (the run id is the backup id). Listing a
-- target's backups is a keyset query newest first (id < cursor ORDER BY id
-- DESC); each of its two shapes has a partial index in that order, so a deep
-- page costs what the first does.
CREATE INDEX runs_target_backups_idx ON runs (target, id DESC)
    WHERE artifact_key IS NOT NULL AND pruned_at IS NULL;
CREATE INDEX runs_target_backups_all_idx ON runs (target, id DESC)
    WHERE artifact_key IS NOT NULL;

-- Disaster-recovery restores of a chosen backup into a database the caller
-- names (POST /api/v1/backups/{id}/restore), worked by a River job.
CREATE TABLE restores (
    id           bigserial   PRIMARY KEY,
    run_id       bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    target       text        NOT NULL,
    -- the URL without its password: what is shown
    database_url text        NOT NULL,
    -- the whole URL, age-encrypted to lifeboat's backup recipients (whoever
    -- holds the identity can read every backup anyway); the worker decrypts
    -- it and it is erased once the restore has ended
    database_url_sealed bytea,
    clean        boolean     NOT NULL,
    status       text        NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    attempt      integer     NOT NULL DEFAULT 0,
    error        text        NOT NULL DEFAULT '',
    metrics      jsonb,
    checks       jsonb,
    created_at   timestamptz NOT NULL DEFAULT now(),
    started_at   timestamptz,
    finished_at  timestamptz
);
CREATE INDEX restores_run_id_idx ON restores (run_id, id DESC);

-- A restore's log, append-only and read by id cursor, like run_logs (which
-- belongs to runs and feeds their live tails).
CREATE TABLE restore_logs (
    id         bigserial   PRIMARY KEY,
    restore_id bigint      NOT NULL REFERENCES restores (id) ON DELETE CASCADE,
    ts         timestamptz NOT NULL DEFAULT clock_timestamp(),
    level      text        NOT NULL,
    message    text        NOT NULL
);
CREATE INDEX restore_logs_restore_id_idx ON restore_logs (restore_id, id);

-- Keys lifeboat makes for itself, the same for every process sharing this
-- database: "download" signs the short-lived /downloads/{token} URLs of
-- backups kept on fs storage. Created on first use; deleting a row rotates
-- the key (processes read it again after a restart).
CREATE TABLE server_keys (
    name       text        PRIMARY KEY,
    key        bytea       NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
