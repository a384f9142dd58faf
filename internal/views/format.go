package views

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// FormatBytes is a size in decimal units (kB = 1000 B, as the stage
// metrics' MB/s are), with three significant digits: "760 MB", "1.06 GB".
func FormatBytes(n int64) string {
	if n < 0 {
		return "-" + FormatBytes(-n)
	}
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	units := []string{"kB", "MB", "GB", "TB", "PB", "EB"}
	v := float64(n)
	for _, u := range units {
		v /= 1000
		// Round first so 999.96 kB becomes "1.00 MB", not "1000 kB".
		if r := sig3(v); r < 1000 || u == units[len(units)-1] {
			return strconv.FormatFloat(r, 'f', decimals(r), 64) + " " + u
		}
	}
	panic("unreachable")
}

// sig3 rounds v (≥ 1) to three significant digits.
func sig3(v float64) float64 {
	p := math.Pow(10, float64(decimals(v)))
	return math.Round(v*p) / p
}

func decimals(v float64) int {
	switch {
	case v < 10:
		return 2
	case v < 100:
		return 1
	}
	return 0
}

// FormatDuration is a duration as a person says it: "350 ms", "6.3 s",
// "3 min 4 s", "2 h 5 min", "3 d 4 h".
func FormatDuration(d time.Duration) string {
	if d < 0 {
		return "-" + FormatDuration(-d)
	}
	switch {
	case d < time.Second:
		return strconv.FormatInt(d.Milliseconds(), 10) + " ms"
	case d < 9950*time.Millisecond: // shown as 9.9 s at most
		return strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', 1, 64) + " s"
	case d.Round(time.Second) < time.Minute:
		return strconv.Itoa(int(d.Round(time.Second).Seconds())) + " s"
	case d.Round(time.Second) < time.Hour:
		d = d.Round(time.Second)
		return twoUnits(int(d/time.Minute), "min", int(d%time.Minute/time.Second), "s")
	case d.Round(time.Minute) < 24*time.Hour:
		d = d.Round(time.Minute)
		return twoUnits(int(d/time.Hour), "h", int(d%time.Hour/time.Minute), "min")
	}
	d = d.Round(time.Hour)
	return twoUnits(int(d/(24*time.Hour)), "d", int(d%(24*time.Hour)/time.Hour), "h")
}

func twoUnits(a int, ua string, b int, ub string) string {
	if b == 0 {
		return fmt.Sprintf("%d %s", a, ua)
	}
	return fmt.Sprintf("%d %s %d %s", a, ua, b, ub)
}

// FormatAge is how long ago t was, coarsely: "just now", "5 min ago",
// "3 h ago", "2 d ago"; a time after now reads "in 5 min".
func FormatAge(now, t time.Time) string {
	d := now.Sub(t)
	future := d < 0
	if future {
		d = -d
	}
	var s string
	switch {
	case d < time.Minute:
		if future {
			return "in less than a minute"
		}
		return "just now"
	case d < time.Hour:
		s = fmt.Sprintf("%d min", int(d/time.Minute))
	case d < 48*time.Hour:
		s = fmt.Sprintf("%d h", int(d/time.Hour))
	default:
		s = fmt.Sprintf("%d d", int(d/(24*time.Hour)))
	}
	if future {
		return "in " + s
	}
	return s + " ago"
}

// FormatThroughput is bytes per second as a size per second.
func FormatThroughput(bytes int64, seconds float64) string {
	if seconds <= 0 {
		return "–"
	}
	return FormatBytes(int64(float64(bytes)/seconds)) + "/s"
}

// FormatTime is t in zone (UTC when nil), to the minute, with the zone's
// abbreviation: "2026-11-25 04:00 CET".
func FormatTime(t time.Time, zone *time.Location) string {
	return t.In(zoneOr(zone)).Format("2006-01-02 15:04 MST")
}

// FormatCount groups thousands: 1234567 → "1,234,567".
func FormatCount(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := n < 0
	if neg {
		s = s[1:]
	}
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	if neg {
		return "-" + string(out)
	}
	return string(out)
}

// ShortSHA is the first 12 hex digits of a hash, enough to tell backups
// apart at a glance; the full value is in the title.
func ShortSHA(s string) string {
	if len(s) <= 12 {
		return s
	}
	return s[:12] + "…"
}

func zoneOr(z *time.Location) *time.Location {
	if z == nil {
		return time.UTC
	}
	return z
}

// utcText is the exact instant shown on hover.
func utcText(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") }

// rfc3339 is a <time datetime> value.
func rfc3339(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func pageTitle(t string) string {
	if t == "" {
		return "lifeboat"
	}
	return t + " · lifeboat"
}

// flashRole makes errors interrupt a screen reader and the rest wait.
func flashRole(k FlashKind) string {
	if k == FlashError {
		return "alert"
	}
	return "status"
}

func loginLabel(v LoginView) string {
	if v.PasswordEnabled {
		return "API token or admin password"
	}
	return "API token"
}

// framed fills a page's title and navigation section when the handler
// left them empty.
func framed(p Page, title string, nav NavSection) Page {
	if p.Title == "" {
		p.Title = title
	}
	if p.Nav == "" {
		p.Nav = nav
	}
	return p
}
