package views

import (
	"net/url"
	"time"
)

// dateValue is an <input type="date"> value: the day of t in zone, "" for
// the zero time.
func dateValue(t time.Time, zone *time.Location) string {
	if t.IsZero() {
		return ""
	}
	return t.In(zoneOr(zone)).Format(time.DateOnly)
}

// RunsPageURL is the runs list with the filter applied, continuing at
// cursor ("" for the newest runs). Empty filters are left out, so the
// URL stays short and readable.
func RunsPageURL(f RunsFilter, zone *time.Location, cursor string) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("target", f.Target)
	set("status", string(f.Status))
	set("trigger", string(f.Trigger))
	set("since", dateValue(f.Since, zone))
	set("until", dateValue(f.Until, zone))
	set("cursor", cursor)
	if len(q) == 0 {
		return RunsURL
	}
	return RunsURL + "?" + q.Encode()
}
