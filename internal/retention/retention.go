// Package retention decides which of a target's backups to keep: a
// grandfather-father-son policy (like restic's and borg's "forget") in the
// target's time zone, with guards so that pruning can never eat the proof
// that a target is backed up. It is pure: the caller lists the backups and
// carries out the decisions.
//
// The rules, in order:
//   - with no keep_* set, the policy is off and nothing at all is pruned;
//   - while the target's latest run failed, nothing is pruned (a failing
//     pipeline must not eat its own history);
//   - only verified backups (a succeeded run whose object and manifest are
//     both in storage) count toward keep_last/daily/weekly/monthly/yearly,
//     and the min_verified newest of them, the newest above all, are kept
//     whatever the keep_* say;
//   - a backup whose run is still active is kept;
//   - a backup without its manifest, or a history row whose object is gone,
//     is deleted once older than PartialGrace;
//   - any other unverified backup (failed, canceled, unknown to lifeboat's
//     history) is deleted once older than UnverifiedGrace, except objects
//     older than the target's whole history, which a previous installation
//     left and nothing here can vouch for.
package retention

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// Backup is one stored backup as retention sees it.
type Backup struct {
	// RunID is the run that wrote it; 0 for an object lifeboat's history
	// does not know.
	RunID   int64
	Storage string
	Key     string // the object's key; the manifest is Key + blob.ManifestSuffix
	// CreatedAt is the run's creation time (the object's modification time
	// when the run is unknown).
	CreatedAt time.Time
	// Verified: the run succeeded, every stage including verify passed.
	Verified bool
	// Manifest: the manifest is in storage.
	Manifest bool
	// Missing: the object itself is not in storage (only its history row or
	// its manifest is left).
	Missing bool
	// PredatesHistory: unknown to lifeboat's history and older than the
	// target's first run there, as when lifeboat's own database was rebuilt.
	PredatesHistory bool
	// Status is the run's status; empty when the run is unknown.
	Status lifeboat.RunStatus
}

// complete reports whether the backup could be restored from storage alone.
func (b Backup) complete() bool { return b.Manifest && !b.Missing }

// usable reports whether the backup counts toward the keep_* rules.
func (b Backup) usable() bool { return b.Verified && b.complete() }

// Policy is a target's retention policy (config.Retention, with defaults
// applied, and the target's time zone).
type Policy struct {
	KeepLast, KeepDaily, KeepWeekly, KeepMonthly, KeepYearly int
	// MinVerified verified backups are kept whatever the keep_* say.
	MinVerified int
	// UnverifiedGrace is how long unverified and failed backups are kept.
	UnverifiedGrace time.Duration
	// PartialGrace is how long an object without a manifest is kept.
	PartialGrace time.Duration
	// Location is where days, weeks, months and years begin; nil is UTC.
	Location *time.Location
}

// Enabled reports whether the policy prunes anything: some keep_* is set.
func (p Policy) Enabled() bool {
	return p.KeepLast+p.KeepDaily+p.KeepWeekly+p.KeepMonthly+p.KeepYearly > 0
}

// Decision says whether one backup is kept, and why.
type Decision struct {
	Backup
	Keep    bool
	Reasons []string
}

// Reasons that do not depend on a date or a duration.
const (
	ReasonNewestVerified = "newest verified"
	ReasonKeepLast       = "keep_last"
	ReasonMinVerified    = "min_verified"
	ReasonActive         = "run still active"
	ReasonPredates       = "predates lifeboat's history"
	ReasonBeyondPolicy   = "verified, beyond the keep_* policy"
	ReasonPolicyOff      = "no keep_* set: nothing pruned"
	ReasonLatestFailed   = "latest run failed: nothing pruned"
)

// Plan decides, for every backup, whether the policy keeps it at now.
// latestRunFailed is whether the target's latest finished run failed. The
// decisions come newest first.
func Plan(p Policy, backups []Backup, latestRunFailed bool, now time.Time) []Decision {
	loc := p.Location
	if loc == nil {
		loc = time.UTC
	}
	ds := make([]Decision, len(backups))
	for i, b := range backups {
		ds[i] = Decision{Backup: b}
	}
	sort.SliceStable(ds, func(i, j int) bool {
		a, b := ds[i].Backup, ds[j].Backup
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.After(b.CreatedAt)
		}
		if a.RunID != b.RunID {
			return a.RunID > b.RunID
		}
		return a.Key < b.Key
	})
	if !p.Enabled() {
		for i := range ds {
			ds[i].Keep, ds[i].Reasons = true, []string{ReasonPolicyOff}
		}
		return ds
	}

	keep := func(d *Decision, reason string) {
		d.Keep = true
		d.Reasons = append(d.Reasons, reason)
	}

	// The verified backups, newest first: what the keep_* rules choose from.
	var verified []*Decision
	for i := range ds {
		if ds[i].usable() {
			verified = append(verified, &ds[i])
		}
	}
	if len(verified) > 0 {
		keep(verified[0], ReasonNewestVerified)
	}
	for i := 0; i < p.KeepLast && i < len(verified); i++ {
		keep(verified[i], ReasonKeepLast)
	}
	// Each bucket rule keeps the newest verified backup of each of its n
	// most recent periods that have one. A set rather than "the period
	// changed" copes with zones whose clocks go back across midnight.
	buckets := []struct {
		rule   string
		n      int
		period func(time.Time) string
	}{
		{"keep_daily", p.KeepDaily, func(t time.Time) string { return t.Format("2006-01-02") }},
		{"keep_weekly", p.KeepWeekly, func(t time.Time) string {
			y, w := t.ISOWeek()
			return fmt.Sprintf("%04d-W%02d", y, w)
		}},
		{"keep_monthly", p.KeepMonthly, func(t time.Time) string { return t.Format("2006-01") }},
		{"keep_yearly", p.KeepYearly, func(t time.Time) string { return t.Format("2006") }},
	}
	for _, bk := range buckets {
		seen := map[string]bool{}
		for _, d := range verified {
			if len(seen) == bk.n {
				break
			}
			period := bk.period(d.CreatedAt.In(loc))
			if !seen[period] {
				seen[period] = true
				keep(d, bk.rule+" "+period)
			}
		}
	}
	for i := 0; i < p.MinVerified && i < len(verified); i++ {
		keep(verified[i], ReasonMinVerified)
	}

	for i := range ds {
		d := &ds[i]
		age := now.Sub(d.CreatedAt)
		switch {
		case d.Keep:
		case d.usable():
			d.Reasons = []string{ReasonBeyondPolicy}
		case d.Status != "" && !d.Status.Finished():
			keep(d, ReasonActive)
		case d.Missing:
			graced(d, age, p.PartialGrace, "object missing from storage", "partial")
		case !d.Manifest:
			graced(d, age, p.PartialGrace, "no manifest", "partial")
		case d.PredatesHistory:
			keep(d, ReasonPredates)
		default:
			what := "unverified"
			if d.RunID == 0 {
				what = "unverified (not in lifeboat's history)"
			} else if d.Status == lifeboat.RunFailed || d.Status == lifeboat.RunCanceled {
				what = "unverified (run " + string(d.Status) + ")"
			}
			graced(d, age, p.UnverifiedGrace, what, "unverified")
		}
	}

	if latestRunFailed {
		for i := range ds {
			if d := &ds[i]; !d.Keep {
				d.Keep = true
				d.Reasons = []string{ReasonLatestFailed, "otherwise: " + strings.Join(d.Reasons, "; ")}
			}
		}
	}
	return ds
}

// graced keeps d while it is younger than grace, and deletes it after.
func graced(d *Decision, age, grace time.Duration, what, graceName string) {
	if age < grace {
		d.Keep = true
		d.Reasons = append(d.Reasons, fmt.Sprintf("%s, within %s grace (%s)", what, graceName, FormatDuration(grace)))
		return
	}
	d.Reasons = append(d.Reasons, fmt.Sprintf("%s, older than %s", what, FormatDuration(grace)))
}

// FormatDuration writes whole days as "7d" and anything else as Go does,
// without trailing zero units ("36h", "1h30m", "90s").
func FormatDuration(d time.Duration) string {
	const day = 24 * time.Hour
	if d > 0 && d%day == 0 {
		return strconv.FormatInt(int64(d/day), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
