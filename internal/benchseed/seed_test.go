package benchseed_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/benchseed"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// migrated returns a fresh, migrated state database.
func migrated(t *testing.T) (*pgxpool.Pool, *store.Store, string) {
	t.Helper()
	url := testenv.CreateDB(t, "lbseed_")
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st := store.New(pool)
	_, err = st.Migrate(context.Background())
	require.NoError(t, err)
	return pool, st, url
}

var opts = benchseed.Options{Runs: 1000, LogLines: 30_000, Targets: 4, Span: 30 * 24 * time.Hour,
	End: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)}

func TestSeed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool, st, url := migrated(t)

	res, err := benchseed.Seed(ctx, pool, opts)
	require.NoError(t, err)
	require.Equal(t, []string{"billing", "orders", "inventory", "accounts"}, res.Targets)
	require.EqualValues(t, 1000, res.Runs)
	require.EqualValues(t, 4000, res.Stages)
	require.EqualValues(t, 30_000, res.LogLines, "the big runs take exactly what the others leave")
	require.EqualValues(t, 30_000, testenv.QueryInt(t, url, "SELECT count(*) FROM run_logs"))
	require.Len(t, res.BigRunIDs, 1)

	// Every status, one queued run with its stages pending, 250 runs a target.
	for _, s := range lifeboat.RunStatuses {
		require.Positive(t, testenv.QueryInt(t, url, "SELECT count(*) FROM runs WHERE status = $1", string(s)), s)
	}
	require.EqualValues(t, 1, testenv.QueryInt(t, url, "SELECT count(*) FROM runs WHERE status = 'queued'"))
	require.EqualValues(t, 4, testenv.QueryInt(t, url, `SELECT count(*) FROM run_stages s JOIN runs r ON r.id = s.run_id
		WHERE r.status = 'queued' AND s.status = 'pending' AND s.started_at IS NULL`))
	require.EqualValues(t, 4, testenv.QueryInt(t, url, "SELECT count(DISTINCT target) FROM runs"))
	require.EqualValues(t, 0, testenv.QueryInt(t, url, "SELECT count(*) FROM (SELECT target FROM runs GROUP BY 1 HAVING count(*) <> 250) x"))
	// The span: the newest run at End, the oldest a span before.
	require.EqualValues(t, 0, testenv.QueryInt(t, url, `SELECT count(*) FROM runs
		WHERE created_at > '2026-11-01T12:00:00Z' OR created_at < '2026-10-02T12:00:00Z'`))
	// Artifacts exactly where a backup ended; old ones pruned.
	require.EqualValues(t, 0, testenv.QueryInt(t, url, `SELECT count(*) FROM runs r JOIN run_stages s ON s.run_id = r.id AND s.stage = 'backup'
		WHERE (artifact_key IS NOT NULL) <> (s.status = 'succeeded')`))
	require.Positive(t, testenv.QueryInt(t, url, "SELECT count(*) FROM runs WHERE pruned_at IS NOT NULL"))
	require.Positive(t, testenv.QueryInt(t, url, "SELECT count(*) FROM runs WHERE artifact_key IS NOT NULL AND pruned_at IS NULL"))
	// A failed run has one failed stage, and report ran.
	require.EqualValues(t, 0, testenv.QueryInt(t, url, `SELECT count(*) FROM runs r WHERE r.status = 'failed' AND (
		(SELECT count(*) FROM run_stages s WHERE s.run_id = r.id AND s.status = 'failed') <> 1 OR
		NOT EXISTS (SELECT 1 FROM run_stages s WHERE s.run_id = r.id AND s.stage = 'report' AND s.status = 'succeeded'))`))
	// A run's lines have consecutive ids.
	require.EqualValues(t, 0, testenv.QueryInt(t, url, `SELECT count(*) FROM (SELECT run_id FROM run_logs GROUP BY run_id
		HAVING max(id) - min(id) + 1 <> count(*)) x`))
	// The stage histogram is what migration 008's trigger would have made.
	require.EqualValues(t, 0, testenv.QueryInt(t, url, `SELECT count(*) FROM (
		SELECT r.target, e.stage, lifeboat_stage_duration_slot(e.secs) AS slot, count(*) AS count
		FROM (SELECT run_id, stage, greatest(extract(epoch FROM finished_at - started_at)::double precision, 0) AS secs
		      FROM run_stages WHERE finished_at IS NOT NULL AND started_at IS NOT NULL) AS e
		JOIN runs r ON r.id = e.run_id GROUP BY 1, 2, 3
		EXCEPT SELECT target, stage, slot, count FROM stage_durations) x`))
	require.Positive(t, testenv.QueryInt(t, url, "SELECT count(*) FROM stage_durations"))

	// The store reads it as it reads real runs.
	runs, more, err := st.RunList(ctx, lifeboat.RunFilter{Limit: 50})
	require.NoError(t, err)
	require.True(t, more)
	require.Len(t, runs, 50)
	require.EqualValues(t, 1000, runs[0].ID)
	require.Len(t, runs[0].Stages, 4)
	failed, _, err := st.RunList(ctx, lifeboat.RunFilter{Limit: 50, Target: "inventory", Statuses: []lifeboat.RunStatus{lifeboat.RunFailed}})
	require.NoError(t, err)
	require.NotEmpty(t, failed)
	for _, r := range failed {
		require.Equal(t, "inventory", r.Target)
		require.Equal(t, lifeboat.RunFailed, r.Status)
	}
	lines, err := st.LogList(ctx, res.BigRunIDs[0], 0, 500)
	require.NoError(t, err)
	require.Len(t, lines, 500)

	// Replica mode ended with the seed's transaction: keys hold again.
	_, err = pool.Exec(ctx, "INSERT INTO run_logs (run_id, level, message) VALUES (999999, 'info', 'x')")
	require.ErrorContains(t, err, "foreign key")
	// A second seed refuses a database that has runs.
	_, err = benchseed.Seed(ctx, pool, opts)
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err), "%v", err)
}

func TestSeedIsDeterministic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	digest := func() string {
		pool, _, _ := migrated(t)
		_, err := benchseed.Seed(ctx, pool, benchseed.Options{Runs: 300, LogLines: 5000, Targets: 3,
			Span: opts.Span, End: opts.End})
		require.NoError(t, err)
		var d string
		require.NoError(t, pool.QueryRow(ctx, `SELECT md5(string_agg(r::text, '|' ORDER BY r.id)) ||
			(SELECT md5(string_agg(s::text, '|' ORDER BY s.run_id, s.position)) FROM run_stages s) ||
			(SELECT md5(string_agg(l.run_id || l.message, '|' ORDER BY l.id)) FROM run_logs l) FROM runs r`).Scan(&d))
		return d
	}
	require.Equal(t, digest(), digest())
}

func TestSeedOptions(t *testing.T) {
	t.Parallel()
	pool, _, _ := migrated(t)
	for _, o := range []benchseed.Options{{Runs: -1}, {Runs: 5, Targets: 10}, {Targets: 99}, {LogLines: -1}} {
		_, err := benchseed.Seed(context.Background(), pool, o)
		require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err), "%+v: %v", o, err)
	}
	// No log lines at all.
	res, err := benchseed.Seed(context.Background(), pool, benchseed.Options{Runs: 20, NoLogs: true, Targets: 2})
	require.NoError(t, err)
	require.EqualValues(t, 0, res.LogLines)
	require.EqualValues(t, 20, res.Runs)
}
