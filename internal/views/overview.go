package views

import (
	"fmt"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
)

// overviewSummary counts targets by status: "3 targets: 2 verified, 1 failing".
func overviewSummary(v OverviewView) string {
	counts := map[Status]int{}
	var order []Status
	for _, t := range v.Targets {
		s := t.Status()
		if counts[s] == 0 {
			order = append(order, s)
		}
		counts[s]++
	}
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[s], s.Word())
	}
	return fmt.Sprintf("%d %s: %s", len(v.Targets), pluralWord(len(v.Targets), "target", "targets"), strings.Join(parts, ", "))
}

func attentionTitle(n int) string {
	if n == 1 {
		return "1 target needs attention"
	}
	return fmt.Sprintf("%d targets need attention", n)
}

// attentionReason says in a few words why a target is in the banner.
func attentionReason(t TargetRow, p Page) string {
	var parts []string
	if r := t.LastRun; r != nil && r.Status == lifeboat.RunFailed {
		s := fmt.Sprintf("run #%d failed", r.ID)
		reason := r.Error
		if r.FailedStage != "" {
			s += " in " + string(r.FailedStage)
			// A run's error starts with its failed stage: say it once.
			reason = strings.TrimPrefix(reason, string(r.FailedStage)+": ")
		}
		if reason != "" {
			s += ": " + reason
		}
		parts = append(parts, s)
	}
	if t.Overdue {
		if t.LastVerifiedAt != nil {
			parts = append(parts, "last verified backup "+FormatAge(p.Now, *t.LastVerifiedAt))
		} else {
			parts = append(parts, "no verified backup yet")
		}
	}
	return strings.Join(parts, "; ")
}

// scheduleShort is the schedule under a target's name, with the zone it
// is read in ("every day at 03:00, UTC"); "" for a target run by hand.
func scheduleShort(t TargetRow) string {
	if t.Schedule == "" {
		return ""
	}
	w := ScheduleWords(t.Schedule)
	if w == "" {
		w = t.Schedule
	}
	return w + ", " + zoneName(t.Timezone)
}

// runNowVariant makes "Run now" the primary action where it is the next
// step: a target that has never run or is failing.
func runNowVariant(t TargetRow) string {
	if s := t.Status(); s == StatusNeverRun || s == StatusFailing {
		return "primary"
	}
	return "secondary"
}

const exampleTargetYAML = `targets:
  - name: app
    database_url: ${APP_DATABASE_URL}
    schedule: "0 3 * * *"      # every day at 03:00
    timezone: Europe/London
    storage: main
    notify: [ops-chat]
    checks:
      - {name: users exist, sql: "SELECT count(*) FROM users", expect: ">= 1"}`

const exampleTargetCurl = `curl -X POST "$LIFEBOAT_URL/api/v1/targets" \
  -H "Authorization: Bearer $LIFEBOAT_TOKEN" \
  -H "Content-Type: application/json" \
  -d '{"name": "app", "database_url": "'"$APP_DATABASE_URL"'",
       "schedule": "0 3 * * *", "storage": "main"}'`
