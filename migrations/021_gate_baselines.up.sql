-- Anomaly gates compare a run's source snapshot and stored size with the
-- target's previous verified backup, or with a run whose snapshot a user
-- accepted as the new baseline (an expected drop: a cleanup, an archived
-- table). Who accepted it ("token NAME" or "admin") and when.
ALTER TABLE runs ADD COLUMN baseline_accepted_at timestamptz,
                 ADD COLUMN baseline_accepted_by text;
-- The gates' lookup: a target's newest run that can be a baseline.
CREATE INDEX runs_target_baseline_idx ON runs (target, id DESC)
    WHERE status = 'succeeded' OR baseline_accepted_at IS NOT NULL;
