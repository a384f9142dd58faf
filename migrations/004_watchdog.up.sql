-- The watchdog's alerts: one row per (overdue or recovered event, notifier),
-- written in the same transaction that sets or clears
-- target_state.overdue_since, and delivered after it commits. The row is
-- the outbox (a crash between commit and send loses nothing), the retry
-- state (a few attempts, then given up and logged) and the history.
CREATE TABLE target_alerts (
    id                   bigserial   PRIMARY KEY,
    target               text        NOT NULL,
    kind                 text        NOT NULL CHECK (kind IN ('target.overdue', 'target.recovered')),
    notifier             text        NOT NULL,
    -- the overdue spell this alert belongs to: one overdue and one recovered per spell
    overdue_since        timestamptz NOT NULL,
    last_verified_at     timestamptz,
    last_verified_run_id bigint,
    watched_since        timestamptz NOT NULL,
    window_seconds       bigint      NOT NULL,
    created_at           timestamptz NOT NULL,
    attempts             integer     NOT NULL DEFAULT 0,
    -- a sender holds the alert until then; a crash mid-send frees it later
    claimed_until        timestamptz,
    delivered_at         timestamptz,
    given_up_at          timestamptz,
    last_error           text        NOT NULL DEFAULT '',
    UNIQUE (target, kind, overdue_since, notifier)
);
CREATE INDEX target_alerts_pending_idx ON target_alerts (id)
    WHERE delivered_at IS NULL AND given_up_at IS NULL;

-- The watchdog asks each target's newest verified run every tick.
CREATE INDEX runs_target_verified_idx ON runs (target, finished_at DESC) WHERE status = 'succeeded';
