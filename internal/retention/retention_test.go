package retention_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/retention"
)

// b describes one backup for the table: its key (the name the test uses),
// when it was made (RFC 3339) and flags:
//
//	v verified (run succeeded)     f run failed       r run still running
//	p no manifest                  m object missing   u unknown to history
//	h predates history (with u)
type b struct {
	key, at, flags string
}

const day = 24 * time.Hour

func backups(t *testing.T, in []b) []retention.Backup {
	t.Helper()
	out := make([]retention.Backup, len(in))
	for i, x := range in {
		at, err := time.Parse(time.RFC3339, x.at)
		require.NoError(t, err, x.key)
		bk := retention.Backup{RunID: int64(i + 1), Storage: "main", Key: x.key, CreatedAt: at, Manifest: true,
			Status: lifeboat.RunCanceled}
		for _, f := range x.flags {
			switch f {
			case 'v':
				bk.Verified, bk.Status = true, lifeboat.RunSucceeded
			case 'f':
				bk.Status = lifeboat.RunFailed
			case 'r':
				bk.Status = lifeboat.RunRunning
			case 'p':
				bk.Manifest = false
			case 'm':
				bk.Missing = true
			case 'u':
				bk.RunID, bk.Status = 0, ""
			case 'h':
				bk.PredatesHistory = true
			default:
				t.Fatalf("%s: unknown flag %q", x.key, f)
			}
		}
		out[i] = bk
	}
	return out
}

func loc(t *testing.T, name string) *time.Location {
	t.Helper()
	l, err := time.LoadLocation(name)
	require.NoError(t, err)
	return l
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	at, err := time.Parse(time.RFC3339, s)
	require.NoError(t, err)
	return at
}

// defaults are config's defaults for what the table does not set.
func withDefaults(p retention.Policy) retention.Policy {
	if p.UnverifiedGrace == 0 {
		p.UnverifiedGrace = 7 * day
	}
	if p.PartialGrace == 0 {
		p.PartialGrace = day
	}
	return p
}

func TestPlan(t *testing.T) {
	t.Parallel()
	const now = "2026-11-25T12:00:00Z"
	// A verified backup a day at 03:00 UTC, 2026-11-01 … 2026-11-25.
	var daily []b
	for d := 1; d <= 25; d++ {
		daily = append(daily, b{key: time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC).Format("Jan02"),
			at: time.Date(2026, 11, d, 3, 0, 0, 0, time.UTC).Format(time.RFC3339), flags: "v"})
	}

	tests := []struct {
		name         string
		policy       retention.Policy
		tz           string
		now          string // default now
		latestFailed bool
		backups      []b
		kept         []string
		// reasons holds, per key, substrings its reasons must contain.
		reasons map[string][]string
	}{
		{
			name:    "keep_last counts verified backups only",
			policy:  retention.Policy{KeepLast: 2, MinVerified: 1},
			backups: []b{{"v1", "2026-11-20T03:00:00Z", "v"}, {"v2", "2026-11-21T03:00:00Z", "v"}, {"v3", "2026-11-22T03:00:00Z", "v"}, {"f1", "2026-11-24T03:00:00Z", "f"}, {"f2", "2026-11-25T03:00:00Z", "f"}},
			kept:    []string{"v3", "v2", "f2", "f1"},
			reasons: map[string][]string{"v3": {"newest verified", "keep_last", "min_verified"}, "v2": {"keep_last"},
				"v1": {"verified, beyond the keep_* policy"}, "f1": {"unverified (run failed), within unverified grace (7d)"}},
		},
		{
			name:    "keep_daily keeps the newest of each of the N most recent days that have one",
			policy:  retention.Policy{KeepDaily: 3, MinVerified: 1},
			backups: []b{{"d1a", "2026-11-18T01:00:00Z", "v"}, {"d2a", "2026-11-20T01:00:00Z", "v"}, {"d2b", "2026-11-20T13:00:00Z", "v"}, {"d3a", "2026-11-23T01:00:00Z", "v"}, {"d3b", "2026-11-23T05:00:00Z", "v"}, {"d3c", "2026-11-23T23:59:59Z", "v"}, {"d4", "2026-11-24T00:00:00Z", "v"}},
			kept:    []string{"d4", "d3c", "d2b"},
			reasons: map[string][]string{"d4": {"keep_daily 2026-11-24"}, "d3c": {"keep_daily 2026-11-23"}, "d2b": {"keep_daily 2026-11-20"}},
		},
		{
			name:   "grandfather-father-son over a month of dailies",
			policy: retention.Policy{KeepDaily: 3, KeepWeekly: 2, KeepMonthly: 2, MinVerified: 1},
			backups: append(append([]b{}, daily...),
				b{"oct", "2026-10-15T03:00:00Z", "v"}, b{"sep", "2026-09-15T03:00:00Z", "v"}),
			// Days 25, 24, 23; ISO weeks 2026-W48 (Nov 25, a Wednesday) and
			// W47 (Sun Nov 22); months November (Nov 25) and October.
			kept:    []string{"Nov25", "Nov24", "Nov23", "Nov22", "oct"},
			reasons: map[string][]string{"Nov25": {"keep_daily 2026-11-25", "keep_weekly 2026-W48", "keep_monthly 2026-11"}, "Nov22": {"keep_weekly 2026-W47"}, "oct": {"keep_monthly 2026-10"}},
		},
		{
			name:    "keep_yearly",
			policy:  retention.Policy{KeepYearly: 3, MinVerified: 1},
			backups: []b{{"y24a", "2024-03-01T00:00:00Z", "v"}, {"y24b", "2024-12-31T23:00:00Z", "v"}, {"y25", "2025-06-01T00:00:00Z", "v"}, {"y26a", "2026-01-01T00:00:00Z", "v"}, {"y26b", "2026-11-01T00:00:00Z", "v"}, {"y23", "2023-06-01T00:00:00Z", "v"}},
			kept:    []string{"y26b", "y25", "y24b"},
			reasons: map[string][]string{"y24b": {"keep_yearly 2024"}},
		},
		{
			name:    "min_verified tops up the keep_* rules",
			policy:  retention.Policy{KeepLast: 1, MinVerified: 3},
			backups: daily[20:],
			kept:    []string{"Nov25", "Nov24", "Nov23"},
			reasons: map[string][]string{"Nov23": {"min_verified"}, "Nov22": {"beyond the keep_* policy"}},
		},
		{
			name:   "never delete the newest verified, even when unverified ones are newer",
			policy: retention.Policy{KeepDaily: 1},
			backups: []b{{"v-old", "2026-11-10T03:00:00Z", "v"}, {"v-newest", "2026-11-15T03:00:00Z", "v"},
				{"failed", "2026-11-24T03:00:00Z", "f"}, {"running", "2026-11-25T03:00:00Z", "r"}},
			kept:    []string{"running", "failed", "v-newest"},
			reasons: map[string][]string{"v-newest": {"newest verified", "keep_daily 2026-11-15"}, "running": {"run still active"}},
		},
		{
			name:         "latest run failed: nothing pruned",
			policy:       retention.Policy{KeepLast: 1, MinVerified: 1},
			latestFailed: true,
			backups: []b{{"v1", "2026-01-01T03:00:00Z", "v"}, {"v2", "2026-11-20T03:00:00Z", "v"}, {"f", "2026-10-01T03:00:00Z", "f"},
				{"partial", "2026-10-01T03:00:00Z", "p"}, {"latest", "2026-11-25T03:00:00Z", "f"}},
			kept: []string{"v2", "v1", "f", "partial", "latest"},
			reasons: map[string][]string{"v1": {"latest run failed: nothing pruned", "otherwise: verified, beyond the keep_* policy"},
				"partial": {"latest run failed: nothing pruned", "otherwise: no manifest, older than 1d"}, "v2": {"newest verified"}},
		},
		{
			name:    "no keep_* set: nothing pruned at all",
			policy:  retention.Policy{MinVerified: 1},
			backups: []b{{"v1", "2020-01-01T03:00:00Z", "v"}, {"v2", "2021-01-01T03:00:00Z", "v"}, {"partial", "2020-01-01T03:00:00Z", "p"}, {"f", "2020-01-01T03:00:00Z", "f"}},
			kept:    []string{"v2", "v1", "partial", "f"},
			reasons: map[string][]string{"partial": {"no keep_* set: nothing pruned"}},
		},
		{
			name:   "grace periods",
			policy: retention.Policy{KeepLast: 1, MinVerified: 1, UnverifiedGrace: 7 * day, PartialGrace: 36 * time.Hour},
			backups: []b{{"v", "2026-11-25T03:00:00Z", "v"},
				{"failed-6d", "2026-11-19T13:00:00Z", "f"}, {"failed-7d", "2026-11-18T12:00:00Z", "f"},
				{"canceled-8d", "2026-11-17T03:00:00Z", ""},
				{"partial-35h", "2026-11-24T01:00:00Z", "p"}, {"partial-36h", "2026-11-24T00:00:00Z", "p"},
				{"partial-verified-2d", "2026-11-23T00:00:00Z", "vp"}, // a succeeded run whose manifest vanished
				{"missing-2d", "2026-11-23T00:00:00Z", "vm"}, {"missing-1h", "2026-11-25T11:00:00Z", "m"},
				{"running-30d", "2026-10-26T03:00:00Z", "r"}},
			kept: []string{"v", "failed-6d", "partial-35h", "missing-1h", "running-30d"},
			reasons: map[string][]string{"failed-7d": {"unverified (run failed), older than 7d"}, "canceled-8d": {"unverified (run canceled), older than 7d"},
				"partial-36h": {"no manifest, older than 36h"}, "partial-35h": {"no manifest, within partial grace (36h)"},
				"partial-verified-2d": {"no manifest, older than 36h"}, "missing-2d": {"object missing from storage, older than 36h"},
				"running-30d": {"run still active"}},
		},
		{
			name:   "a verified run without its manifest does not count as verified",
			policy: retention.Policy{KeepLast: 1, MinVerified: 1},
			backups: []b{{"v-old", "2026-11-01T03:00:00Z", "v"}, {"v-mid", "2026-11-10T03:00:00Z", "v"},
				{"v-newer-no-manifest", "2026-11-20T03:00:00Z", "vp"}, {"v-newest-gone", "2026-11-22T03:00:00Z", "vm"}},
			kept:    []string{"v-mid"},
			reasons: map[string][]string{"v-mid": {"newest verified"}},
		},
		{
			name:   "objects unknown to history",
			policy: retention.Policy{KeepLast: 1, MinVerified: 1},
			backups: []b{{"v", "2026-11-25T03:00:00Z", "v"},
				{"orphan-old", "2026-11-01T03:00:00Z", "u"}, {"orphan-new", "2026-11-24T03:00:00Z", "u"},
				{"orphan-partial", "2026-11-20T03:00:00Z", "up"}, {"earlier-install", "2025-01-01T03:00:00Z", "uh"},
				{"earlier-install-partial", "2025-01-01T03:00:00Z", "uhp"}},
			kept: []string{"v", "orphan-new", "earlier-install"},
			reasons: map[string][]string{"orphan-old": {"unverified (not in lifeboat's history), older than 7d"},
				"earlier-install": {"predates lifeboat's history"}, "earlier-install-partial": {"no manifest, older than 1d"}},
		},
		{
			// DST begins in New York on 2026-03-08 (a 23-hour day): A is
			// Mar 7 23:30 EST, B Mar 8 00:30 EST, C Mar 8 23:30 EDT.
			name:    "days in the target's zone: New York's spring forward",
			policy:  retention.Policy{KeepDaily: 2, MinVerified: 1},
			tz:      "America/New_York",
			now:     "2026-03-10T12:00:00Z",
			backups: []b{{"A", "2026-03-08T04:30:00Z", "v"}, {"B", "2026-03-08T05:30:00Z", "v"}, {"C", "2026-03-09T03:30:00Z", "v"}},
			kept:    []string{"C", "A"},
			reasons: map[string][]string{"C": {"keep_daily 2026-03-08"}, "A": {"keep_daily 2026-03-07"}},
		},
		{
			name:    "the same backups in UTC",
			policy:  retention.Policy{KeepDaily: 2, MinVerified: 1},
			now:     "2026-03-10T12:00:00Z",
			backups: []b{{"A", "2026-03-08T04:30:00Z", "v"}, {"B", "2026-03-08T05:30:00Z", "v"}, {"C", "2026-03-09T03:30:00Z", "v"}},
			kept:    []string{"C", "B"},
			reasons: map[string][]string{"C": {"keep_daily 2026-03-09"}, "B": {"keep_daily 2026-03-08"}},
		},
		{
			// London falls back on 2026-10-25 (a 25-hour day): X is Oct 24
			// 23:30 BST, Y Oct 25 00:30 BST, Z Oct 25 23:30 GMT.
			name:    "days in the target's zone: London's fall back",
			policy:  retention.Policy{KeepDaily: 2, MinVerified: 1},
			tz:      "Europe/London",
			now:     "2026-10-27T12:00:00Z",
			backups: []b{{"X", "2026-10-24T22:30:00Z", "v"}, {"Y", "2026-10-24T23:30:00Z", "v"}, {"Z", "2026-10-25T23:30:00Z", "v"}},
			kept:    []string{"Z", "X"},
			reasons: map[string][]string{"Z": {"keep_daily 2026-10-25"}, "X": {"keep_daily 2026-10-24"}},
		},
		{
			name:   "a month begins in the target's zone",
			policy: retention.Policy{KeepMonthly: 2, MinVerified: 1},
			tz:     "Asia/Tokyo",
			now:    "2026-11-25T12:00:00Z",
			// Oct 31 16:00 UTC is Nov 1 01:00 in Tokyo.
			backups: []b{{"oct-utc-nov-tokyo", "2026-10-31T16:00:00Z", "v"}, {"oct", "2026-10-20T00:00:00Z", "v"}, {"nov", "2026-11-20T00:00:00Z", "v"}},
			kept:    []string{"nov", "oct"},
			reasons: map[string][]string{"oct": {"keep_monthly 2026-10"}},
		},
		{
			// 2026 has 53 ISO weeks: Mon 2026-12-28 … Sun 2027-01-03 is
			// 2026-W53; Mon 2027-01-04 begins 2027-W01.
			name:   "ISO weeks crossing a year",
			policy: retention.Policy{KeepWeekly: 2, KeepYearly: 2, MinVerified: 1},
			now:    "2027-01-05T12:00:00Z",
			backups: []b{{"sun-dec27", "2026-12-27T03:00:00Z", "v"}, {"thu-dec31", "2026-12-31T03:00:00Z", "v"},
				{"sat-jan02", "2027-01-02T03:00:00Z", "v"}, {"mon-jan04", "2027-01-04T03:00:00Z", "v"}},
			kept: []string{"mon-jan04", "sat-jan02", "thu-dec31"},
			reasons: map[string][]string{"mon-jan04": {"keep_weekly 2027-W01", "keep_yearly 2027"}, "sat-jan02": {"keep_weekly 2026-W53"},
				"thu-dec31": {"keep_yearly 2026"}, "sun-dec27": {"beyond the keep_* policy"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := withDefaults(tc.policy)
			if tc.tz != "" {
				p.Location = loc(t, tc.tz)
			}
			at := now
			if tc.now != "" {
				at = tc.now
			}
			in := backups(t, tc.backups)
			ds := retention.Plan(p, in, tc.latestFailed, mustTime(t, at))
			require.Len(t, ds, len(in))

			var kept []string
			byKey := map[string]retention.Decision{}
			for i, d := range ds {
				require.NotEmpty(t, d.Reasons, "%s has no reason", d.Key)
				if i > 0 {
					require.False(t, d.CreatedAt.After(ds[i-1].CreatedAt), "decisions come newest first")
				}
				if d.Keep {
					kept = append(kept, d.Key)
				}
				byKey[d.Key] = d
			}
			want := append([]string(nil), tc.kept...)
			sort.Strings(want)
			sort.Strings(kept)
			require.Equal(t, want, kept)
			for key, subs := range tc.reasons {
				d, ok := byKey[key]
				require.True(t, ok, "no decision for %s", key)
				all := strings.Join(d.Reasons, " | ")
				for _, s := range subs {
					require.Contains(t, all, s, "reasons of %s", key)
				}
			}
		})
	}
}

// TestPlanInvariants checks, over many generated histories, the promises
// that matter most: the newest verified backup is always kept, at least
// min_verified verified ones are kept, and a failed latest run prunes nothing.
func TestPlanInvariants(t *testing.T) {
	t.Parallel()
	now := mustTime(t, "2026-11-25T12:00:00Z")
	zones := []*time.Location{time.UTC, loc(t, "Europe/London"), loc(t, "America/New_York"), loc(t, "Pacific/Auckland")}
	seed := uint64(42)
	next := func(n int) int { // xorshift: deterministic, no test flakiness
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		return int(seed % uint64(n))
	}
	for round := 0; round < 500; round++ {
		p := retention.Policy{KeepLast: next(3), KeepDaily: next(4), KeepWeekly: next(3), KeepMonthly: next(3),
			KeepYearly: next(2), MinVerified: 1 + next(3), Location: zones[next(len(zones))]}
		if !p.Enabled() {
			p.KeepDaily = 1
		}
		p = withDefaults(p)
		var in []retention.Backup
		for i := 0; i < 1+next(40); i++ {
			bk := retention.Backup{RunID: int64(i + 1), Key: string(rune('a' + i)),
				CreatedAt: now.Add(-time.Duration(next(400*24)) * time.Hour), Manifest: next(10) > 0,
				Status: []lifeboat.RunStatus{lifeboat.RunSucceeded, lifeboat.RunFailed, lifeboat.RunCanceled}[next(3)]}
			bk.Verified = bk.Status == lifeboat.RunSucceeded
			in = append(in, bk)
		}
		failed := next(4) == 0
		ds := retention.Plan(p, in, failed, now)

		var newest *retention.Decision
		keptVerified, verified := 0, 0
		for i := range ds {
			d := &ds[i]
			if failed {
				require.True(t, d.Keep, "round %d: latest run failed yet %s is deleted", round, d.Key)
			}
			if d.Verified && d.Manifest {
				verified++
				if d.Keep {
					keptVerified++
				}
				if newest == nil || d.CreatedAt.After(newest.CreatedAt) ||
					d.CreatedAt.Equal(newest.CreatedAt) && d.RunID > newest.RunID {
					newest = d
				}
			}
		}
		if newest != nil {
			require.True(t, newest.Keep, "round %d: the newest verified backup is deleted", round)
		}
		require.GreaterOrEqual(t, keptVerified, min(verified, p.MinVerified), "round %d", round)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{7 * day: "7d", day: "1d", 36 * time.Hour: "36h",
		90 * time.Minute: "1h30m", 90 * time.Second: "1m30s", time.Hour: "1h", 30 * time.Second: "30s"} {
		require.Equal(t, want, retention.FormatDuration(d), "%v", d)
	}
}
