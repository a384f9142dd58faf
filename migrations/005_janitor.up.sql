-- What each janitor pass cleaned up: scratch databases left behind, stale
-- multipart uploads aborted, runs stuck past their stage timeout failed
-- (and reported), stuck reports enqueued again, and what went wrong.
CREATE TABLE janitor_runs (
    id               bigserial   PRIMARY KEY,
    ran_at           timestamptz NOT NULL,
    scratch_dropped  text[]      NOT NULL DEFAULT '{}',
    uploads_aborted  integer     NOT NULL DEFAULT 0,
    runs_failed      bigint[]    NOT NULL DEFAULT '{}',
    reports_requeued bigint[]    NOT NULL DEFAULT '{}',
    errors           text        NOT NULL DEFAULT ''
);
CREATE INDEX janitor_runs_ran_at_idx ON janitor_runs (ran_at DESC);
