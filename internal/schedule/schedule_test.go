package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/schedule"
)

func mustLoc(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	require.NoError(t, err)
	return loc
}

func mustParse(t *testing.T, spec string, loc *time.Location) *schedule.Schedule {
	t.Helper()
	s, err := schedule.Parse(spec, loc)
	require.NoError(t, err)
	return s
}

// slots lists every slot in [from, to).
func slots(s *schedule.Schedule, from, to time.Time) []time.Time {
	var out []time.Time
	for t := s.Next(from.Add(-time.Nanosecond)); !t.IsZero() && t.Before(to); t = s.Next(t) {
		out = append(out, t)
	}
	return out
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"0 3 * *":     "expected 5 cron fields, got 4",
		"0 3 * * * *": "expected 5 cron fields, got 6",
		"61 3 * * *":  "above maximum",
		"@every 1h":   "@every is not supported",
		"0 0 30 2 *":  "never matches",
	} {
		_, err := schedule.Parse(spec, time.UTC)
		require.ErrorContains(t, err, want, spec)
	}
	for _, ok := range []string{"@hourly", "@daily", "@weekly", "*/15 * * * *", "0 3 * * 1-5"} {
		_, err := schedule.Parse(ok, time.UTC)
		require.NoError(t, err, ok)
	}
}

func TestSpringForwardRunsOnceAtTheJump(t *testing.T) {
	t.Parallel()
	london := mustLoc(t, "Europe/London")
	// 2026-03-29: clocks go from 01:00 GMT to 02:00 BST; 01:30 does not exist.
	s := mustParse(t, "30 1 * * *", london)
	got := slots(s, time.Date(2026, 3, 28, 0, 0, 0, 0, london), time.Date(2026, 3, 31, 0, 0, 0, 0, london))
	require.Equal(t, []time.Time{
		time.Date(2026, 3, 28, 1, 30, 0, 0, time.UTC), // GMT
		time.Date(2026, 3, 29, 1, 0, 0, 0, time.UTC),  // the jump: 02:00 BST
		time.Date(2026, 3, 30, 0, 30, 0, 0, time.UTC), // 01:30 BST
	}, utc(got))

	ny := mustLoc(t, "America/New_York")
	// 2026-03-08: 02:00 EST jumps to 03:00 EDT. Every 15 minutes from 02:00
	// to 02:45 does not exist: all four collapse into one slot at the jump.
	s = mustParse(t, "*/15 2 * * *", ny)
	got = slots(s, time.Date(2026, 3, 8, 0, 0, 0, 0, ny), time.Date(2026, 3, 9, 0, 0, 0, 0, ny))
	require.Equal(t, []time.Time{time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)}, utc(got))
}

func TestFallBackRunsOnce(t *testing.T) {
	t.Parallel()
	london := mustLoc(t, "Europe/London")
	// 2026-10-25: 01:30 happens twice (BST, then GMT): one slot, the first.
	s := mustParse(t, "30 1 * * *", london)
	got := slots(s, time.Date(2026, 10, 24, 12, 0, 0, 0, london), time.Date(2026, 10, 26, 12, 0, 0, 0, london))
	require.Equal(t, []time.Time{
		time.Date(2026, 10, 25, 0, 30, 0, 0, time.UTC), // 01:30 BST
		time.Date(2026, 10, 26, 1, 30, 0, 0, time.UTC), // 01:30 GMT
	}, utc(got))

	ny := mustLoc(t, "America/New_York")
	// 2026-11-01: 01:00-01:59 happen twice; an hourly schedule still has
	// one slot per wall-clock hour, so 24 that day, not 25.
	s = mustParse(t, "0 * * * *", ny)
	got = slots(s, time.Date(2026, 11, 1, 0, 0, 0, 0, ny), time.Date(2026, 11, 2, 0, 0, 0, 0, ny))
	require.Len(t, got, 24)
	require.Equal(t, time.Date(2026, 11, 1, 5, 0, 0, 0, time.UTC), got[1].UTC(), "01:00 EDT, the first one")
	require.Equal(t, time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC), got[2].UTC(), "then 02:00 EST")
}

func TestDayFieldsEitherRule(t *testing.T) {
	t.Parallel()
	// Day 1 of the month OR any Monday, as cron does.
	s := mustParse(t, "0 0 1 * 1", time.UTC)
	got := slots(s, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 16, 0, 0, 0, 0, time.UTC))
	require.Equal(t, []time.Time{
		time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), // a Monday and the 1st
		time.Date(2026, 6, 8, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 6, 15, 0, 0, 0, 0, time.UTC),
	}, got)
}

func TestLatestCountsMissedSlots(t *testing.T) {
	t.Parallel()
	s := mustParse(t, "0 3 * * *", time.UTC)
	since := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	now := time.Date(2026, 1, 5, 4, 0, 0, 0, time.UTC)
	slot, n := s.Latest(since, now)
	require.Equal(t, time.Date(2026, 1, 5, 3, 0, 0, 0, time.UTC), slot)
	require.Equal(t, 4, n) // the 2nd, 3rd, 4th and 5th
	slot, n = s.Latest(now, now.Add(time.Hour))
	require.True(t, slot.IsZero())
	require.Zero(t, n)
	require.Equal(t, 24*time.Hour, s.Interval(now))
}

func utc(ts []time.Time) []time.Time {
	out := make([]time.Time, len(ts))
	for i, t := range ts {
		out[i] = t.UTC()
	}
	return out
}
