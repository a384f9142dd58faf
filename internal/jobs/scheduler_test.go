package jobs_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// scheduledRuns lists the slots that have a run, oldest first.
func scheduledRuns(t *testing.T, b *bundle) []time.Time {
	t.Helper()
	ctx := context.Background()
	rows, err := b.store.Pool().Query(ctx, "SELECT scheduled_for FROM runs WHERE scheduled_for IS NOT NULL ORDER BY scheduled_for")
	require.NoError(t, err)
	slots, err := pgx.CollectRows(rows, pgx.RowTo[time.Time])
	require.NoError(t, err)
	for i := range slots {
		slots[i] = slots[i].UTC()
	}
	return slots
}

// anotherProcess is a second lifeboat on the same state database.
func anotherProcess(t *testing.T, b *bundle) *jobs.Runner {
	t.Helper()
	r, err := jobs.New(b.deps, jobs.Options{})
	require.NoError(t, err)
	return r
}

func tick(t *testing.T, r *jobs.Runner) jobs.TickResult {
	t.Helper()
	res, err := r.Tick(context.Background())
	require.NoError(t, err)
	return res
}

func TestScheduleOneRunPerSlotAcrossProcesses(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC))
	b := setup(t, options{schedule: "*/5 * * * *", overlap: "queue", clock: clock, noStart: true})
	procs := []*jobs.Runner{b.runner, anotherProcess(t, b), anotherProcess(t, b)}
	for i := 0; i < 13; i++ { // every 2.5 minutes from 00:01 to 00:31
		var wg sync.WaitGroup
		for _, p := range procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				tick(t, p)
			}()
		}
		wg.Wait()
		clock.Set(clock.Now().Add(150 * time.Second))
	}
	var want []time.Time
	for m := 5; m <= 30; m += 5 {
		want = append(want, time.Date(2026, 1, 1, 0, m, 0, 0, time.UTC))
	}
	require.Equal(t, want, scheduledRuns(t, b), "exactly one run per slot")
	// Each run has exactly one backup job.
	n := testenv.QueryInt(t, b.stateURL, "SELECT count(*) FROM river_job WHERE kind = 'lifeboat.backup'")
	require.EqualValues(t, len(want), n)
}

func TestScheduleCatchUpIsOneRun(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 1, 1, 0, 4, 0, 0, time.UTC))
	b := setup(t, options{schedule: "*/5 * * * *", clock: clock, noStart: true})
	tick(t, b.runner) // learns the next slot, 00:05

	// The process is killed before 00:05; another starts an hour later.
	clock.Set(time.Date(2026, 1, 1, 1, 2, 0, 0, time.UTC))
	res := tick(t, anotherProcess(t, b))
	require.Len(t, res.Started, 1)
	run, err := b.store.RunGet(context.Background(), res.Started[0])
	require.NoError(t, err)
	require.Equal(t, lifeboat.TriggerSchedule, run.Trigger)
	require.Equal(t, time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC), run.ScheduledFor.UTC())
	require.Equal(t, 11, run.MissedSlots, "00:05 … 00:55 folded into the 01:00 run")
	require.InDelta(t, 120, run.LateSeconds, 0.001, "started two minutes after its slot")
	require.Equal(t, []time.Time{time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)}, scheduledRuns(t, b))

	// Ticking again in the same window starts nothing.
	clock.Set(time.Date(2026, 1, 1, 1, 4, 0, 0, time.UTC))
	require.Empty(t, tick(t, b.runner).Started)
}

func TestScheduleRestartAroundASlot(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 1, 1, 2, 59, 0, 0, time.UTC))
	b := setup(t, options{schedule: "0 3 * * *", clock: clock, noStart: true})
	tick(t, b.runner)
	// Killed at 02:59:30; the new process ticks at 03:00:10 and at 03:01.
	clock.Set(time.Date(2026, 1, 1, 3, 0, 10, 0, time.UTC))
	second := anotherProcess(t, b)
	require.Len(t, tick(t, second).Started, 1)
	clock.Set(time.Date(2026, 1, 1, 3, 1, 0, 0, time.UTC))
	require.Empty(t, tick(t, second).Started)
	require.Equal(t, []time.Time{time.Date(2026, 1, 1, 3, 0, 0, 0, time.UTC)}, scheduledRuns(t, b))
}

func TestScheduleOverlapIsSkippedAndRecorded(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC))
	b := setup(t, options{schedule: "*/5 * * * *", clock: clock, noStart: true})
	tick(t, b.runner)
	clock.Set(time.Date(2026, 1, 1, 0, 5, 1, 0, time.UTC))
	started := tick(t, b.runner).Started
	require.Len(t, started, 1) // queued, never worked: still active
	clock.Set(time.Date(2026, 1, 1, 0, 10, 1, 0, time.UTC))
	res := tick(t, b.runner)
	require.Empty(t, res.Started)
	require.Equal(t, []string{"app@2026-01-01T00:10:00Z"}, res.Skipped)

	st, skips, err := b.store.TargetSchedule(context.Background(), "app", 10)
	require.NoError(t, err)
	require.Len(t, skips, 1)
	require.Equal(t, time.Date(2026, 1, 1, 0, 10, 0, 0, time.UTC), skips[0].ScheduledFor.UTC())
	require.Equal(t, started[0], *skips[0].ActiveRunID)
	require.Contains(t, skips[0].Reason, "still active")
	require.Equal(t, time.Date(2026, 1, 1, 0, 15, 0, 0, time.UTC), st.NextDue.UTC())
}

func TestScheduleAcrossDSTChanges(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		zone       string
		from, to   time.Time
		want       []time.Time
		whatHappen string
	}{
		{"Europe/London", time.Date(2026, 3, 28, 0, 0, 0, 0, time.UTC), time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC), []time.Time{
			time.Date(2026, 3, 28, 1, 30, 0, 0, time.UTC),
			time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), // 01:30 does not exist: at the jump
			time.Date(2026, 3, 30, 0, 30, 0, 0, time.UTC),
		}, "spring forward"},
		{"America/New_York", time.Date(2026, 10, 31, 4, 0, 0, 0, time.UTC), time.Date(2026, 11, 3, 4, 0, 0, 0, time.UTC), []time.Time{
			time.Date(2026, 10, 31, 5, 30, 0, 0, time.UTC),
			time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), // 01:30 EDT; 01:30 EST an hour later does not run again
			time.Date(2026, 11, 2, 6, 30, 0, 0, time.UTC),
		}, "fall back"},
	} {
		t.Run(tc.zone, func(t *testing.T) {
			t.Parallel()
			clock := newClock(tc.from)
			b := setup(t, options{schedule: "30 1 * * *", timezone: tc.zone, overlap: "queue", clock: clock, noStart: true})
			for now := tc.from; now.Before(tc.to); now = now.Add(10 * time.Minute) {
				clock.Set(now)
				tick(t, b.runner)
			}
			require.Equal(t, tc.want, scheduledRuns(t, b), tc.whatHappen)
		})
	}
}

func TestSchedulePauseAndResume(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 1, 1, 0, 1, 0, 0, time.UTC))
	b := setup(t, options{schedule: "*/5 * * * *", clock: clock, noStart: true})
	ctx := context.Background()
	tick(t, b.runner)
	require.NoError(t, b.runner.Pause(ctx, "app", true))
	clock.Set(time.Date(2026, 1, 1, 0, 21, 0, 0, time.UTC))
	require.Empty(t, tick(t, b.runner).Started, "paused: no run")
	require.NoError(t, b.runner.Pause(ctx, "app", false))
	require.Empty(t, tick(t, b.runner).Started, "resumed: counts from now, no catch-up of paused slots")
	st, _, err := b.store.TargetSchedule(ctx, "app", 1)
	require.NoError(t, err)
	require.Equal(t, time.Date(2026, 1, 1, 0, 25, 0, 0, time.UTC), st.NextDue.UTC())
	clock.Set(time.Date(2026, 1, 1, 0, 25, 30, 0, time.UTC))
	require.Len(t, tick(t, b.runner).Started, 1)
	require.Error(t, b.runner.Pause(ctx, "nope", true))
}

func TestScheduledRunRunsToTheEnd(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC()
	clock := newClock(now)
	b := setup(t, options{schedule: "* * * * *", clock: clock})
	tick(t, b.runner)
	clock.Set(now.Add(time.Minute))
	res := tick(t, b.runner)
	require.Len(t, res.Started, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := b.runner.WaitRun(ctx, res.Started[0])
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)
	require.Equal(t, lifeboat.TriggerSchedule, run.Trigger)
	require.NotNil(t, run.ScheduledFor)
}

func TestScheduleInfo(t *testing.T) {
	t.Parallel()
	clock := newClock(time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC))
	b := setup(t, options{schedule: "30 1 * * *", timezone: "Europe/London", clock: clock, noStart: true})
	info, err := b.runner.ScheduleInfo(context.Background(), "app")
	require.NoError(t, err)
	require.Equal(t, "Europe/London", info.Timezone)
	require.Len(t, info.Upcoming, 5)
	require.Equal(t, time.Date(2026, 3, 28, 1, 30, 0, 0, time.UTC), info.Upcoming[0].UTC())
	require.Equal(t, time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC), info.Upcoming[1].UTC(), "the DST jump")
	require.Empty(t, info.Skips)
	_, err = b.runner.ScheduleInfo(context.Background(), "nope")
	require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err))
}
