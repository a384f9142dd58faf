package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

func page(nav views.NavSection) views.Page {
	return views.Page{Title: "t", Nav: nav, SignedIn: true, Now: now, Zone: utc}
}

// history makes n finished runs, oldest first, failing those whose index
// is in failed.
func history(n int, failed ...int) []views.HistoryPoint {
	out := make([]views.HistoryPoint, n)
	for i := range out {
		out[i] = views.HistoryPoint{RunID: int64(100 + i), CreatedAt: ago(time.Duration(n-i) * 24 * time.Hour),
			Status: lifeboat.RunSucceeded, Duration: time.Duration(60+i) * time.Second, StoredBytes: int64(700+i) * 1e6,
			RestoreDuration: time.Duration(30+i) * time.Second}
	}
	for _, i := range failed {
		out[i].Status = lifeboat.RunFailed
		out[i].StoredBytes = 0
	}
	return out
}

func overviewTargets() []views.TargetRow {
	return []views.TargetRow{
		{Name: "shop", Schedule: "0 3 * * *", LastVerifiedAt: ptrTime(ago(9 * time.Hour)), NextRunAt: ptrTime(now.Add(15 * time.Hour)),
			LastRun: &views.RunSummary{ID: 130, Status: lifeboat.RunSucceeded, Duration: 3*time.Minute + 4*time.Second, StoredBytes: 760e6},
			History: history(31, 5)},
		{Name: "crm", Schedule: "30 2 * * 1-5", LastVerifiedAt: ptrTime(ago(80 * time.Hour)), Overdue: true,
			LastRun: &views.RunSummary{ID: 131, Status: lifeboat.RunFailed, FailedStage: lifeboat.StageVerify, Error: "verify: check users exist failed", Duration: time.Minute},
			History: history(3, 2)},
		{Name: "fresh"},
		{Name: "legacy", Paused: true, Schedule: "@daily", LastVerifiedAt: ptrTime(ago(30 * 24 * time.Hour)),
			LastRun: &views.RunSummary{ID: 90, Status: lifeboat.RunSucceeded, Duration: time.Minute}},
	}
}

func TestOverviewRowsShowStatusAsIconAndWord(t *testing.T) {
	t.Parallel()
	doc, _ := renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview), Targets: overviewTargets()}))

	for name, want := range map[string]string{
		"shop": "✓ verified", "crm": "✗ failing", "fresh": "○ never run", "legacy": "⏸ paused",
	} {
		row := mustTestID(t, doc, "target-"+name)
		require.True(t, strings.HasPrefix(text(mustTestID(t, row, "status")), want), "%s: %q", name, text(mustTestID(t, row, "status")))
		requirePostForm(t, row, "run-now", "/targets/"+name+"/runs")
	}
	crm := mustTestID(t, doc, "target-crm")
	require.Contains(t, text(mustTestID(t, crm, "status")), "⏰ overdue", "failing and overdue: both said")

	shop := mustTestID(t, doc, "target-shop")
	require.Equal(t, "9 h ago", text(mustTestID(t, shop, "last-verified")))
	require.Equal(t, "2026-11-26 03:00 UTC", text(mustTestID(t, shop, "next-run")))
	require.Equal(t, "3 min 4 s", text(mustTestID(t, shop, "last-run-duration")))
	require.Equal(t, "760 MB", text(mustTestID(t, shop, "last-run-size")))
	require.Contains(t, text(shop), "every day at 03:00", "schedule in words under the name")

	legacy := mustTestID(t, doc, "target-legacy")
	require.Equal(t, "paused", text(mustTestID(t, legacy, "next-run")))

	fresh := mustTestID(t, doc, "target-fresh")
	require.Contains(t, text(mustTestID(t, fresh, "no-runs")), "Run now", "a target with no runs teaches the next step")
	require.Equal(t, "never", text(mustTestID(t, fresh, "last-verified")))
	require.Equal(t, "manual only", text(mustTestID(t, fresh, "next-run")))
	require.True(t, hasClass(mustTestID(t, fresh, "run-now"), "btn-primary"), "Run now is the primary action for a new target")

	require.Equal(t, "4 targets: 1 verified, 1 failing, 1 never run, 1 paused", text(mustTestID(t, doc, "summary")))
	require.Equal(t, "page", attrOf(mustTestID(t, doc, "nav-overview"), "aria-current"))
	require.Empty(t, attrOf(mustTestID(t, doc, "nav-runs"), "aria-current"))
	requirePostForm(t, doc, "logout", "/logout")
}

func TestOverviewSparklineHasThirtyPointsAndFailureMarks(t *testing.T) {
	t.Parallel()
	doc, _ := renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview), Targets: overviewTargets()}))

	shop := mustTestID(t, doc, "target-shop")
	svg := mustTestID(t, shop, "sparkline")
	lines := findAll(svg, func(n *html.Node) bool { return n.Data == "polyline" && hasClass(n, "spark-duration") })
	require.Len(t, lines, 1)
	require.Len(t, strings.Fields(attrOf(lines[0], "points")), views.SparkRuns, "31 runs given, the last 30 drawn")
	fails := findAll(svg, func(n *html.Node) bool { return hasClass(n, "spark-fail") })
	// Run index 5 of 31 is index 4 of the last 30.
	require.Len(t, fails, 1)
	require.Equal(t, "105", attrOf(fails[0], "data-run"))
	require.Contains(t, attrOf(svg, "aria-label"), "1 failed")

	crm := mustTestID(t, doc, "target-crm")
	require.Len(t, findAll(mustTestID(t, crm, "sparkline"), func(n *html.Node) bool { return hasClass(n, "spark-fail") }), 1)
	require.Equal(t, "–", text(mustTestID(t, mustTestID(t, doc, "target-fresh"), "history")), "no runs, no chart")
}

func TestOverviewBannerOnlyWhenFailingOrOverdue(t *testing.T) {
	t.Parallel()
	healthy := overviewTargets()[:1]
	doc, _ := renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview), Targets: healthy}))
	require.Empty(t, findAll(doc, testID("banner")), "no banner when all is well")

	// Paused and never-run targets are not alarms either.
	calm := append(overviewTargets()[:1:1], overviewTargets()[2:]...)
	doc, _ = renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview), Targets: calm}))
	require.Empty(t, findAll(doc, testID("banner")))

	overdueOnly := views.TargetRow{Name: "quiet", Overdue: true, LastVerifiedAt: ptrTime(ago(50 * time.Hour)),
		LastRun: &views.RunSummary{ID: 7, Status: lifeboat.RunSucceeded}}
	doc, _ = renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview),
		Targets: append(overviewTargets(), overdueOnly)}))
	banner := mustTestID(t, doc, "banner")
	require.Equal(t, "alert", attrOf(banner, "role"))
	require.Contains(t, text(banner), "2 targets need attention")
	crm := text(mustTestID(t, banner, "banner-crm"))
	require.Contains(t, crm, "✗ failing")
	require.Contains(t, crm, "run #131 failed in verify: check users exist failed")
	require.NotContains(t, crm, "verify: verify:", "the stage is said once")
	require.Contains(t, crm, "last verified backup 3 d ago")
	quiet := text(mustTestID(t, banner, "banner-quiet"))
	require.Contains(t, quiet, "⏰ overdue")
	require.Empty(t, findAll(banner, testID("banner-shop")))
	require.Empty(t, findAll(banner, testID("banner-legacy")), "paused targets are not in the banner")
}

func TestOverviewEmptyStateTeaches(t *testing.T) {
	t.Parallel()
	doc, _ := renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview)}))
	empty := mustTestID(t, doc, "empty-targets")
	require.Contains(t, text(empty), "targets:", "the config file way")
	require.Contains(t, text(empty), "schedule:")
	require.Contains(t, text(empty), "POST", "the API way")
	require.Contains(t, text(empty), "/api/v1/targets")
	require.Empty(t, findAll(doc, testID("targets")))
	require.Empty(t, findAll(doc, testID("banner")))
}

func TestTargetStatusPrecedence(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		paused, overdue bool
		outcome, active lifeboat.RunStatus
		want            views.Status
	}{
		{paused: true, outcome: lifeboat.RunFailed, want: views.StatusPaused},
		{overdue: true, outcome: lifeboat.RunFailed, want: views.StatusFailing},
		{overdue: true, outcome: lifeboat.RunSucceeded, want: views.StatusOverdue},
		{overdue: true, want: views.StatusOverdue},
		{outcome: lifeboat.RunSucceeded, active: lifeboat.RunRunning, want: views.StatusVerified},
		{active: lifeboat.RunRunning, want: views.StatusRunning},
		{active: lifeboat.RunQueued, want: views.StatusQueued},
		{want: views.StatusNeverRun},
	} {
		require.Equal(t, c.want, views.TargetStatus(c.paused, c.overdue, c.outcome, c.active), "%+v", c)
	}

	// A running run does not hide the previous outcome (from the history).
	row := views.TargetRow{LastRun: &views.RunSummary{ID: 9, Status: lifeboat.RunRunning}, History: history(2, 1)}
	require.Equal(t, views.StatusFailing, row.Status())
	require.NotNil(t, row.ActiveRun())
	// A canceled run says nothing about the pipeline.
	row = views.TargetRow{LastRun: &views.RunSummary{ID: 9, Status: lifeboat.RunCanceled}, History: history(2)}
	require.Equal(t, views.StatusVerified, row.Status())
}

func TestActiveRunLinkedBesideStatus(t *testing.T) {
	t.Parallel()
	rows := []views.TargetRow{{Name: "shop", History: history(2), LastVerifiedAt: ptrTime(ago(time.Hour)),
		LastRun: &views.RunSummary{ID: 55, Status: lifeboat.RunRunning, Duration: 10 * time.Second}}}
	doc, _ := renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview), Targets: rows}))
	status := mustTestID(t, doc, "status")
	require.True(t, strings.HasPrefix(text(status), "✓ verified"))
	active := mustTestID(t, status, "active-run")
	require.Equal(t, "/runs/55", attrOf(active, "href"))
	require.Contains(t, text(active), "▶ running")
}

// TestOverviewTimesInTheTargetsZoneNamed: the schedule and the next run are
// in the target's own zone, both named, and the next run is not rewritten
// into the viewer's zone (a viewer in Tokyo saw "03:00" next to "GMT+9").
func TestOverviewTimesInTheTargetsZoneNamed(t *testing.T) {
	t.Parallel()
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	next := time.Date(2026, 11, 26, 2, 0, 0, 0, time.UTC) // 03:00 in Berlin
	rows := []views.TargetRow{
		{Name: "eu", Schedule: "0 3 * * *", Timezone: "Europe/Berlin", Zone: berlin, NextRunAt: &next},
		{Name: "plain", Schedule: "0 3 * * *", NextRunAt: ptrTime(next.Add(time.Hour))},
	}
	doc, _ := renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview), Targets: rows}))

	eu := mustTestID(t, doc, "target-eu")
	require.Contains(t, text(eu), "every day at 03:00, Europe/Berlin")
	nextRun := mustTestID(t, eu, "next-run")
	require.Equal(t, "2026-11-26 03:00 CET Europe/Berlin", text(nextRun))
	for _, el := range findAll(nextRun, tag("time")) {
		_, local := attr(el, "data-local")
		require.False(t, local, "app.js must not move it to the viewer's zone")
	}
	plain := mustTestID(t, doc, "target-plain")
	require.Contains(t, text(plain), "every day at 03:00, UTC")
	require.Equal(t, "2026-11-26 03:00 UTC", text(mustTestID(t, plain, "next-run")))
}
