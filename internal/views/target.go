package views

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

func capitalize(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	if n == 0 {
		return s
	}
	return string(unicode.ToUpper(r)) + s[n:]
}

func zoneName(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

func firstN[T any](s []T, n int) []T {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func orDash(s string) string { return orDefault(s, "–") }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func durationOrDefault(d time.Duration, def string) string {
	if d <= 0 {
		return "default (" + def + ")"
	}
	return FormatDuration(d)
}

func overlapText(o string) string {
	if o == "queue" {
		return "queue behind the active run"
	}
	return "skip the slot while a run is active"
}

// retentionText is a policy in words: "keep the last 7, 7 daily, 4 weekly;
// at least 1 verified; unverified kept 7 d".
func retentionText(r RetentionConfig) string {
	var keep []string
	add := func(n int, what string) {
		if n > 0 {
			keep = append(keep, fmt.Sprintf("%d %s", n, what))
		}
	}
	if r.KeepLast > 0 {
		keep = append(keep, fmt.Sprintf("the last %d", r.KeepLast))
	}
	add(r.KeepDaily, "daily")
	add(r.KeepWeekly, "weekly")
	add(r.KeepMonthly, "monthly")
	add(r.KeepYearly, "yearly")
	if len(keep) == 0 {
		return "keep every backup (no keep_* set)"
	}
	s := "keep " + strings.Join(keep, ", ")
	minVerified := max(r.MinVerified, 1)
	s += fmt.Sprintf("; always at least %d verified", minVerified)
	if r.UnverifiedGrace > 0 {
		s += "; unverified backups kept " + FormatDuration(r.UnverifiedGrace)
	}
	return s
}
