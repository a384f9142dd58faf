-- Retention deletes a backup from storage but keeps its run in history,
-- marked with when and why the artifact was pruned.
ALTER TABLE runs
    ADD COLUMN pruned_at     timestamptz,
    ADD COLUMN pruned_reason text;
-- What retention reads on every prune: a target's artifacts still stored.
CREATE INDEX runs_target_stored_idx ON runs (target, created_at DESC)
    WHERE artifact_key IS NOT NULL AND pruned_at IS NULL;
