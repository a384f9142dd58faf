package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// Stats reads the figures /metrics reports, in one snapshot. Each query is
// cheap whatever the history's length (migration 008): runs by an index-only
// count, the newest verified run per target by index, stage durations from
// the histogram the database keeps as stages end, notifier failures from a
// partial index of the reports that had any.
func (s *Store) Stats(ctx context.Context, targets []string) (lifeboat.Stats, error) {
	st := lifeboat.Stats{NotifierFailures: map[string]int64{}}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// Parallel workers cost more to start than these small reads take.
		if _, err := tx.Exec(ctx, "SET LOCAL max_parallel_workers_per_gather = 0"); err != nil {
			return err
		}
		var err error
		if st.Runs, err = runCounts(ctx, tx); err != nil {
			return fmt.Errorf("run counts: %w", err)
		}
		if st.Targets, err = targetStats(ctx, tx, targets); err != nil {
			return fmt.Errorf("last verified runs: %w", err)
		}
		if st.StageDurations, err = stageDurations(ctx, tx); err != nil {
			return fmt.Errorf("stage durations: %w", err)
		}
		if st.NotifierFailures, err = notifierFailures(ctx, tx); err != nil {
			return fmt.Errorf("notifier failures: %w", err)
		}
		return nil
	})
	if err != nil {
		return lifeboat.Stats{}, fmt.Errorf("stats: %w", err)
	}
	return st, nil
}

func runCounts(ctx context.Context, tx pgx.Tx) ([]lifeboat.RunCount, error) {
	rows, err := tx.Query(ctx, "SELECT target, status, count(*) FROM runs GROUP BY target, status ORDER BY target, status")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[lifeboat.RunCount])
}

func targetStats(ctx context.Context, tx pgx.Tx, targets []string) ([]lifeboat.TargetStats, error) {
	// The last verified backup's time is when it was taken (a retry that
	// verifies an old backup does not make the data younger).
	rows, err := tx.Query(ctx, `SELECT t.name, v.at, coalesce(v.stored_bytes, 0)
		FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
		LEFT JOIN LATERAL (SELECT at, stored_bytes FROM (`+verifiedBackupsSQL("t.name")+`) x
			ORDER BY at DESC LIMIT 1) v ON true
		ORDER BY t.i`, targets)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(row pgx.CollectableRow) (lifeboat.TargetStats, error) {
		var ts lifeboat.TargetStats
		var at *time.Time
		err := row.Scan(&ts.Target, &at, &ts.LastVerifiedStoredBytes)
		ts.LastVerifiedAt = at
		return ts, err
	})
}

func stageDurations(ctx context.Context, tx pgx.Tx) ([]lifeboat.StageDurations, error) {
	var bounds []float64
	if err := tx.QueryRow(ctx, "SELECT lifeboat_stage_duration_bounds()").Scan(&bounds); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, "SELECT target, stage, slot, count, sum_seconds FROM stage_durations ORDER BY target, stage, slot")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []lifeboat.StageDurations
	for rows.Next() {
		var (
			target, stage string
			slot          int
			count         int64
			sum           float64
		)
		if err := rows.Scan(&target, &stage, &slot, &count, &sum); err != nil {
			return nil, err
		}
		if n := len(out); n == 0 || out[n-1].Target != target || string(out[n-1].Stage) != stage {
			h := lifeboat.StageDurations{Target: target, Stage: lifeboat.StageName(stage),
				Buckets: make([]lifeboat.DurationBucket, len(bounds))}
			for i, b := range bounds {
				h.Buckets[i].UpperBound = b
			}
			out = append(out, h)
		}
		h := &out[len(out)-1]
		h.Count += uint64(count)
		h.SumSeconds += sum
		// Slot i (1-based) holds durations ≤ bounds[i-1]; one past the last
		// bound is +Inf, which only Count covers. Buckets are cumulative.
		for i := slot - 1; i >= 0 && i < len(bounds); i++ {
			h.Buckets[i].Count += uint64(count)
		}
	}
	return out, rows.Err()
}

func notifierFailures(ctx context.Context, tx pgx.Tx) (map[string]int64, error) {
	// Run notifications given up after their retries (until a redelivery
	// makes them pending again), the watchdog's alerts given up, and the
	// failed senders of reports from before every notification was a
	// delivery (those sent once, by the report itself).
	rows, err := tx.Query(ctx, `SELECT notifier, sum(n)::bigint FROM (
			SELECT f.notifier, count(*) AS n
			FROM run_stages s, jsonb_array_elements_text(s.metrics -> 'failed') AS f(notifier)
			WHERE s.stage = 'report' AND s.metrics -> 'failed' <> '[]'::jsonb AND jsonb_typeof(s.metrics -> 'failed') = 'array'
			  AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.run_id = s.run_id AND d.notifier = f.notifier)
			GROUP BY 1
			UNION ALL
			SELECT notifier, count(*) FROM target_alerts WHERE given_up_at IS NOT NULL GROUP BY 1
			UNION ALL
			SELECT notifier, count(*) FROM webhook_deliveries WHERE status = 'failed' GROUP BY 1
		) AS failures GROUP BY notifier`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			return nil, err
		}
		out[name] = n
	}
	return out, rows.Err()
}
