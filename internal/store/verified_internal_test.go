package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestLastVerifiedIsWhenTheBackupWasTaken: a retry that verifies a
// three-day-old backup today leaves the target's last verified backup three
// days old, for the watchdog and for /metrics alike; a run with its own
// backup counts from its backup.
func TestLastVerifiedIsWhenTheBackupWasTaken(t *testing.T) {
	t.Parallel()
	_, st := migratedDB(t)
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	old := now.Add(-72 * time.Hour)
	var first, retry int64
	require.NoError(t, st.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, status, storage, artifact_key,
		created_at, finished_at) VALUES ('app', 'schedule', 'failed', 'main', 'k1', $1, $1) RETURNING id`, old).Scan(&first))
	require.NoError(t, st.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, status, storage, artifact_key,
		stored_bytes, retry_of, artifact_from_run, created_at, finished_at)
		VALUES ('app', 'retry', 'succeeded', 'main', 'k1', 1234, $1, $1, $2, $2) RETURNING id`, first, now).Scan(&retry))
	_, err := st.Pool().Exec(ctx, `INSERT INTO run_stages (run_id, stage, position, status, finished_at) VALUES
		($1, 'backup', 0, 'succeeded', $3), ($2, 'backup', 0, 'skipped', NULL)`, first, retry, old)
	require.NoError(t, err)

	check := func(wantRun int64, wantAt time.Time) {
		t.Helper()
		require.NoError(t, st.InTx(ctx, func(tx *Tx) error {
			_, v, err := tx.WatchdogLock(ctx, "app", now)
			require.NoError(t, err)
			require.NotNil(t, v)
			require.Equal(t, wantRun, v.RunID)
			require.True(t, wantAt.Equal(v.BackupAt), "watchdog: %v, want %v", v.BackupAt, wantAt)
			return nil
		}))
		stats, err := st.Stats(ctx, []string{"app"})
		require.NoError(t, err)
		require.Len(t, stats.Targets, 1)
		require.NotNil(t, stats.Targets[0].LastVerifiedAt)
		require.True(t, wantAt.Equal(*stats.Targets[0].LastVerifiedAt), "metrics: %v, want %v",
			*stats.Targets[0].LastVerifiedAt, wantAt)
	}
	check(retry, old)

	// A fresh run with its own backup is newer.
	fresh := now.Add(-time.Hour)
	var own int64
	require.NoError(t, st.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, status, storage, artifact_key,
		created_at, finished_at) VALUES ('app', 'schedule', 'succeeded', 'main', 'k2', $1, $2) RETURNING id`,
		fresh.Add(-time.Minute), fresh.Add(time.Minute)).Scan(&own))
	_, err = st.Pool().Exec(ctx, `INSERT INTO run_stages (run_id, stage, position, status, finished_at)
		VALUES ($1, 'backup', 0, 'succeeded', $2)`, own, fresh)
	require.NoError(t, err)
	check(own, fresh)
}
