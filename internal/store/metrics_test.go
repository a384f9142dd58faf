package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// stageDurations finds one histogram of st.
func stageDurations(t *testing.T, st lifeboat.Stats, target string, stage lifeboat.StageName) lifeboat.StageDurations {
	t.Helper()
	for _, h := range st.StageDurations {
		if h.Target == target && h.Stage == stage {
			return h
		}
	}
	t.Fatalf("no stage durations for %s/%s in %+v", target, stage, st.StageDurations)
	return lifeboat.StageDurations{}
}

// bucket returns the cumulative count of durations ≤ le.
func bucket(t *testing.T, h lifeboat.StageDurations, le float64) uint64 {
	t.Helper()
	for _, b := range h.Buckets {
		if b.UpperBound == le {
			return b.Count
		}
	}
	t.Fatalf("no bucket %g in %+v", le, h.Buckets)
	return 0
}

func TestStats(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()

	// Nothing yet: configured targets are reported, with no verified run.
	st, err := b.store.Stats(ctx, []string{"app", "db2"})
	require.NoError(t, err)
	require.Empty(t, st.Runs)
	require.Empty(t, st.StageDurations)
	require.Empty(t, st.NotifierFailures)
	require.Len(t, st.Targets, 2)
	require.Equal(t, "app", st.Targets[0].Target)
	require.Nil(t, st.Targets[0].LastVerifiedAt)

	// Stages end through UPDATEs (as the workers end them): each is
	// observed once, in the bucket of its duration.
	endStage := func(run int64, stage lifeboat.StageName, secs float64) {
		t.Helper()
		// One implicit transaction, so both now() are the same instant and
		// the duration is exactly secs however busy the machine is.
		testenv.Exec(t, b.url, fmt.Sprintf(`UPDATE run_stages SET status = 'running', started_at = now() - interval '%f seconds'
			WHERE run_id = %d AND stage = '%s';
			UPDATE run_stages SET status = 'succeeded', finished_at = now()
			WHERE run_id = %d AND stage = '%s'`, secs, run, stage, run, stage))
	}
	r1, r2, r3 := b.newRun(t, "app"), b.newRun(t, "app"), b.newRun(t, "db2")
	endStage(r1, lifeboat.StageBackup, 0.5)
	endStage(r2, lifeboat.StageBackup, 3)
	endStage(r3, lifeboat.StageBackup, 50000) // past the last bound: +Inf only
	endStage(r1, lifeboat.StageRestore, 120)  // a bound itself belongs to its bucket
	// Touching an ended stage again observes nothing more.
	testenv.Exec(t, b.url, fmt.Sprintf("UPDATE run_stages SET metrics = '{}' WHERE run_id = %d", r1))
	// A bulk insert of ended stages (a restored history) is observed too.
	r4 := b.newRun(t, "db2")
	testenv.Exec(t, b.url, fmt.Sprintf(`DELETE FROM run_stages WHERE run_id = %d;
		INSERT INTO run_stages (run_id, stage, position, status, started_at, finished_at)
		SELECT %d, s, 0, 'succeeded', now() - interval '10 seconds', now() FROM unnest(ARRAY['backup', 'verify']) s`, r4, r4))

	// Runs finish: r1 succeeded (verified), r2 failed, r3 and r4 succeeded
	// in that order; r4 is db2's newest verified run. Each backup ended a
	// second before its run (the last verified backup dates from it).
	finish := func(run int64, status lifeboat.RunStatus, bytes int64, ago time.Duration) {
		t.Helper()
		testenv.Exec(t, b.url, fmt.Sprintf(`UPDATE runs SET status = '%s', stored_bytes = %d, artifact_key = 'k%d',
			finished_at = now() - interval '%d seconds' WHERE id = %d;
			UPDATE run_stages SET finished_at = now() - interval '%d seconds' - interval '1 second'
			WHERE run_id = %d AND stage = 'backup'`, status, bytes, run, int(ago.Seconds()), run, int(ago.Seconds()), run))
	}
	finish(r1, lifeboat.RunSucceeded, 1000, time.Hour)
	finish(r2, lifeboat.RunFailed, 2000, 0)
	finish(r3, lifeboat.RunSucceeded, 3000, 2*time.Hour)
	finish(r4, lifeboat.RunSucceeded, 4000, time.Minute)
	b.newRun(t, "app") // queued

	// Notifier failures: a report's failed senders, a watchdog alert given up.
	testenv.Exec(t, b.url, fmt.Sprintf(`UPDATE run_stages SET metrics = '{"failed": ["chat", "hook"], "delivered": []}'
		WHERE run_id = %d AND stage = 'report';
		UPDATE run_stages SET metrics = '{"failed": ["chat"], "delivered": ["hook"]}' WHERE run_id = %d AND stage = 'report';
		UPDATE run_stages SET metrics = '{"failed": [], "delivered": ["chat"]}' WHERE run_id = %d AND stage = 'report';
		INSERT INTO target_alerts (target, kind, notifier, overdue_since, watched_since, window_seconds, created_at, given_up_at)
		VALUES ('app', 'target.overdue', 'chat', now(), now(), 60, now(), now()),
		       ('app', 'target.overdue', 'hook', now() - interval '1 day', now(), 60, now(), NULL)`, r1, r2, r3))

	start := time.Now()
	st, err = b.store.Stats(ctx, []string{"app", "db2", "new"})
	require.NoError(t, err)
	t.Logf("stats read in %s", time.Since(start))

	require.ElementsMatch(t, []lifeboat.RunCount{
		{Target: "app", Status: lifeboat.RunSucceeded, Count: 1},
		{Target: "app", Status: lifeboat.RunFailed, Count: 1},
		{Target: "app", Status: lifeboat.RunQueued, Count: 1},
		{Target: "db2", Status: lifeboat.RunSucceeded, Count: 2},
	}, st.Runs)

	require.Len(t, st.Targets, 3)
	require.Equal(t, "app", st.Targets[0].Target)
	require.NotNil(t, st.Targets[0].LastVerifiedAt)
	require.WithinDuration(t, time.Now().Add(-time.Hour), *st.Targets[0].LastVerifiedAt, time.Minute)
	require.EqualValues(t, 1000, st.Targets[0].LastVerifiedStoredBytes, "the failed run's artifact is not the verified one")
	require.Equal(t, "db2", st.Targets[1].Target)
	require.WithinDuration(t, time.Now().Add(-time.Minute), *st.Targets[1].LastVerifiedAt, time.Minute)
	require.EqualValues(t, 4000, st.Targets[1].LastVerifiedStoredBytes)
	require.Equal(t, lifeboat.TargetStats{Target: "new"}, st.Targets[2])

	h := stageDurations(t, st, "app", lifeboat.StageBackup)
	require.EqualValues(t, 2, h.Count)
	require.InDelta(t, 3.5, h.SumSeconds, 0.5)
	require.EqualValues(t, 1, bucket(t, h, 1))
	require.EqualValues(t, 2, bucket(t, h, 5))
	require.EqualValues(t, 2, bucket(t, h, 21600))
	for i := 1; i < len(h.Buckets); i++ {
		require.Greater(t, h.Buckets[i].UpperBound, h.Buckets[i-1].UpperBound)
		require.GreaterOrEqual(t, h.Buckets[i].Count, h.Buckets[i-1].Count, "cumulative")
	}
	h = stageDurations(t, st, "app", lifeboat.StageRestore)
	require.EqualValues(t, 1, h.Count)
	require.EqualValues(t, 0, bucket(t, h, 60))
	// 120 s measured by the database is a hair over or under 120: either
	// the 120 or the 300 bucket, never beyond.
	require.EqualValues(t, 1, bucket(t, h, 300))
	h = stageDurations(t, st, "db2", lifeboat.StageBackup)
	require.EqualValues(t, 2, h.Count, "r3 (updated) and r4 (inserted)")
	require.EqualValues(t, 1, bucket(t, h, 15), "r4's 10 s")
	require.EqualValues(t, 1, bucket(t, h, 21600), "r3's 50000 s is only in +Inf")
	require.InDelta(t, 50010, h.SumSeconds, 1)
	h = stageDurations(t, st, "db2", lifeboat.StageVerify)
	require.EqualValues(t, 1, h.Count)
	require.Len(t, st.StageDurations, 4)

	require.Equal(t, map[string]int64{"chat": 3, "hook": 1}, st.NotifierFailures)
}
