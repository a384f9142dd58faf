// Package benchseed fills a migrated, empty lifeboat state database with a
// synthetic history for benchmarks: runs over several targets spanning a
// period, their stages, checks, artifacts (most of them pruned) and log
// lines. Everything is generated inside PostgreSQL (INSERT … SELECT over
// generate_series), so 100 000 runs and 5 000 000 log lines take seconds,
// not the hours row-by-row inserts would. The history is deterministic: the
// same Options give the same rows (attributes come from hashes of the run
// id, not from random()).
//
// It writes SQL on lifeboat's tables outside internal/store on purpose: it
// is benchmark scaffolding, never linked into lifeboat itself, and its bulk
// statements have no place in the store's API.
package benchseed

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lifeboat-dev/lifeboat"
)

// Options shape the history. Zero values take the defaults of issue 3's
// benchmark: 100 000 runs, 5 000 000 log lines, 10 targets, one year.
type Options struct {
	Runs     int           // runs in all (default 100 000)
	LogLines int           // run_logs lines in all (default 5 000 000; 0 takes the default, use NoLogs for none)
	NoLogs   bool          // write no log lines at all
	Targets  int           // distinct targets, at most len(TargetNames) (default 10)
	Span     time.Duration // the history covers [End-Span, End] (default 365 days)
	End      time.Time     // the newest run's creation time (default now)
}

// TargetNames are the targets' names, in order: a history with n targets
// uses the first n. They are valid config target names.
var TargetNames = []string{"billing", "orders", "inventory", "accounts", "analytics",
	"search", "auth", "payments", "catalog", "events", "audit", "shipping", "crm", "ledger", "metrics", "support"}

// failPermille is each target's share of failed runs, in 1/1024: most are
// healthy, "inventory" is flaky, so filters by target and status see
// different selectivities.
var failPermille = []int{40, 20, 250, 60, 10, 30, 80, 15, 50, 35, 45, 25, 70, 12, 90, 55}

// Step is one statement of the seeding and how long it took.
type Step struct {
	Name string
	Took time.Duration
}

// Result describes the seeded history.
type Result struct {
	Targets    []string
	Runs       int64
	Stages     int64
	Checks     int64
	LogLines   int64
	BigRunIDs  []int64       // runs with very long logs (a verbose pg_restore), for deep log pages
	Steps      []Step        // the statements that inserted the rows, with their times
	Took       time.Duration // inserting the rows
	VacuumTook time.Duration // VACUUM ANALYZE of the seeded tables afterwards
}

func (o Options) withDefaults() (Options, error) {
	if o.Runs == 0 {
		o.Runs = 100_000
	}
	if o.LogLines == 0 && !o.NoLogs {
		o.LogLines = 5_000_000
	}
	if o.NoLogs {
		o.LogLines = 0
	}
	if o.Targets == 0 {
		o.Targets = 10
	}
	if o.Span == 0 {
		o.Span = 365 * 24 * time.Hour
	}
	if o.End.IsZero() {
		o.End = time.Now()
	}
	switch {
	case o.Runs < 1:
		return o, lifeboat.Errorf(lifeboat.EINVALID, "runs: must be at least 1, got %d", o.Runs)
	case o.LogLines < 0:
		return o, lifeboat.Errorf(lifeboat.EINVALID, "log lines: must not be negative, got %d", o.LogLines)
	case o.Targets < 1 || o.Targets > len(TargetNames):
		return o, lifeboat.Errorf(lifeboat.EINVALID, "targets: must be between 1 and %d, got %d", len(TargetNames), o.Targets)
	case o.Runs < o.Targets:
		return o, lifeboat.Errorf(lifeboat.EINVALID, "runs: must be at least the number of targets (%d), got %d", o.Targets, o.Runs)
	case o.Span <= 0:
		return o, lifeboat.Errorf(lifeboat.EINVALID, "span: must be positive, got %s", o.Span)
	}
	return o, nil
}

// bigRuns is how many runs carry very long logs: one per 5 000 runs.
func bigRuns(runs int) int { return max(1, runs/5000) }

// Seed writes the history into db, which must be migrated and hold no runs.
// Run ids are 1..Runs, newest last, targets interleaved; log line ids are
// consecutive within a run. It ends with VACUUM ANALYZE so the planner and
// the visibility map see the data as a long-lived database would.
func Seed(ctx context.Context, db *pgxpool.Pool, opts Options) (Result, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return Result{}, err
	}
	res := Result{Targets: TargetNames[:o.Targets]}
	start := time.Now()
	err = pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		// The lock keeps runs empty between the check and the TRUNCATE.
		if _, err := tx.Exec(ctx, "LOCK TABLE runs IN ACCESS EXCLUSIVE MODE"); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		var empty bool
		if err := tx.QueryRow(ctx, "SELECT NOT EXISTS (SELECT 1 FROM runs)").Scan(&empty); err != nil {
			return fmt.Errorf("seed: %w", err)
		}
		if !empty {
			return lifeboat.Errorf(lifeboat.ECONFLICT, "database: already holds runs; seed an empty, migrated database")
		}
		type step struct {
			name string
			sql  string
			args []any
			n    *int64
		}
		steps := []step{
			// Truncating the (empty) tables in this transaction lets a
			// server with wal_level = minimal write their rows without WAL.
			// CASCADE reaches only tables that reference runs, empty too.
			{"truncate", "TRUNCATE runs, run_stages, check_results, run_logs CASCADE", nil, nil},
			// Triggers and foreign keys are skipped for this transaction:
			// run_logs' trigger would notify live tails of 100 000 runs
			// nobody follows, run_stages' would compute the stage duration
			// histogram row by row (done below in one statement), and the
			// keys would check millions of rows the plan made consistent.
			{"replica mode", "SET LOCAL session_replication_role = replica", nil, nil},
			{"work_mem", "SET LOCAL work_mem = '256MB'", nil, nil},
			{"plan", planSQL, []any{o.Runs, o.Targets, o.End, o.Span.Seconds(), failPermille[:o.Targets],
				bigRuns(o.Runs), o.LogLines, res.Targets}, nil},
			{"runs", runsSQL, nil, &res.Runs},
			{"stages", stagesSQL, nil, &res.Stages},
			{"stage durations", stageDurationsSQL, nil, nil},
			{"checks", checksSQL, nil, &res.Checks},
			{"run id sequence", "SELECT setval('runs_id_seq', $1)", []any{o.Runs}, nil},
		}
		if o.LogLines > 0 {
			steps = append(steps, step{"log lines", logsSQL, nil, &res.LogLines})
		}
		for _, st := range steps {
			t0 := time.Now()
			tag, err := tx.Exec(ctx, st.sql, st.args...)
			if err != nil {
				return fmt.Errorf("seed %s: %w", st.name, err)
			}
			res.Steps = append(res.Steps, Step{Name: st.name, Took: time.Since(t0)})
			if st.n != nil {
				*st.n = tag.RowsAffected()
			}
		}
		rows, err := tx.Query(ctx, "SELECT id FROM seed_plan WHERE big ORDER BY id")
		if err != nil {
			return fmt.Errorf("seed: big runs: %w", err)
		}
		res.BigRunIDs, err = pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return fmt.Errorf("seed: big runs: %w", err)
		}
		return nil
	})
	if err != nil {
		return Result{}, err
	}
	res.Took = time.Since(start)
	start = time.Now()
	if _, err := db.Exec(ctx, "VACUUM (ANALYZE) runs, run_stages, check_results, run_logs"); err != nil {
		return res, fmt.Errorf("seed: vacuum: %w", err)
	}
	res.VacuumTook = time.Since(start)
	return res, nil
}

// planSQL decides every run's attributes once, in a temporary table the
// other statements read in id order. Parameters: $1 runs, $2 targets, $3
// end, $4 span in seconds, $5 fail rates per target (1/1024), $6 big runs,
// $7 log lines, $8 target names.
//
// h1..h4 are independent hashes of the run id in 0..1023. age_rank counts
// the same target's newer runs: the newest run of the first three targets
// is still active, and artifacts more than 40 runs old have been pruned.
// d1..d4 are the seconds each stage ran (0 when it did not; a failed stage
// ran half its time). lines is the run's number of log lines: around the
// average the big runs leave (±50%), and the big runs share the rest.
const planSQL = `
CREATE TEMP TABLE seed_plan ON COMMIT DROP AS
WITH base AS (
    SELECT i AS id,
           ((i - 1) % $2)::int AS k,
           ($1 - i) / $2 AS age_rank,
           $3::timestamptz - make_interval(secs => $4::float8 * (1 - i::float8 / $1)) AS created_at,
           (hashint8extended(i, 1) & 1023)::int AS h1,
           (hashint8extended(i, 2) & 1023)::int AS h2,
           (hashint8extended(i, 3) & 1023)::int AS h3,
           (hashint8extended(i, 4) & 1023)::int AS h4,
           i % ($1 / $6) = ($1 / $6) / 2 AND ($1 - i) / $2 > 0 AS big
    FROM generate_series(1, $1::bigint) AS i
), st AS (
    SELECT b.*,
           ($8::text[])[b.k + 1] AS target,
           CASE WHEN b.age_rank = 0 AND b.k < 2 THEN 'running'
                WHEN b.age_rank = 0 AND b.k = 2 THEN 'queued'
                WHEN b.big THEN 'succeeded'
                WHEN b.h1 < ($5::int[])[b.k + 1] THEN 'failed'
                WHEN b.h1 < ($5::int[])[b.k + 1] + 10 THEN 'canceled'
                ELSE 'succeeded' END AS status,
           CASE WHEN b.h2 < 890 THEN 'schedule' WHEN b.h2 < 960 THEN 'api'
                WHEN b.h2 < 990 THEN 'webhook' WHEN b.h2 < 1010 THEN 'dashboard'
                ELSE 'cli' END AS trigger,
           -- databases grow over the year; target k is (1 + 0.4 k²) times the smallest
           (1 + 0.4 * b.k * b.k) * (0.7 + 0.3 * b.id::float8 / $1) AS size
    FROM base b
), fp AS (
    SELECT s.*,
           -- the stage that failed or was canceled: 1 backup, 2 restore, 3 verify; 0 if none
           CASE WHEN s.status = 'failed' THEN CASE WHEN s.h3 < 370 THEN 1 WHEN s.h3 < 640 THEN 2 ELSE 3 END
                WHEN s.status = 'canceled' THEN CASE WHEN s.h3 < 600 THEN 1 ELSE 2 END
                ELSE 0 END AS fpos,
           (200e6 * s.size)::bigint AS raw_bytes,
           20 * s.size * (0.8 + s.h4 / 2560.0) AS d_backup
    FROM st s
), d AS (
    SELECT f.*,
           CASE WHEN f.status = 'queued' THEN 0 WHEN f.fpos = 1 THEN f.d_backup / 2 ELSE f.d_backup END AS d1,
           CASE WHEN f.status IN ('queued', 'running') OR f.fpos = 1 THEN 0
                WHEN f.fpos = 2 THEN f.d_backup * 0.8 ELSE f.d_backup * 1.6 END AS d2,
           CASE WHEN f.status IN ('queued', 'running') OR f.fpos IN (1, 2) THEN 0 ELSE 3 + f.size END AS d3,
           CASE WHEN f.status IN ('queued', 'running') THEN 0 ELSE 1 + f.h4 % 3 END AS d4,
           CASE WHEN f.status = 'queued' THEN NULL
                ELSE f.created_at + make_interval(secs => f.h3 % 20) END AS started_at,
           f.status IN ('succeeded', 'running') OR f.fpos >= 2 AS has_artifact,
           CASE WHEN f.status = 'canceled' THEN 'canceled by an API request'
                WHEN f.fpos = 1 THEN 'backup: pg_dump: error: connection to server at "' || f.target ||
                     '.db.internal" (10.20.0.' || f.k || '), port 5432 failed: timeout expired'
                WHEN f.fpos = 2 THEN 'restore: pg_restore: error: could not execute query: ERROR:  out of shared memory'
                WHEN f.fpos = 3 AND f.h4 % 2 = 0 THEN 'verify: check "users exist" failed: expected >= 1, observed 0'
                WHEN f.fpos = 3 THEN 'verify: check "fresh orders" failed: expected true, observed false'
                ELSE '' END AS error
    FROM fp f
), n AS (
    SELECT d.*,
           CASE WHEN d.status = 'queued' OR d.big OR $7 = 0 THEN 0
                ELSE greatest(1, round(($7 * 0.6 / greatest(1, $1 - $6)) * (0.5 + d.h4 / 1024.0)))::bigint END AS small_lines
    FROM d
), w AS (
    SELECT n.*,
           sum(n.small_lines) OVER () AS small_total,
           count(*) FILTER (WHERE n.big) OVER () AS big_cnt,
           max(n.id) FILTER (WHERE n.big) OVER () AS big_last
    FROM n
)
SELECT w.*,
       CASE WHEN NOT w.big OR $7 = 0 THEN w.small_lines
            ELSE greatest(1, ($7 - w.small_total) / w.big_cnt
                             + CASE WHEN w.id = w.big_last THEN ($7 - w.small_total) % w.big_cnt ELSE 0 END) END::int AS lines,
       CASE WHEN w.has_artifact AND w.age_rank >= 40
            THEN least(w.created_at + interval '2 days', $3::timestamptz) END AS pruned_at
FROM w
ORDER BY w.id`

// runsSQL writes the runs. Scheduled runs were created at their slot.
const runsSQL = `
INSERT INTO runs (id, target, trigger, status, error, created_at, started_at, finished_at,
    storage, artifact_key, stored_bytes, raw_bytes, sha256, server_version, pg_dump_version,
    scheduled_for, missed_slots, pruned_at, pruned_reason)
SELECT id, target, trigger, status, error, created_at, started_at,
       CASE WHEN status IN ('queued', 'running') THEN NULL ELSE started_at + make_interval(secs => d1 + d2 + d3 + d4) END,
       CASE WHEN has_artifact THEN 'main' END,
       CASE WHEN has_artifact THEN 'lifeboat/' || target || to_char(created_at AT TIME ZONE 'UTC', '/YYYY/MM/DD/') || id || '.dump.zst.age' END,
       CASE WHEN has_artifact THEN raw_bytes * 35 / 100 END,
       CASE WHEN has_artifact THEN raw_bytes END,
       CASE WHEN has_artifact THEN encode(sha256(int8send(id)), 'hex') END,
       CASE WHEN has_artifact THEN '17.6' END,
       CASE WHEN has_artifact THEN '17.6' END,
       CASE WHEN trigger = 'schedule' THEN created_at END,
       CASE WHEN trigger = 'schedule' AND h3 % 300 = 0 THEN 1 + h4 % 3 ELSE 0 END,
       pruned_at,
       CASE WHEN pruned_at IS NOT NULL THEN 'not kept by keep_last 3, keep_daily 7, keep_weekly 4' END
FROM seed_plan
ORDER BY id`

// stagesSQL writes four stages per run, consistent with its status.
const stagesSQL = `
INSERT INTO run_stages (run_id, stage, position, status, attempt, started_at, finished_at, error, metrics)
SELECT p.id, s.stage, s.pos, x.status,
       CASE WHEN x.status IN ('pending', 'skipped') THEN 0 WHEN p.h3 % 17 = 0 THEN 2 ELSE 1 END,
       CASE WHEN x.status IN ('pending', 'skipped') THEN NULL ELSE x.t0 END,
       CASE WHEN x.status IN ('pending', 'skipped', 'running') THEN NULL ELSE x.t1 END,
       CASE WHEN x.status = 'failed' THEN p.error ELSE '' END,
       CASE WHEN x.status <> 'succeeded' THEN NULL
            WHEN s.pos = 1 THEN jsonb_build_object('raw_bytes', p.raw_bytes, 'stored_bytes', p.raw_bytes * 35 / 100,
                 'seconds', round(p.d1::numeric, 1), 'raw_mb_per_sec', round((p.raw_bytes / 1e6 / p.d1)::numeric, 1),
                 'tables', 40 + p.k, 'rows', p.raw_bytes / 120, 'server_version', '17.6', 'pg_dump_version', '17.6')
            WHEN s.pos = 2 THEN jsonb_build_object('stored_bytes', p.raw_bytes * 35 / 100, 'raw_bytes', p.raw_bytes,
                 'download_seconds', round((p.d2 * 0.1)::numeric, 1), 'pg_restore_seconds', round((p.d2 * 0.85)::numeric, 1),
                 'seconds', round(p.d2::numeric, 1), 'jobs', 2, 'pg_restore_version', '17.6')
            WHEN s.pos = 3 THEN jsonb_build_object('checks', 4, 'passed', 4, 'failed', 0)
            ELSE jsonb_build_object('event', 'run.' || p.status, 'scratch_dropped', true,
                 'delivered', CASE WHEN p.h4 % 200 = 0 THEN '[]'::jsonb ELSE '["ops-chat"]'::jsonb END,
                 'failed', CASE WHEN p.h4 % 200 = 0 THEN '["ops-chat"]'::jsonb ELSE '[]'::jsonb END,
                 'not_sent', '[]'::jsonb) END
FROM seed_plan p
CROSS JOIN (VALUES ('backup', 1), ('restore', 2), ('verify', 3), ('report', 4)) AS s(stage, pos)
CROSS JOIN LATERAL (
    SELECT CASE
               WHEN p.status = 'queued' THEN 'pending'
               WHEN p.status = 'running' THEN CASE s.pos WHEN 1 THEN 'succeeded' WHEN 2 THEN 'running' ELSE 'pending' END
               WHEN s.pos = 4 OR p.fpos = 0 OR s.pos < p.fpos THEN 'succeeded'
               WHEN s.pos = p.fpos THEN 'failed'
               ELSE 'skipped' END AS status,
           p.started_at + make_interval(secs => CASE s.pos WHEN 1 THEN 0 WHEN 2 THEN p.d1 WHEN 3 THEN p.d1 + p.d2
                                                            ELSE p.d1 + p.d2 + p.d3 END) AS t0,
           p.started_at + make_interval(secs => CASE s.pos WHEN 1 THEN p.d1 WHEN 2 THEN p.d1 + p.d2
                                                            WHEN 3 THEN p.d1 + p.d2 + p.d3 ELSE p.d1 + p.d2 + p.d3 + p.d4 END) AS t1
) AS x
ORDER BY p.id, s.pos`

// stageDurationsSQL does what migration 008's trigger on run_stages does
// for each ended stage, for all of them at once. A stage's bucket is
// 1 + the number of bounds below its duration (lifeboat_stage_duration_slot),
// computed inline: width_bucket counts the bounds at or below it.
const stageDurationsSQL = `
INSERT INTO stage_durations AS d (target, stage, slot, count, sum_seconds)
SELECT r.target, e.stage,
       1 + width_bucket(e.secs, lifeboat_stage_duration_bounds()) - (e.secs = ANY (lifeboat_stage_duration_bounds()))::int,
       count(*), sum(e.secs)
FROM (SELECT run_id, stage, greatest(extract(epoch FROM finished_at - started_at)::double precision, 0) AS secs
      FROM run_stages WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) AS e
JOIN runs r ON r.id = e.run_id
GROUP BY 1, 2, 3
ON CONFLICT (target, stage, slot) DO UPDATE
    SET count = d.count + EXCLUDED.count, sum_seconds = d.sum_seconds + EXCLUDED.sum_seconds`

// checksSQL writes the checks of every run whose verify stage ran: two
// built-in, two SQL checks; a run that failed at verify failed one of them.
const checksSQL = `
INSERT INTO check_results (run_id, position, name, builtin, passed, expected, observed)
SELECT p.id, c.pos, c.name, c.pos <= 2,
       NOT (p.fpos = 3 AND c.pos = 3 + p.h4 % 2),
       c.expected,
       CASE WHEN p.fpos = 3 AND c.pos = 3 + p.h4 % 2 THEN c.bad ELSE c.good END
FROM seed_plan p
CROSS JOIN (VALUES
    (1, 'restore clean', 'no errors', 'no errors', '3 errors'),
    (2, 'tables and row counts', '42 tables as dumped', '42 tables as dumped', '41 tables'),
    (3, 'users exist', '>= 1', '18234', '0'),
    (4, 'fresh orders', 'true', 'true', 'false')) AS c(pos, name, expected, good, bad)
WHERE p.status IN ('succeeded', 'failed') AND (p.fpos = 0 OR p.fpos = 3)
ORDER BY p.id, c.pos`

// logsSQL writes each run's lines in one go, run after run (seed_plan is
// read in id order), so a run's lines have consecutive ids and share heap
// pages, as one worker writing them would leave them.
const logsSQL = `
INSERT INTO run_logs (run_id, stage, ts, level, message)
SELECT p.id,
       CASE WHEN p.big THEN 'restore' WHEN g * 10 <= p.lines * 4 THEN 'backup'
            WHEN g * 10 <= p.lines * 8 THEN 'restore' WHEN g * 20 <= p.lines * 19 THEN 'verify' ELSE 'report' END,
       p.started_at + make_interval(secs => (p.d1 + p.d2 + p.d3 + p.d4) * g / p.lines),
       CASE WHEN g = p.lines AND p.status = 'failed' THEN 'error' WHEN g % 53 = 0 THEN 'warn' ELSE 'info' END,
       CASE WHEN p.big THEN 'pg_restore: processing data for table "public.events_p' || g || '"'
            WHEN g = p.lines AND p.status = 'failed' THEN p.error
            WHEN g * 10 <= p.lines * 4 THEN 'pg_dump: dumping contents of table "public.' || p.target || '_t' || g % 97 || '"'
            WHEN g * 10 <= p.lines * 8 THEN 'pg_restore: processing data for table "public.' || p.target || '_t' || g % 97 || '"'
            WHEN g * 20 <= p.lines * 19 THEN 'check ' || g || ': row count of public.t' || g % 97 || ' matches the dump (' || (g * 7919) % 100000 || ' rows)'
            ELSE 'report: posted to ops-chat' END
FROM seed_plan p
CROSS JOIN LATERAL generate_series(1, p.lines) AS g
WHERE p.lines > 0`
