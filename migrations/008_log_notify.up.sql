-- Live log tails are pushed, not polled: every statement that writes log
-- lines notifies once per run it wrote to, and every change of a run's
-- status or finished_at notifies too (so a tail ends as soon as its run
-- does). Payloads are the run id only; listeners read the new rows by id
-- cursor. One listener connection per process fans the notifications out
-- (store.Listener).
CREATE FUNCTION lifeboat_notify_run_logs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lifeboat_run_logs', run_id::text) FROM (SELECT DISTINCT run_id FROM new_rows) AS r;
    RETURN NULL;
END
$$;
-- Statement level: a bulk insert of a million lines sends one notification
-- per run, not one per line.
CREATE TRIGGER run_logs_notify AFTER INSERT ON run_logs
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lifeboat_notify_run_logs();

CREATE FUNCTION lifeboat_notify_run_status() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('lifeboat_runs', NEW.id::text);
    RETURN NULL;
END
$$;
-- finished_at too: a canceled run is "canceled" at once but finished only
-- once its report has run, and a tail ends then.
CREATE TRIGGER runs_notify_status AFTER UPDATE OF status, finished_at ON runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.finished_at IS DISTINCT FROM NEW.finished_at)
    EXECUTE FUNCTION lifeboat_notify_run_status();

-- /metrics reads these on every scrape, from every process.
-- lifeboat_runs_total{target,status}: an index-only count.
CREATE INDEX runs_target_status_idx ON runs (target, status);
-- lifeboat_notifier_delivery_failures_total: only reports with a failed
-- sender are indexed, so a scrape reads the failures, not the history.
CREATE INDEX run_stages_report_failed_idx ON run_stages (run_id)
    WHERE stage = 'report' AND metrics -> 'failed' <> '[]'::jsonb;

-- lifeboat_stage_duration_seconds{target,stage}: a histogram kept in the
-- database, observed once when a stage ends (finished_at goes from NULL to a
-- time), so every process reports the same figures and a scrape reads a few
-- rows instead of the whole history. Bucket upper bounds, in seconds:
CREATE FUNCTION lifeboat_stage_duration_bounds() RETURNS double precision[] LANGUAGE sql IMMUTABLE AS $$
    SELECT ARRAY[1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 21600]::double precision[]
$$;
-- The 1-based bucket of a duration: the first bound >= secs, or one past the
-- last bound for +Inf.
CREATE FUNCTION lifeboat_stage_duration_slot(secs double precision) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
    SELECT 1 + count(*)::integer FROM unnest(lifeboat_stage_duration_bounds()) AS b WHERE b < secs
$$;

-- Per-bucket (not cumulative) counts; the reader sums them up.
CREATE TABLE stage_durations (
    target      text             NOT NULL,
    stage       text             NOT NULL,
    slot        integer          NOT NULL,
    count       bigint           NOT NULL,
    sum_seconds double precision NOT NULL,
    PRIMARY KEY (target, stage, slot)
);

-- Statement level with transition tables, so a bulk update makes one upsert
-- per bucket; rows are upserted in key order so concurrent stage ends cannot
-- deadlock.
CREATE FUNCTION lifeboat_observe_stage_durations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO stage_durations AS d (target, stage, slot, count, sum_seconds)
        SELECT r.target, e.stage, lifeboat_stage_duration_slot(e.secs) AS slot, count(*), sum(e.secs)
        FROM (SELECT n.run_id, n.stage, greatest(extract(epoch FROM n.finished_at - n.started_at)::double precision, 0) AS secs
              FROM new_rows n WHERE n.finished_at IS NOT NULL AND n.started_at IS NOT NULL) AS e
        JOIN runs r ON r.id = e.run_id
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (target, stage, slot) DO UPDATE
            SET count = d.count + EXCLUDED.count, sum_seconds = d.sum_seconds + EXCLUDED.sum_seconds;
    ELSE
        INSERT INTO stage_durations AS d (target, stage, slot, count, sum_seconds)
        SELECT r.target, e.stage, lifeboat_stage_duration_slot(e.secs) AS slot, count(*), sum(e.secs)
        FROM (SELECT n.run_id, n.stage, greatest(extract(epoch FROM n.finished_at - n.started_at)::double precision, 0) AS secs
              FROM new_rows n JOIN old_rows o ON o.run_id = n.run_id AND o.stage = n.stage
              WHERE o.finished_at IS NULL AND n.finished_at IS NOT NULL AND n.started_at IS NOT NULL) AS e
        JOIN runs r ON r.id = e.run_id
        GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (target, stage, slot) DO UPDATE
            SET count = d.count + EXCLUDED.count, sum_seconds = d.sum_seconds + EXCLUDED.sum_seconds;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER run_stages_observe_insert AFTER INSERT ON run_stages
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lifeboat_observe_stage_durations();
CREATE TRIGGER run_stages_observe_update AFTER UPDATE ON run_stages
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION lifeboat_observe_stage_durations();

-- Stages that ended before this migration.
INSERT INTO stage_durations (target, stage, slot, count, sum_seconds)
SELECT r.target, e.stage, lifeboat_stage_duration_slot(e.secs), count(*), sum(e.secs)
FROM (SELECT run_id, stage, greatest(extract(epoch FROM finished_at - started_at)::double precision, 0) AS secs
      FROM run_stages WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) AS e
JOIN runs r ON r.id = e.run_id
GROUP BY 1, 2, 3;
