-- Outbound webhook events of runs: one row per (run, event, webhook
-- notifier), written in the transaction of the stage result that causes the
-- event, together with the River job that delivers it. The row is the
-- outbox, the exactly-once guard (its delivering job locks it and does
-- nothing once it is delivered) and the history the API lists.
CREATE TABLE webhook_deliveries (
    id               bigserial   PRIMARY KEY,
    run_id           bigint      NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    notifier         text        NOT NULL,
    event            text        NOT NULL CHECK (event IN ('run.started', 'run.succeeded', 'run.failed', 'run.canceled')),
    -- the webhook-id header: the same on every attempt and redelivery, so
    -- receivers can drop duplicates
    message_id       text        NOT NULL,
    -- the exact body sent (its text form); it carries no secret
    payload          jsonb       NOT NULL,
    status           text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
    -- every attempt ever made, redeliveries included
    attempts         integer     NOT NULL DEFAULT 0,
    last_status_code integer,
    last_error       text        NOT NULL DEFAULT '',
    -- the River job that owns the delivery; an older job (superseded by a
    -- redelivery) finds it is not the owner and sends nothing
    job_id           bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    last_attempt_at  timestamptz,
    -- when a pending delivery is tried next (as River schedules its retry)
    next_attempt_at  timestamptz,
    delivered_at     timestamptz,
    UNIQUE (run_id, event, notifier)
);
