// Package schedule computes a target's run slots from a 5-field cron
// expression (or @hourly, @daily, @weekly, @monthly, @yearly) in an IANA time
// zone, with explicit daylight-saving rules:
//
//   - a slot whose wall-clock time does not exist (spring forward) runs once,
//     at the instant the clocks jump;
//   - a wall-clock time that occurs twice (fall back) is one slot, at its
//     first occurrence.
//
// Parsing uses robfig/cron's parser; the slot arithmetic is ours, because
// those two rules are the point.
package schedule

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
)

// starBit marks a day-of-month or day-of-week field written as "*" (robfig's
// convention), which matters for cron's "either day field" rule.
const starBit = 1 << 63

// Schedule is a parsed cron expression in a location.
type Schedule struct {
	spec   string
	loc    *time.Location
	minute uint64
	hour   uint64
	dom    uint64
	month  uint64
	dow    uint64
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse parses spec in loc. "@every" is refused: lifeboat's slots are wall-
// clock times a person can read in the dashboard.
func Parse(spec string, loc *time.Location) (*Schedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "@every") {
		return nil, fmt.Errorf("@every is not supported: use a cron expression such as \"*/30 * * * *\"")
	}
	if !strings.HasPrefix(spec, "@") {
		if n := len(strings.Fields(spec)); n != 5 {
			return nil, fmt.Errorf("expected 5 cron fields, got %d", n)
		}
	}
	parsed, err := parser.Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("invalid cron expression: %w", err)
	}
	s, ok := parsed.(*cron.SpecSchedule)
	if !ok {
		return nil, fmt.Errorf("unsupported schedule %q", spec)
	}
	if loc == nil {
		loc = time.UTC
	}
	out := &Schedule{spec: spec, loc: loc, minute: s.Minute, hour: s.Hour, dom: s.Dom, month: s.Month, dow: s.Dow}
	if out.Next(time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)).IsZero() {
		return nil, fmt.Errorf("%q never matches a date", spec)
	}
	return out, nil
}

// Location is the schedule's time zone.
func (s *Schedule) Location() *time.Location { return s.loc }

// String returns the expression.
func (s *Schedule) String() string { return s.spec }

func has(bits uint64, n int) bool { return bits&(1<<uint(n)) != 0 }

// dayMatches applies cron's rule: when both day fields are restricted, a day
// matching either runs.
func (s *Schedule) dayMatches(d time.Time) bool {
	domOK := has(s.dom, d.Day())
	dowOK := has(s.dow, int(d.Weekday()))
	if s.dom&starBit != 0 || s.dow&starBit != 0 {
		return domOK && dowOK
	}
	return domOK || dowOK
}

// slotsOn returns the day's slot instants, sorted and without duplicates.
func (s *Schedule) slotsOn(y int, m time.Month, d int) []time.Time {
	var out []time.Time
	for h := 0; h < 24; h++ {
		if !has(s.hour, h) {
			continue
		}
		for mi := 0; mi < 60; mi++ {
			if !has(s.minute, mi) {
				continue
			}
			out = append(out, s.instant(y, m, d, h, mi))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Before(out[j]) })
	dedup := out[:0]
	for i, t := range out {
		if i == 0 || !t.Equal(out[i-1]) {
			dedup = append(dedup, t)
		}
	}
	return dedup
}

// instant maps a wall-clock time to the instant it runs at.
func (s *Schedule) instant(y int, m time.Month, d, h, mi int) time.Time {
	t := time.Date(y, m, d, h, mi, 0, 0, s.loc)
	if t.Hour() == h && t.Minute() == mi {
		// Exists; if it exists twice, time.Date may pick either: take the first.
		if earlier := t.Add(-time.Hour); earlier.Hour() == h && earlier.Minute() == mi && earlier.Day() == d {
			return earlier
		}
		return t
	}
	// Skipped by a spring-forward jump: run when the clocks jump. time.Date
	// normalises a skipped time to one side of the jump or the other; the
	// jump is where that side's zone ends or starts.
	start, end := t.ZoneBounds()
	wall := time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), 0, 0, time.UTC)
	before := wall.Before(time.Date(y, m, d, h, mi, 0, 0, time.UTC))
	switch {
	case before && !end.IsZero():
		return end
	case !before && !start.IsZero():
		return start
	}
	return t
}

// Next returns the first slot strictly after t, or the zero time when there
// is none in the next five years.
func (s *Schedule) Next(t time.Time) time.Time {
	local := t.In(s.loc)
	day := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, time.UTC)
	for i := 0; i < 5*366+2; i++ {
		d := day.AddDate(0, 0, i)
		if !has(s.month, int(d.Month())) || !s.dayMatches(d) {
			continue
		}
		for _, slot := range s.slotsOn(d.Year(), d.Month(), d.Day()) {
			if slot.After(t) {
				return slot
			}
		}
	}
	return time.Time{}
}

// Latest returns the last slot in (since, t] and how many slots that range
// holds: how a tick finds the due slot and how many it missed while lifeboat
// was down. Only the last 400 days before t are looked at.
func (s *Schedule) Latest(since, t time.Time) (slot time.Time, count int) {
	if !since.Before(t) {
		return time.Time{}, 0
	}
	if floor := t.AddDate(0, 0, -400); since.Before(floor) {
		since = floor
	}
	lo, hi := since.In(s.loc), t.In(s.loc)
	day := time.Date(lo.Year(), lo.Month(), lo.Day(), 0, 0, 0, 0, time.UTC)
	last := time.Date(hi.Year(), hi.Month(), hi.Day(), 0, 0, 0, 0, time.UTC)
	for ; !day.After(last); day = day.AddDate(0, 0, 1) {
		if !has(s.month, int(day.Month())) || !s.dayMatches(day) {
			continue
		}
		for _, x := range s.slotsOn(day.Year(), day.Month(), day.Day()) {
			if x.After(since) && !x.After(t) {
				slot = x
				count++
			}
		}
	}
	return slot, count
}

// Interval is the gap between the two slots after t: a schedule's period,
// used by the watchdog's default window.
func (s *Schedule) Interval(t time.Time) time.Duration {
	a := s.Next(t)
	b := s.Next(a)
	if a.IsZero() || b.IsZero() {
		return 0
	}
	return b.Sub(a)
}
