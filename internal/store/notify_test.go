package store_test

import (
	"context"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// testBundle is one test's migrated state database.
type testBundle struct {
	url   string
	store *store.Store
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	url := testenv.CreateDB(t, "lbstore_")
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st := store.New(pool)
	_, err = st.Migrate(context.Background())
	require.NoError(t, err)
	return &testBundle{url: url, store: st}
}

// newRun creates a queued run of target.
func (b *testBundle) newRun(t *testing.T, target string) int64 {
	t.Helper()
	var id int64
	require.NoError(t, b.store.InTx(context.Background(), func(tx *store.Tx) error {
		var err error
		id, err = tx.RunCreate(context.Background(), target, lifeboat.TriggerCLI)
		return err
	}))
	return id
}

// requireWake waits for a wake on ch and returns how long it took.
func requireWake(t *testing.T, ch <-chan struct{}, within time.Duration, what string) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case _, ok := <-ch:
		require.True(t, ok, "%s: the channel was closed instead", what)
		return time.Since(start)
	case <-time.After(within):
		t.Fatalf("%s: no wake within %s", what, within)
		return 0
	}
}

func requireNoWake(t *testing.T, ch <-chan struct{}, during time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("%s: woken", what)
	case <-time.After(during):
	}
}

func TestListenerWakesSubscribersOfTheRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := context.Background()
	run, other := b.newRun(t, "app"), b.newRun(t, "app")

	l := b.store.NewListener(slog.New(slog.DiscardHandler))
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); l.Run(lctx) }()
	t.Cleanup(func() { stop(); <-done })

	wake, unsubscribe := l.Subscribe(run)
	require.Equal(t, 1, l.Subscribers())
	// Once listening, the listener wakes everyone: look again, something
	// may have been missed before.
	requireWake(t, wake, 10*time.Second, "listening")

	// A log line of the run wakes it, promptly.
	require.NoError(t, b.store.LogAppend(ctx, run, lifeboat.StageBackup, time.Now(), "info", "one"))
	took := requireWake(t, wake, 3*time.Second, "log line")
	t.Logf("log line to wake: %s", took)
	// Another run's line does not.
	require.NoError(t, b.store.LogAppend(ctx, other, lifeboat.StageBackup, time.Now(), "info", "other"))
	requireNoWake(t, wake, 200*time.Millisecond, "another run's line")
	// A status change does; an update that keeps the status does not.
	testenv.Exec(t, b.url, "UPDATE runs SET status = 'running' WHERE id = "+itoa(run))
	requireWake(t, wake, 3*time.Second, "status change")
	testenv.Exec(t, b.url, "UPDATE runs SET error = 'x' WHERE id = "+itoa(run))
	requireNoWake(t, wake, 200*time.Millisecond, "update without a status change")
	// A bulk insert is one statement: one (coalesced) wake, not thousands.
	testenv.Exec(t, b.url, "INSERT INTO run_logs (run_id, level, message) SELECT "+itoa(run)+", 'info', 'bulk ' || g FROM generate_series(1, 5000) g")
	requireWake(t, wake, 3*time.Second, "bulk insert")
	requireNoWake(t, wake, 200*time.Millisecond, "after the bulk insert's wake")

	// The connection drops: the listener reconnects and wakes everyone,
	// since notifications sent meanwhile were lost.
	n := testenv.QueryInt(t, b.url, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE application_name = 'lifeboat-listener' AND datname = current_database()`)
	require.EqualValues(t, 1, n, "one listener connection")
	took = requireWake(t, wake, 10*time.Second, "reconnected")
	t.Logf("reconnected after %s", took)
	require.NoError(t, b.store.LogAppend(ctx, run, lifeboat.StageBackup, time.Now(), "info", "two"))
	requireWake(t, wake, 3*time.Second, "log line after reconnecting")

	// Unsubscribing (twice is harmless) releases the subscription.
	wake2, unsubscribe2 := l.Subscribe(run)
	require.Equal(t, 2, l.Subscribers())
	unsubscribe()
	unsubscribe()
	require.Equal(t, 1, l.Subscribers())

	// Stopping closes what is still subscribed, and later subscriptions.
	stop()
	<-done
	select {
	case _, ok := <-wake2:
		if ok { // a wake was pending; the close follows
			_, ok = <-wake2
		}
		require.False(t, ok, "closed when the listener stops")
	case <-time.After(5 * time.Second):
		t.Fatal("the channel was not closed when the listener stopped")
	}
	unsubscribe2()
	require.Equal(t, 0, l.Subscribers())
	late, unsubscribeLate := l.Subscribe(run)
	_, ok := <-late
	require.False(t, ok)
	unsubscribeLate()
	require.Equal(t, 0, l.Subscribers())
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
