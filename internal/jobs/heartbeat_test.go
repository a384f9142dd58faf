package jobs_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

func styledRun(t *testing.T, o options, style notify.HeartbeatStyle) (lifeboat.Run, []pingRecord) {
	t.Helper()
	o.noStart = true
	b := setup(t, o)
	svc := newRecorder(t)
	hb, err := notify.NewStyledHeartbeat("snitch", svc.URL+"/ping/check", notify.HeartbeatOptions{Style: style, Logs: b.store.LogTail}, loopback())
	require.NoError(t, err)
	deps := b.deps
	deps.Senders = map[string]notify.Sender{"chat": b.deps.Senders["chat"], "snitch": hb}
	r, err := jobs.New(deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	require.NoError(t, r.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(sctx)
	})
	run, err := r.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	run, err = r.WaitRun(ctx, run.ID)
	require.NoError(t, err)
	return run, svc.requests()
}

// A real run through the pipeline signals its start and its verified end to
// a healthchecks check with one rid, the end carrying the log's last lines.
func TestHealthchecksHeartbeatSignalsRealRun(t *testing.T) {
	t.Parallel()
	run, got := styledRun(t, options{}, notify.StyleHealthchecks)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)
	rid := notify.RunUUID("app", run.ID)
	require.Len(t, got, 2)
	require.Equal(t, "POST", got[0].Method)
	require.Equal(t, "/ping/check/start?rid="+rid, got[0].URI)
	require.Equal(t, "run "+itoa(run.ID)+" of app started (trigger api)\nhttp://lifeboat.test/runs/"+itoa(run.ID), got[0].Body)
	require.Equal(t, "POST", got[1].Method)
	require.Equal(t, "/ping/check?rid="+rid, got[1].URI)
	require.True(t, strings.HasPrefix(got[1].Body, "✅ app: run "+itoa(run.ID)+" succeeded in "), got[1].Body)
	require.Contains(t, got[1].Body, "\n\nlast log lines:\n")
	require.Contains(t, got[1].Body, " verify info: ", "lines of the run's own log")
	require.LessOrEqual(t, strings.Count(got[1].Body[strings.Index(got[1].Body, "last log lines:"):], "\n"), 20)
}

// A failed check fails the run: the check hears /fail with the reason.
func TestHealthchecksHeartbeatSignalsFailedRun(t *testing.T) {
	t.Parallel()
	run, got := styledRun(t, options{checks: `      - {name: enough customers, sql: "SELECT count(*) FROM customers", expect: ">= 100000"}`},
		notify.StyleHealthchecks)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	rid := notify.RunUUID("app", run.ID)
	require.Len(t, got, 2)
	require.Equal(t, "/ping/check/start?rid="+rid, got[0].URI)
	require.Equal(t, "/ping/check/fail?rid="+rid, got[1].URI)
	require.Contains(t, got[1].Body, "Failed stage: verify")
	require.Contains(t, got[1].Body, "enough customers: expected >= 100000, observed 500")
}

// Retries of the backup stage do not restart the service's timer: one
// state=run, then one state=fail after the last attempt.
func TestCronitorHeartbeatOneStartAcrossRetries(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	run, got := styledRun(t, options{sourceURL: "postgres://postgres:pw@" + addr + "/app?sslmode=disable&connect_timeout=2"},
		notify.StyleCronitor)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	backup, _ := run.StageByName(lifeboat.StageBackup)
	require.Equal(t, jobs.MaxAttempts, backup.Attempt)
	rid := notify.RunUUID("app", run.ID)
	require.Len(t, got, 2)
	require.Equal(t, pingRecord{"GET", "/ping/check?series=" + rid + "&state=run", ""}, got[0])
	require.True(t, strings.HasPrefix(got[1].URI, "/ping/check?message=run+"+itoa(run.ID)+"+of+app+failed%3A+backup%3A+"), got[1].URI)
	require.True(t, strings.HasSuffix(got[1].URI, "&series="+rid+"&state=fail"), got[1].URI)
	require.NotContains(t, got[1].URI, "%3Apw%40", "no credentials in the message")
}
