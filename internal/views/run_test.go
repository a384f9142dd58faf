package views_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

func metrics(t *testing.T, m map[string]any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(m)
	require.NoError(t, err)
	return b
}

func stage(name lifeboat.StageName, status lifeboat.StageStatus, start time.Time, d time.Duration, m json.RawMessage) lifeboat.Stage {
	s := lifeboat.Stage{Name: name, Status: status, Attempt: 1, StartedAt: &start, Metrics: m}
	if d > 0 {
		end := start.Add(d)
		s.FinishedAt = &end
	}
	return s
}

// failedRun failed its verify stage: one SQL check failed.
func failedRun(t *testing.T) views.RunView {
	t0 := ago(time.Hour)
	fin := t0.Add(25 * time.Second)
	run := lifeboat.Run{ID: 42, Target: "shop", Trigger: lifeboat.TriggerSchedule, Status: lifeboat.RunFailed,
		Error: "verify: check fresh orders failed", CreatedAt: t0, StartedAt: &t0, FinishedAt: &fin,
		ScheduledFor: ptrTime(t0.Add(-5 * time.Minute)), LateSeconds: 300,
		Artifact: &lifeboat.Artifact{Storage: "main", Key: "lifeboat/shop/2026/11/25/42.dump.zst.age",
			StoredBytes: 379e6, RawBytes: 1290e6, SHA256: strings.Repeat("9f", 32)},
		Stages: []lifeboat.Stage{
			stage(lifeboat.StageBackup, lifeboat.StageSucceeded, t0, 6300*time.Millisecond,
				metrics(t, map[string]any{"raw_bytes": 760e6, "stored_bytes": 379e6, "seconds": 6.3, "tables": 12, "rows": 1500000})),
			stage(lifeboat.StageRestore, lifeboat.StageSucceeded, t0.Add(7*time.Second), 14400*time.Millisecond,
				metrics(t, map[string]any{"raw_bytes": 760e6, "stored_bytes": 379e6, "seconds": 14.4, "download_seconds": 1.1, "pg_restore_seconds": 12.2, "jobs": 2})),
			stage(lifeboat.StageVerify, lifeboat.StageFailed, t0.Add(22*time.Second), 800*time.Millisecond,
				metrics(t, map[string]any{"checks": 3, "passed": 2, "failed": 1})),
			stage(lifeboat.StageReport, lifeboat.StageSucceeded, t0.Add(23*time.Second), 300*time.Millisecond,
				metrics(t, map[string]any{"event": "run.failed", "delivered": []string{"ops-chat"}, "failed": []string{}, "not_sent": []string{"snitch"}, "scratch_dropped": true})),
		},
		Checks: []lifeboat.CheckResult{
			{Name: "restore clean", Builtin: true, Passed: true, Expected: "0 errors", Observed: "0 errors"},
			{Name: "users exist", Passed: true, Expected: ">= 1", Observed: "1200"},
			{Name: "fresh orders", Passed: false, Expected: "true", Observed: "false"},
		},
	}
	run.Stages[2].Error = "check fresh orders failed"
	logs := []lifeboat.LogLine{
		{ID: 1, Stage: lifeboat.StageBackup, Time: t0, Level: "info", Message: "pg_dump 18.1 started"},
		{ID: 2, Stage: lifeboat.StageBackup, Time: t0.Add(time.Second), Level: "info", Message: "dumped 400000000 bytes"},
		{ID: 3, Stage: lifeboat.StageRestore, Time: t0.Add(8 * time.Second), Level: "warn", Message: "pg_restore: slow"},
		{ID: 4, Stage: lifeboat.StageVerify, Time: t0.Add(22 * time.Second), Level: "error", Message: "check fresh orders: expected true, got false <b>"},
		{ID: 5, Stage: lifeboat.StageReport, Time: t0.Add(23 * time.Second), Level: "info", Message: "sent to ops-chat"},
	}
	return views.RunView{Page: page(views.NavRuns), Run: run, Logs: logs,
		Deliveries: []views.DeliveryRow{{Notifier: "ops-chat", Kind: "slack", Event: "run.failed", RunID: 42, State: views.StatusDelivered, Attempts: 1, ResponseCode: 200, At: fin}}}
}

// activeRun is in its backup stage.
func activeRun() views.RunView {
	t0 := ago(30 * time.Second)
	run := lifeboat.Run{ID: 43, Target: "shop", Trigger: lifeboat.TriggerDashboard, Status: lifeboat.RunRunning, CreatedAt: t0, StartedAt: &t0,
		Stages: []lifeboat.Stage{{Name: lifeboat.StageBackup, Status: lifeboat.StageRunning, Attempt: 2, StartedAt: &t0}}}
	logs := []lifeboat.LogLine{
		{ID: 900, Stage: lifeboat.StageBackup, Time: t0, Level: "info", Message: "dumped 1000 bytes"},
		{ID: 901, Stage: lifeboat.StageBackup, Time: t0.Add(10 * time.Second), Level: "info", Message: "dumped 250000000 bytes"},
	}
	return views.RunView{Page: page(views.NavRuns), Run: run, Logs: logs}
}

func TestRunPageExplainsAFailedRun(t *testing.T) {
	t.Parallel()
	doc, src := renderPage(t, views.RunPage(failedRun(t)))

	require.Equal(t, "✗ failed", text(mustTestID(t, doc, "run-status")))
	require.Contains(t, text(mustTestID(t, doc, "run-error")), "verify: check fresh orders failed")
	require.Equal(t, "schedule", text(mustTestID(t, doc, "trigger")))
	require.Contains(t, text(mustTestID(t, doc, "run-facts")), "5 min late")
	require.Equal(t, "25 s", text(mustTestID(t, doc, "duration")))

	// The four stages in order, each with status, duration and figures.
	stages := findAll(mustTestID(t, doc, "stages"), tag("li"))
	require.Len(t, stages, 4)
	for i, want := range []string{"stage-backup", "stage-restore", "stage-verify", "stage-report"} {
		require.Equal(t, want, attrOf(stages[i], "data-testid"))
	}
	backup := mustTestID(t, doc, "stage-backup")
	require.Contains(t, text(backup), "✓ succeeded")
	require.Equal(t, "6.3 s", text(mustTestID(t, backup, "stage-duration")))
	figs := text(mustTestID(t, backup, "figures"))
	for _, want := range []string{"dumped 760 MB", "stored 379 MB (50% of dump)", "throughput 121 MB/s", "tables 12", "rows 1,500,000"} {
		require.Contains(t, figs, want)
	}
	require.Empty(t, findAll(backup, testID("progress")), "no live progress once the stage ended")
	restore := text(mustTestID(t, mustTestID(t, doc, "stage-restore"), "figures"))
	for _, want := range []string{"restored 760 MB", "throughput 52.8 MB/s", "tables restored 12", "read back 1.1 s", "pg_restore 12 s (2 jobs)"} {
		require.Contains(t, restore, want)
	}
	verify := mustTestID(t, doc, "stage-verify")
	require.Contains(t, text(verify), "✗ failed")
	require.Equal(t, "check fresh orders failed", text(mustTestID(t, verify, "stage-error")))
	require.Contains(t, text(mustTestID(t, verify, "figures")), "checks passed 2 of 3")
	report := text(mustTestID(t, mustTestID(t, doc, "stage-report"), "figures"))
	require.Contains(t, report, "delivered ops-chat")
	require.Contains(t, report, "not sent snitch")
	require.Contains(t, report, "scratch database dropped")

	// Checks: failed first, expected vs observed.
	rows := findAll(mustTestID(t, doc, "checks"), testID("check"))
	require.Len(t, rows, 3)
	require.Contains(t, text(rows[0]), "fresh orders")
	require.Equal(t, "✗ failed", text(mustTestID(t, rows[0], "check-result")))
	require.Equal(t, "true", text(mustTestID(t, rows[0], "check-expected")))
	require.Equal(t, "false", text(mustTestID(t, rows[0], "check-observed")))
	require.True(t, hasClass(rows[0], "row-failed"))
	require.Contains(t, text(rows[1]), "restore clean", "passed checks keep their order")
	require.Equal(t, "✓ passed", text(mustTestID(t, rows[1], "check-result")))
	require.Equal(t, "1 of 3 checks failed (listed first).", text(mustTestID(t, doc, "checks-summary")))

	// Artifact and its download.
	require.Equal(t, "lifeboat/shop/2026/11/25/42.dump.zst.age", text(mustTestID(t, doc, "artifact-key")))
	require.Equal(t, strings.Repeat("9f", 32), text(mustTestID(t, doc, "artifact-sha256")))
	require.Equal(t, "379 MB stored (1.29 GB dump)", text(mustTestID(t, doc, "artifact-size")))
	requirePostForm(t, doc, "download", "/backups/42/download")

	// A failed run can be retried, not canceled.
	requirePostForm(t, doc, "retry", "/runs/42/retry")
	require.Empty(t, findAll(doc, testID("cancel")))

	// The log, grouped by stage, errors highlighted and counted; a
	// finished run is not tailed.
	log := mustTestID(t, doc, "log")
	_, live := attr(log, "data-live-src")
	require.False(t, live)
	require.Empty(t, findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-status-badges"); return ok }))
	groups := findAll(log, tag("details"))
	require.Len(t, groups, 4)
	for i, s := range []string{"backup", "restore", "verify", "report"} {
		require.Equal(t, s, attrOf(groups[i], "data-log-stage"))
	}
	verifyLog := mustTestID(t, log, "log-verify")
	require.Equal(t, "✗ 1 error", text(mustTestID(t, verifyLog, "log-errors")))
	errLine := findAll(verifyLog, tag("li"))[0]
	require.True(t, hasClass(errLine, "level-error"))
	require.Contains(t, text(errLine), "error check fresh orders: expected true, got false <b>", "level in words; message escaped")
	require.NotContains(t, src, "false <b>", "log text is escaped")
	require.True(t, hasClass(findAll(mustTestID(t, log, "log-restore"), tag("li"))[0], "level-warn"))

	// Notifications about the run.
	require.Contains(t, text(mustTestID(t, doc, "delivery-ops-chat")), "✓ delivered")
	require.Contains(t, text(mustTestID(t, doc, "delivery-ops-chat")), "HTTP 200")
}

func TestRunPageTailsAnActiveRun(t *testing.T) {
	t.Parallel()
	doc, _ := renderPage(t, views.RunPage(activeRun()))

	require.Equal(t, "▶ running", text(mustTestID(t, doc, "run-status")))
	_, ok := attr(mustTestID(t, doc, "run-status"), "data-live-status")
	require.True(t, ok, "the badge app.js swaps when the run ends")
	requirePostForm(t, doc, "cancel", "/runs/43/cancel")
	require.Empty(t, findAll(doc, testID("retry")))
	require.Equal(t, "30 s so far", text(mustTestID(t, doc, "duration")))

	log := mustTestID(t, doc, "log")
	require.Equal(t, "/api/v1/runs/43/logs", attrOf(log, "data-live-src"))
	require.Equal(t, "901", attrOf(log, "data-live-after"), "the tail continues after the last line rendered")

	backup := mustTestID(t, doc, "stage-backup")
	require.Contains(t, text(backup), "▶ running")
	require.Contains(t, text(backup), "attempt 2")
	progress := mustTestID(t, backup, "progress")
	require.Equal(t, "250 MB", text(progress), "the newest progress line")
	_, ok = attr(progress, "data-live-progress")
	require.True(t, ok)
	require.Contains(t, text(mustTestID(t, doc, "stage-verify")), "○ pending", "stages not reached are pending")
	require.Equal(t, "No checks have run yet.", text(mustTestID(t, doc, "no-checks")))
	require.NotEmpty(t, findAll(doc, testID("no-artifact")))

	// One badge per run status for app.js to swap in, from the same table.
	tpl := findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "data-status-badges"); return ok })
	require.Len(t, tpl, 1)
	for status, want := range map[string]string{"succeeded": "✓ verified", "failed": "✗ failed", "canceled": "⊘ canceled"} {
		slot := findAll(tpl[0], func(n *html.Node) bool { return attrOf(n, "data-run-status") == status })
		require.Len(t, slot, 1, status)
		require.Equal(t, want, text(slot[0]))
	}
}

func TestRunPageWithoutLogs(t *testing.T) {
	t.Parallel()
	v := activeRun()
	v.Logs = nil
	v.Run.Status = lifeboat.RunQueued
	v.Run.Stages = nil
	doc, _ := renderPage(t, views.RunPage(v))
	require.NotEmpty(t, findAll(doc, testID("log-empty")))
	require.Equal(t, "0", attrOf(mustTestID(t, doc, "log"), "data-live-after"))
	require.Equal(t, "⋯ queued", text(mustTestID(t, doc, "run-status")))
	require.Empty(t, findAll(doc, testID("progress")), "no progress before the backup runs")
}

func TestGroupLogsKeepsStageOrderAndCountsErrors(t *testing.T) {
	t.Parallel()
	g := views.GroupLogs([]lifeboat.LogLine{
		{ID: 1, Level: "info", Message: "run queued"},
		{ID: 2, Stage: lifeboat.StageBackup, Level: "ERROR"},
		{ID: 3, Stage: lifeboat.StageRestore, Level: "info"},
		{ID: 4, Stage: lifeboat.StageBackup, Level: "error"},
	})
	require.Len(t, g, 3)
	require.Equal(t, "run", g[0].Stage)
	require.Equal(t, "backup", g[1].Stage)
	require.Len(t, g[1].Lines, 2)
	require.Equal(t, 2, g[1].Errors)
	require.Equal(t, 0, g[2].Errors)
}
