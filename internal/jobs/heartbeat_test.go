package jobs_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// pingRecord is one request a heartbeat service received.
type pingRecord struct {
	method, uri, body string
}

type pingRecorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []pingRecord
}

func newPingRecorder(t *testing.T) *pingRecorder {
	p := &pingRecorder{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		p.mu.Lock()
		p.reqs = append(p.reqs, pingRecord{r.Method, r.URL.RequestURI(), string(b)})
		p.mu.Unlock()
		_, _ = io.WriteString(w, "OK")
	}))
	t.Cleanup(p.Close)
	return p
}

func (p *pingRecorder) received() []pingRecord {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]pingRecord(nil), p.reqs...)
}

// styledRun runs "app" to its end through a runner whose "snitch" notifier
// speaks style, and returns the run and what the service received.
func styledRun(t *testing.T, o options, style notify.HeartbeatStyle) (lifeboat.Run, []pingRecord) {
	t.Helper()
	o.noStart = true
	b := setup(t, o)
	svc := newPingRecorder(t)
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
	return run, svc.received()
}

// A real run through the pipeline signals its start and its verified end to
// a healthchecks check with one rid, the end carrying the log's last lines.
func TestHealthchecksHeartbeatSignalsRealRun(t *testing.T) {
	t.Parallel()
	run, got := styledRun(t, options{}, notify.StyleHealthchecks)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)
	rid := notify.RunUUID("app", run.ID)
	require.Len(t, got, 2)
	require.Equal(t, "POST", got[0].method)
	require.Equal(t, "/ping/check/start?rid="+rid, got[0].uri)
	require.Equal(t, "run "+itoa(run.ID)+" of app started (trigger api)\nhttp://lifeboat.test/runs/"+itoa(run.ID), got[0].body)
	require.Equal(t, "POST", got[1].method)
	require.Equal(t, "/ping/check?rid="+rid, got[1].uri)
	require.True(t, strings.HasPrefix(got[1].body, "✅ app: run "+itoa(run.ID)+" succeeded in "), got[1].body)
	require.Contains(t, got[1].body, "\n\nlast log lines:\n")
	require.Contains(t, got[1].body, " verify info: ", "lines of the run's own log")
	require.LessOrEqual(t, strings.Count(got[1].body[strings.Index(got[1].body, "last log lines:"):], "\n"), 20)
}

// A failed check fails the run: the check hears /fail with the reason.
func TestHealthchecksHeartbeatSignalsFailedRun(t *testing.T) {
	t.Parallel()
	run, got := styledRun(t, options{checks: `      - {name: enough customers, sql: "SELECT count(*) FROM customers", expect: ">= 100000"}`},
		notify.StyleHealthchecks)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	rid := notify.RunUUID("app", run.ID)
	require.Len(t, got, 2)
	require.Equal(t, "/ping/check/start?rid="+rid, got[0].uri)
	require.Equal(t, "/ping/check/fail?rid="+rid, got[1].uri)
	require.Contains(t, got[1].body, "Failed stage: verify")
	require.Contains(t, got[1].body, "enough customers: expected >= 100000, observed 500")
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
	require.True(t, strings.HasPrefix(got[1].uri, "/ping/check?message=run+"+itoa(run.ID)+"+of+app+failed%3A+backup%3A+"), got[1].uri)
	require.True(t, strings.HasSuffix(got[1].uri, "&series="+rid+"&state=fail"), got[1].uri)
	require.NotContains(t, got[1].uri, "%3Apw%40", "no credentials in the message")
}
