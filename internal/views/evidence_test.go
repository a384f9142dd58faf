package views_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

func TestRunPageLeadsWithATrippedGate(t *testing.T) {
	t.Parallel()
	v := failedRun(t)
	reason := "public.orders: 1 204 332 → 12 rows (−99.99 %) since run #41"
	v.Run.Checks = append([]lifeboat.CheckResult{{Name: "gate: rows public.orders", Builtin: true,
		Expected: "a drop of at most 50 %", Observed: reason}}, v.Run.Checks...)
	v.Run.Error = "verify: 2 of 4 checks failed: " + reason
	doc, src := renderPage(t, views.RunPage(v))
	callout := mustTestID(t, doc, "gates-tripped")
	require.Contains(t, text(mustTestID(t, callout, "gate-reason")), reason)
	require.Less(t, strings.Index(src, `data-testid="gates-tripped"`), strings.Index(src, `data-testid="run-error"`), "the gate leads")
	requirePostForm(t, doc, "accept-baseline", views.RunBaselineURL(42))
	require.Empty(t, findAll(doc, testID("baseline-accepted")))

	// Once accepted: who and when, and no button.
	v.Run.Baseline = &lifeboat.BaselineAcceptance{By: "token ci", At: ago(time.Minute)}
	doc, _ = renderPage(t, views.RunPage(v))
	require.Contains(t, text(mustTestID(t, doc, "baseline-accepted")), "by token ci")
	require.Empty(t, findAll(doc, testID("accept-baseline")))

	// No gate tripped: nothing to accept.
	doc, _ = renderPage(t, views.RunPage(failedRun(t)))
	require.Empty(t, findAll(doc, testID("gates-tripped")))
	require.Empty(t, findAll(doc, testID("accept-baseline")))
}

func TestEvidencePage(t *testing.T) {
	t.Parallel()
	t0 := ago(48 * time.Hour)
	fin := t0.Add(time.Minute)
	secs := 14.4
	rep := lifeboat.EvidenceReport{Format: lifeboat.EvidenceFormat, Scope: "shop", From: ago(72 * time.Hour), To: now,
		GeneratedAt: now, Summary: "1 of 2 scheduled restore tests passed; longest gap without a verified backup 26 h",
		Targets: []lifeboat.EvidenceTarget{{Target: "shop", Summary: "1 of 2 scheduled restore tests passed; longest gap without a verified backup 26 h",
			ScheduledTests: 2, ScheduledPassed: 1, Tests: 2, Passed: 1, MaxRestoreSeconds: secs,
			LongestGap: lifeboat.EvidenceGap{From: t0, To: t0.Add(26 * time.Hour), Hours: 26, FromRun: 41, ToRun: 43},
			Failures: []lifeboat.EvidenceFailure{{RunID: 42, At: fin, Stage: "verify", Reason: "verify: public.orders: gone since run #41",
				EndedByRun: 43, Ended: "run #43 verified a backup 3 h later"}},
			Runs: []lifeboat.EvidenceRun{{ID: 41, Trigger: lifeboat.TriggerSchedule, Status: lifeboat.RunSucceeded, CreatedAt: t0,
				FinishedAt: &fin, BackupAt: &t0, RestoreSeconds: &secs,
				Artifact: &lifeboat.Artifact{Storage: "main", Key: "shop/2026/11/23/41.dump.zst.age", SHA256: strings.Repeat("ab", 32)},
				Checks:   []lifeboat.CheckResult{{Name: "rows public.orders", Builtin: true, Passed: true, Expected: "3000", Observed: "3000"}},
				Gates:    []lifeboat.CheckResult{{Name: "gate: total rows", Builtin: true, Passed: true, Expected: "a drop of at most 20 %", Observed: "all tables: 3 500 → 3 510 rows (+0.28 %) since run #40"}}}}}}}
	sig := lifeboat.EvidenceSignature{Algorithm: "ed25519", KeyID: "0123456789abcdef", PublicKey: "cHVibGlj", Value: "c2ln"}
	doc, _ := renderPage(t, views.EvidencePage(views.EvidenceView{Page: page(views.NavRuns), Target: "shop", Report: rep,
		Signature: sig, From: "2026-11-22", Until: "2026-11-25"}))
	require.Equal(t, rep.Summary, text(mustTestID(t, doc, "evidence-summary")))
	require.Equal(t, "lifeboat evidence verify FILE --public-key cHVibGlj", text(mustTestID(t, doc, "evidence-verify-command")))
	require.Equal(t, "/targets/shop/evidence.json?from=2026-11-22&until=2026-11-25", attrOf(mustTestID(t, doc, "evidence-download"), "href"))
	tg := mustTestID(t, doc, "evidence-target-shop")
	require.Contains(t, text(mustTestID(t, tg, "longest-gap")), "26 h")
	require.Contains(t, text(mustTestID(t, tg, "longest-gap")), "run #41")
	require.Equal(t, "run #43 verified a backup 3 h later", text(mustTestID(t, tg, "failure-ended")))
	run := mustTestID(t, tg, "evidence-run")
	require.Equal(t, "41", attrOf(run, "data-run-id"))
	require.Equal(t, "14 s", text(mustTestID(t, run, "restore-duration")))
	require.Equal(t, strings.Repeat("ab", 32), text(mustTestID(t, run, "evidence-artifact-sha256")))
	require.Len(t, findAll(run, testID("evidence-check")), 2, "the gate and the check")
}

func TestSettingsShowsTheEvidenceKey(t *testing.T) {
	t.Parallel()
	doc, _ := renderPage(t, views.SettingsPage(views.SettingsView{Page: page(views.NavSettings),
		EvidenceKey: &lifeboat.EvidenceKey{KeyID: "0123456789abcdef", PublicKey: "cHVibGlj", Source: "generated"}}))
	require.Equal(t, "cHVibGlj", text(mustTestID(t, doc, "evidence-public-key")))
	require.Equal(t, "0123456789abcdef", text(mustTestID(t, doc, "evidence-key-id")))
}
