package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestTargetHealth: one call answers for targets in different states.
func TestTargetHealth(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	ago := func(d time.Duration) time.Time { return now.Add(-d) }
	// finish ends run id with status, created and finished at the given times.
	finish := func(id int64, status lifeboat.RunStatus, created, finished time.Time) {
		t.Helper()
		var fin any
		if !finished.IsZero() {
			fin = finished
		}
		_, err := b.store.Pool().Exec(ctx, "UPDATE runs SET status = $2, created_at = $3, finished_at = $4 WHERE id = $1",
			id, string(status), created, fin)
		require.NoError(t, err)
	}

	// healthy: verified two days ago, then a scheduled run failed yesterday.
	verified := b.newRun(t, "healthy")
	finish(verified, lifeboat.RunSucceeded, ago(49*time.Hour), ago(48*time.Hour))
	failed := b.newRun(t, "healthy")
	finish(failed, lifeboat.RunFailed, ago(25*time.Hour), ago(24*time.Hour))
	next := now.Add(3 * time.Hour)
	testenv.Exec(t, b.url, "INSERT INTO target_state (target, schedule, next_due) VALUES ('healthy', '0 3 * * *', '"+
		next.Format(time.RFC3339)+"')")

	// paused (with a slot computed before the pause) and overdue.
	pausedRun := b.newRun(t, "paused")
	finish(pausedRun, lifeboat.RunSucceeded, ago(10*24*time.Hour), ago(10*24*time.Hour-time.Minute))
	testenv.Exec(t, b.url, "INSERT INTO target_state (target, paused, next_due, overdue_since) VALUES ('paused', true, '"+
		next.Format(time.RFC3339)+"', '"+ago(time.Hour).Format(time.RFC3339)+"')")

	// retried: its backup failed verify three days ago; a retry verified
	// that backup yesterday, and a new run is going now.
	origin := b.newRun(t, "retried")
	finish(origin, lifeboat.RunFailed, ago(72*time.Hour), ago(71*time.Hour))
	var retry int64
	require.NoError(t, b.store.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, retry_of, artifact_from_run, status, created_at, finished_at)
		VALUES ('retried', 'retry', $1, $1, 'succeeded', $2, $3) RETURNING id`, origin, ago(25*time.Hour), ago(24*time.Hour)).Scan(&retry))
	going := b.newRun(t, "retried")
	finish(going, lifeboat.RunRunning, ago(time.Minute), time.Time{})

	// Another target's newer runs do not leak into these.
	other := b.newRun(t, "other")
	finish(other, lifeboat.RunSucceeded, ago(time.Minute), now)

	h, err := b.store.TargetHealth(ctx, []string{"healthy", "paused", "retried", "never"})
	require.NoError(t, err)
	require.Len(t, h, 4)

	require.Equal(t, lifeboat.TargetHealth{Target: "never"}, h["never"], "never seen: nothing known")

	hh := h["healthy"]
	require.Equal(t, "healthy", hh.Target)
	require.NotNil(t, hh.LastRun)
	require.Equal(t, failed, hh.LastRun.ID)
	require.Equal(t, lifeboat.RunFailed, hh.LastRun.Status)
	require.Equal(t, lifeboat.TriggerCLI, hh.LastRun.Trigger)
	require.True(t, hh.LastRun.FinishedAt.Equal(ago(24*time.Hour)))
	require.NotNil(t, hh.LastVerified)
	require.Equal(t, verified, hh.LastVerified.RunID)
	require.True(t, hh.LastVerified.VerifiedAt.Equal(ago(48*time.Hour)))
	require.Equal(t, verified, hh.LastVerified.BackupRunID)
	require.True(t, hh.LastVerified.BackupAt.Equal(ago(49*time.Hour)))
	require.NotNil(t, hh.NextDue)
	require.True(t, hh.NextDue.Equal(next))
	require.False(t, hh.Paused)
	require.False(t, hh.Overdue)
	require.Nil(t, hh.OverdueSince)

	hp := h["paused"]
	require.True(t, hp.Paused)
	require.Nil(t, hp.NextDue, "a paused target has no next run")
	require.True(t, hp.Overdue)
	require.True(t, hp.OverdueSince.Equal(ago(time.Hour)))
	require.Equal(t, pausedRun, hp.LastRun.ID)
	require.Equal(t, pausedRun, hp.LastVerified.RunID)

	hr := h["retried"]
	require.Equal(t, going, hr.LastRun.ID)
	require.Equal(t, lifeboat.RunRunning, hr.LastRun.Status)
	require.Nil(t, hr.LastRun.FinishedAt)
	require.Equal(t, retry, hr.LastVerified.RunID)
	require.True(t, hr.LastVerified.VerifiedAt.Equal(ago(24*time.Hour)))
	require.Equal(t, origin, hr.LastVerified.BackupRunID, "the retry verified the backup its origin took")
	require.True(t, hr.LastVerified.BackupAt.Equal(ago(72*time.Hour)))
	require.Nil(t, hr.NextDue)

	empty, err := b.store.TargetHealth(ctx, nil)
	require.NoError(t, err)
	require.Empty(t, empty)
}
