-- Keyset indexes for the runs list's two-filter shapes (make bench-api, over
-- 100 000 runs). With only one-column orders available, a page filtered on
-- two columns either walks runs_pkey backwards discarding what does not
-- match (GET /api/v1/runs?target=billing&status=failed read 17 269 rows and
-- 834 buffers for 51: 12 ms per request, half the first page's throughput)
-- or gathers every match and sorts it; and once a prepared statement turns
-- generic (pgx prepares every query; PostgreSQL switches after five runs),
-- a combination with no match (target=billing&status=queued) reads the
-- whole table: 322 ms. Equality on both columns followed by id DESC lets
-- every such page stop after its rows, whatever its depth or its plan.
CREATE INDEX runs_target_status_id_idx ON runs (target, status, id DESC);
CREATE INDEX runs_target_trigger_id_idx ON runs (target, trigger, id DESC);
CREATE INDEX runs_status_trigger_id_idx ON runs (status, trigger, id DESC);
-- (target, status, id DESC) serves all that (target, status) did: /metrics'
-- count by target and status reads it index-only.
DROP INDEX runs_target_status_idx;
