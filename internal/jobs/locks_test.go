package jobs_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// othersOnSource counts the sessions on the source other than the lock's
// holder and the counting one: lifeboat's, whatever they wait for.
const othersOnSource = `SELECT count(*) FROM pg_stat_activity
	WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1`

// A session holding ACCESS EXCLUSIVE on a source table no longer stalls the
// backup until stage_timeout: the attempt gives up after the target's
// lock_timeout with an error naming the table and the blocker (pid,
// application, query start), leaves no session of its own waiting on the
// source, and is retried with backoff; once the lock is gone the retry
// backs up.
func TestHeldLockNamesBlockerAndRetries(t *testing.T) {
	t.Parallel()
	b := setup(t, options{noStart: true, extraTarget: "    lock_timeout: 300ms\n"})
	held := testenv.HoldLock(t, b.sourceURL, "customers", "held-lock-test")

	// The first retry's backoff waits for the test: the failed attempt is
	// examined while the lock is still held.
	failed, resume := make(chan struct{}), make(chan struct{})
	var once sync.Once
	deps := b.deps
	deps.Backoff = func(int) time.Duration {
		once.Do(func() { close(failed); <-resume })
		return 50 * time.Millisecond
	}
	r, err := jobs.New(deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	startRunner(t, r)
	run, err := r.StartRun(t.Context(), "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	select {
	case <-failed:
	case <-time.After(2 * time.Minute):
		t.Fatalf("the backup never gave up waiting for the held lock; log:\n%s", b.logText(t, run.ID))
	}
	log := b.logText(t, run.ID)
	require.Contains(t, log, "attempt 1 of 4 failed, will retry")
	require.Contains(t, log, fmt.Sprintf(`table public.customers is locked (AccessExclusiveLock) by pid %d (application "held-lock-test", state idle in transaction, query started `, held.PID))
	require.Contains(t, log, "gave up waiting after lock_timeout 300ms")
	require.Eventually(t, func() bool { return testenv.QueryInt(t, b.sourceURL, othersOnSource, held.PID) == 0 },
		20*time.Second, 50*time.Millisecond, "no session of the failed attempt is left on the source")

	held.Release()
	close(resume)
	run = waitEnd(t, r, run.ID)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)
	backup, _ := run.StageByName(lifeboat.StageBackup)
	require.Equal(t, 2, backup.Attempt, "retried once the lock was gone")
}

// Canceling a run whose pg_dump waits for a held lock ends its sessions on
// the source too: killing pg_dump alone leaves its server session waiting
// for the lock (and holding those it has) until the holder lets go.
func TestCancelEndsSourceSessions(t *testing.T) {
	t.Parallel()
	b := setup(t, options{extraTarget: "    lock_timeout: 10m\n"})
	held := testenv.HoldLock(t, b.sourceURL, "customers", "held-lock-test")
	ctx := t.Context()
	run, err := b.runner.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	dumpWaits := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND wait_event_type = 'Lock' AND query ILIKE 'LOCK TABLE%'`
	require.Eventually(t, func() bool { return testenv.QueryInt(t, b.sourceURL, dumpWaits) > 0 },
		time.Minute, 50*time.Millisecond, "pg_dump waits for the held lock")

	_, err = b.runner.CancelRun(ctx, run.ID)
	require.NoError(t, err)
	run = waitEnd(t, b.runner, run.ID)
	require.Equal(t, lifeboat.RunCanceled, run.Status)
	require.Eventually(t, func() bool { return testenv.QueryInt(t, b.sourceURL, othersOnSource, held.PID) == 0 },
		20*time.Second, 50*time.Millisecond, "the canceled stage's sessions are gone from the source while the lock is still held")
}
