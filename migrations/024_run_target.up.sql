-- The target's settings as they were when the run was created (its checks,
-- notifiers, storage, row counts, stage timeout; never a secret): every
-- stage works from this one snapshot, so a catalog edit mid-run cannot
-- change a run's checks or notifiers between stages. NULL for runs made
-- before this column existed: those read the current catalog.
ALTER TABLE runs ADD COLUMN target_config jsonb;
