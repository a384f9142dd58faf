package views

import (
	"fmt"
	"strconv"
	"strings"
)

// ScheduleWords describes a cron schedule (5 fields or an @descriptor, as
// internal/schedule accepts) in English: "every day at 03:00", "every
// Monday to Friday at 02:30", "every 15 minutes". A schedule it cannot put
// into words returns "", and pages show the expression itself (they show it
// beside the words anyway). An empty schedule is "manual runs only".
func ScheduleWords(spec string) string {
	spec = strings.TrimSpace(spec)
	switch spec {
	case "":
		return "manual runs only"
	case "@hourly":
		return "every hour, on the hour"
	case "@daily", "@midnight":
		return "every day at 00:00"
	case "@weekly":
		return "every Sunday at 00:00"
	case "@monthly":
		return "on the 1st of every month at 00:00"
	case "@yearly", "@annually":
		return "every year on 1 January at 00:00"
	}
	f := strings.Fields(spec)
	if len(f) != 5 {
		return ""
	}
	minute, hour, dom, month, dow := f[0], f[1], f[2], f[3], f[4]
	when := timesWords(minute, hour)
	if when == "" {
		return ""
	}
	days, ok := daysWords(dom, dow)
	if !ok {
		return ""
	}
	months := ""
	if month != "*" {
		m, ok := listWords(month, 1, 12, monthName)
		if !ok {
			return ""
		}
		months = " in " + m
	}
	// "every 15 minutes" reads before the days; "at 03:00" after them.
	if strings.HasPrefix(when, "every") {
		if days == "every day" {
			return when + months
		}
		if rest, ok := strings.CutPrefix(days, "every "); ok {
			return when + " on " + rest + months
		}
		return when + " " + days + months
	}
	return days + months + " " + when
}

// timesWords describes the minute and hour fields.
func timesWords(minute, hour string) string {
	m, mok := single(minute, 0, 59)
	switch {
	case minute == "*" && hour == "*":
		return "every minute"
	case strings.HasPrefix(minute, "*/") && hour == "*":
		n, ok := single(minute[2:], 1, 59)
		if !ok {
			return ""
		}
		return plural(n, "every minute", "every %d minutes")
	case mok && hour == "*":
		if m == 0 {
			return "every hour, on the hour"
		}
		return fmt.Sprintf("every hour at :%02d", m)
	case mok && strings.HasPrefix(hour, "*/"):
		n, ok := single(hour[2:], 1, 23)
		if !ok {
			return ""
		}
		return plural(n, "every hour", "every %d hours") + fmt.Sprintf(" at :%02d", m)
	case mok:
		hours, ok := values(hour, 0, 23)
		if !ok || len(hours) > 6 {
			return ""
		}
		times := make([]string, len(hours))
		for i, h := range hours {
			times[i] = fmt.Sprintf("%02d:%02d", h, m)
		}
		return "at " + joinAnd(times)
	}
	return ""
}

// daysWords describes the day-of-month and day-of-week fields.
func daysWords(dom, dow string) (string, bool) {
	switch {
	case dom == "*" && dow == "*":
		return "every day", true
	case dom == "*":
		if dow == "1-5" {
			return "every Monday to Friday", true
		}
		if dow == "0,6" || dow == "6,0" || dow == "6-7" {
			return "every Saturday and Sunday", true
		}
		w, ok := listWords(dow, 0, 7, dayName)
		return "every " + w, ok
	case dow == "*":
		days, ok := values(dom, 1, 31)
		if !ok {
			return "", false
		}
		ords := make([]string, len(days))
		for i, d := range days {
			ords[i] = ordinal(d)
		}
		return "on the " + joinAnd(ords) + " of every month", true
	}
	return "", false // cron's "either day matches" rule reads badly in words
}

// listWords names the values of a list/range field, keeping ranges.
func listWords(field string, lo, hi int, name func(int) string) (string, bool) {
	var parts []string
	for _, p := range strings.Split(field, ",") {
		if a, b, isRange := strings.Cut(p, "-"); isRange {
			x, ok1 := single(a, lo, hi)
			y, ok2 := single(b, lo, hi)
			if !ok1 || !ok2 || x > y {
				return "", false
			}
			parts = append(parts, name(x)+" to "+name(y))
			continue
		}
		x, ok := single(p, lo, hi)
		if !ok {
			return "", false
		}
		parts = append(parts, name(x))
	}
	return joinAnd(parts), true
}

// values expands a list of numbers and ranges (no steps).
func values(field string, lo, hi int) ([]int, bool) {
	var out []int
	for _, p := range strings.Split(field, ",") {
		a, b, isRange := strings.Cut(p, "-")
		x, ok := single(a, lo, hi)
		if !ok {
			return nil, false
		}
		y := x
		if isRange {
			if y, ok = single(b, lo, hi); !ok || y < x {
				return nil, false
			}
		}
		for v := x; v <= y; v++ {
			out = append(out, v)
		}
	}
	return out, true
}

func single(s string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= lo && n <= hi
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return fmt.Sprintf(many, n)
}

func joinAnd(parts []string) string {
	switch len(parts) {
	case 0:
		return ""
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

var dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"}

func dayName(d int) string { return dayNames[d] }

var monthNames = []string{"", "January", "February", "March", "April", "May", "June", "July", "August",
	"September", "October", "November", "December"}

func monthName(m int) string { return monthNames[m] }

func ordinal(n int) string {
	suffix := "th"
	switch {
	case n%100 >= 11 && n%100 <= 13:
	case n%10 == 1:
		suffix = "st"
	case n%10 == 2:
		suffix = "nd"
	case n%10 == 3:
		suffix = "rd"
	}
	return strconv.Itoa(n) + suffix
}
