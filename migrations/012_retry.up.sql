-- Retry (jobs.Runner.RetryRun): a new run of a failed or canceled run. When
-- the old run's backup is still valid, the retry starts at restore and
-- shares the old run's artifact: its row carries a copy of the artifact
-- columns and the source snapshot, and artifact_from_run names the run
-- whose backup stage wrote the object (the same for a retry of a retry).
ALTER TABLE runs DROP CONSTRAINT runs_trigger_check;
ALTER TABLE runs ADD CONSTRAINT runs_trigger_check
    CHECK (trigger IN ('schedule', 'api', 'webhook', 'dashboard', 'cli', 'retry'));
ALTER TABLE runs
    ADD COLUMN retry_of          bigint REFERENCES runs (id) ON DELETE SET NULL,
    ADD COLUMN artifact_from_run bigint REFERENCES runs (id),
    -- Set (on every run sharing the artifact) once retention has decided to
    -- delete it and is about to: a retry never reuses it from then on, so a
    -- prune and a retry cannot both have it. pruned_at follows the deletes.
    ADD COLUMN prune_started_at  timestamptz,
    ADD CONSTRAINT runs_retry_of_trigger CHECK (retry_of IS NULL OR trigger = 'retry');
-- The runs sharing an artifact, found from the run that wrote it (retention
-- marks and prunes them together).
CREATE INDEX runs_artifact_from_run_idx ON runs (artifact_from_run) WHERE artifact_from_run IS NOT NULL;
-- The retries of a run.
CREATE INDEX runs_retry_of_idx ON runs (retry_of) WHERE retry_of IS NOT NULL;
