-- Schedules live in the database, not in process memory: every process's
-- tick locks a target's row, so several processes start one run per slot.
ALTER TABLE runs
    ADD COLUMN scheduled_for timestamptz,
    ADD COLUMN missed_slots  integer NOT NULL DEFAULT 0;
-- One run per (target, slot), whatever the number of processes.
CREATE UNIQUE INDEX runs_target_scheduled_for_key ON runs (target, scheduled_for) WHERE scheduled_for IS NOT NULL;

CREATE TABLE target_state (
    target        text        PRIMARY KEY,
    paused        boolean     NOT NULL DEFAULT false,
    -- the schedule and zone next_due was computed from; a change recomputes it
    schedule      text        NOT NULL DEFAULT '',
    timezone      text        NOT NULL DEFAULT 'UTC',
    next_due      timestamptz,
    -- the watchdog: set while the target has no fresh verified backup
    overdue_since timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Slots that did not start a run because the previous one was still active.
CREATE TABLE schedule_skips (
    id            bigserial   PRIMARY KEY,
    target        text        NOT NULL,
    scheduled_for timestamptz NOT NULL,
    reason        text        NOT NULL,
    active_run_id bigint,
    created_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (target, scheduled_for)
);
