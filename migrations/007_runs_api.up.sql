-- The runs API. Lists are keyset-paginated newest first (WHERE id < cursor
-- ORDER BY id DESC): each filter has an index in that order, so a deep page
-- costs what the first one does. (target, id DESC) exists since 001.
CREATE INDEX runs_status_id_idx ON runs (status, id DESC);
CREATE INDEX runs_trigger_id_idx ON runs (trigger, id DESC);
-- since/until bound created_at.
CREATE INDEX runs_created_at_idx ON runs (created_at);

-- Idempotency-Key of POST /api/v1/targets/{name}/runs: a repeat within 24 h
-- returns the run the key first created. Keys are per target; written and
-- read under the target_state row lock, with the run itself; a target's
-- expired keys are deleted when it next sees a key.
CREATE TABLE run_idempotency_keys (
    target     text        NOT NULL,
    key        text        NOT NULL,
    run_id     bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL,
    PRIMARY KEY (target, key)
);
