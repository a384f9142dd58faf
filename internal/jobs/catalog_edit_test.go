package jobs_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
)

// withTargets is the bundle's catalog with targets named names, each on a
// five-minute schedule whose slots queue.
func withTargets(b *bundle, names ...string) jobs.Catalog {
	c := b.runner.Catalog()
	conf := *c.Config
	conf.Targets = nil
	for _, n := range names {
		conf.Targets = append(conf.Targets, config.Target{Name: n, Schedule: "*/5 * * * *", Storage: "main", Overlap: "queue"})
	}
	c.Config = &conf
	return c
}

func targetNames(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%02d", prefix, i)
	}
	return out
}

// Managed targets created and deleted while ticks and watchdog passes run:
// each pass works from one catalog, so it never panics, and a target in
// every version of the catalog gets exactly one run per slot.
func TestTickWhileCatalogChanges(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC))
	b := setup(t, options{clock: clock, noStart: true})
	deleted, stable, created := targetNames("gone", 10), targetNames("stays", 10), targetNames("new", 10)
	// Before: gone00…gone09, stays00…stays09. After: stays00…stays09, new00…new09.
	before := withTargets(b, append(append([]string{}, deleted...), stable...)...)
	after := withTargets(b, append(append([]string{}, stable...), created...)...)
	b.runner.Reload(withTargets(b, append(append(append([]string{}, deleted...), stable...), created...)...))
	tick(t, b.runner) // every target learns its next slot, 00:05

	ctx := context.Background()
	const rounds = 4
	for round := 1; round <= rounds; round++ {
		clock.Set(time.Date(2026, 1, 1, 0, 5*round, 30, 0, time.UTC))
		b.runner.Reload(before)
		done := make(chan struct{})
		var wg sync.WaitGroup
		wg.Add(1)
		go func() { // the catalog watcher, reloading as fast as it can
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-done:
					return
				default:
				}
				if i%2 == 0 {
					b.runner.Reload(after)
				} else {
					b.runner.Reload(before)
				}
			}
		}()
		res, tickErr := b.runner.Tick(ctx)
		watchErr := b.runner.Watchdog(ctx)
		close(done)
		wg.Wait()
		require.NoError(t, tickErr)
		require.NoError(t, watchErr)

		slot := time.Date(2026, 1, 1, 0, 5*round, 0, 0, time.UTC)
		rows, err := b.store.Pool().Query(ctx, "SELECT target, count(*) FROM runs WHERE scheduled_for = $1 GROUP BY target", slot)
		require.NoError(t, err)
		perTarget := map[string]int{}
		for rows.Next() {
			var name string
			var n int
			require.NoError(t, rows.Scan(&name, &n))
			perTarget[name] = n
		}
		require.NoError(t, rows.Err())
		for _, name := range stable {
			require.Equal(t, 1, perTarget[name], "round %d: %s is in every catalog and must get one run for %s", round, name, slot)
		}
		total := 0
		for _, n := range perTarget {
			total += n
		}
		require.Len(t, res.Started, total, "round %d: the tick reports each run it started once", round)
		require.LessOrEqual(t, total, 20, "round %d: one catalog's targets at most", round)
	}
}

// A catalog edit between a run's stages changes neither its checks nor its
// notifiers: the run works from the target as it was when it was created.
func TestRunKeepsItsTargetSettings(t *testing.T) {
	t.Parallel()
	var once sync.Once
	b := setup(t, options{afterStage: func(b *bundle, ctx context.Context, runID int64, stage lifeboat.StageName) error {
		if stage != lifeboat.StageBackup {
			return nil
		}
		once.Do(func() {
			c := b.runner.Catalog()
			conf := *c.Config
			conf.Targets = append([]config.Target{}, conf.Targets...)
			app := &conf.Targets[0]
			app.Checks = []config.Check{{Name: "edited in", SQL: "SELECT 1", Expect: "= 2"}}
			app.Notify = nil
			c.Config = &conf
			b.runner.Reload(c)
		})
		return nil
	}})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nlogs:\n%s", run.Error, b.logText(t, run.ID))
	names := map[string]bool{}
	for _, c := range run.Checks {
		names[c.Name] = true
	}
	require.True(t, names["customers exist"], "the run's own checks ran: %v", names)
	require.False(t, names["edited in"], "a check added mid-run is not the run's: %v", names)
	require.Len(t, b.chat.received(), 1, "the run's notifier heard the result")
	require.Len(t, b.heartbeat.received(), 1)

	// The next run works from the edited target.
	next := b.runToEnd(t)
	require.Equal(t, lifeboat.RunFailed, next.Status)
	require.Contains(t, next.Error, "edited in")
}
