package notify_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

func TestHeartbeatPingsOnceForSucceededRun(t *testing.T) {
	t.Parallel()
	snitch := newEndpoint(t, http.StatusOK, "OK")
	h, err := notify.NewHeartbeat("snitch", snitch.URL+"/ping/abc123", loopbackClient(t))
	require.NoError(t, err)
	require.Equal(t, "snitch", h.Name())

	require.NoError(t, h.Send(context.Background(), event(succeededRun())))

	reqs := snitch.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, http.MethodGet, reqs[0].Method)
	require.Equal(t, "/ping/abc123", reqs[0].Path)
}

func TestHeartbeatSilentUnlessSucceeded(t *testing.T) {
	t.Parallel()
	snitch := newEndpoint(t, http.StatusOK, "OK")
	h, err := notify.NewHeartbeat("snitch", snitch.URL, loopbackClient(t))
	require.NoError(t, err)
	canceled := succeededRun()
	canceled.Status = lifeboat.RunCanceled

	require.NoError(t, h.Send(context.Background(), event(failedRun())))
	require.NoError(t, h.Send(context.Background(), event(canceled)))

	require.Empty(t, snitch.requests())
}

func TestHeartbeatPingNon2xx(t *testing.T) {
	t.Parallel()
	snitch := newEndpoint(t, http.StatusServiceUnavailable, "down")
	h, err := notify.NewHeartbeat("snitch", snitch.URL, loopbackClient(t))
	require.NoError(t, err)

	require.ErrorContains(t, h.Ping(context.Background()), "status 503: down")
	require.Len(t, snitch.requests(), 1)
}

// startedRun is run 42 as the backup stage sees it when it begins.
func startedRun() lifeboat.Run {
	r := succeededRun()
	r.Status = lifeboat.RunQueued
	r.StartedAt, r.FinishedAt, r.Artifact, r.Checks = nil, nil, nil, nil
	for i := range r.Stages {
		r.Stages[i].Status = lifeboat.StagePending
	}
	return r
}

// tailOf is a LogSource serving fixed lines and recording what was asked.
func tailOf(lines ...string) notify.LogSource {
	return func(_ context.Context, runID int64, n int) ([]lifeboat.LogLine, error) {
		var out []lifeboat.LogLine
		for i, m := range lines {
			out = append(out, lifeboat.LogLine{ID: int64(i + 1), Stage: lifeboat.StageBackup,
				Time: created.Add(time.Duration(i) * time.Second), Level: "info", Message: m})
		}
		if len(out) > n {
			out = out[len(out)-n:]
		}
		return out, nil
	}
}

type wantReq struct {
	method, uri, body string
}

// TestHeartbeatStyles sends a run's start and its end, succeeded or
// failed, through each style and compares the exact requests received.
func TestHeartbeatStyles(t *testing.T) {
	t.Parallel()
	rid := notify.RunUUID("app", 42)
	const okSummary = "✅ app: run 42 succeeded in 3m2s · 1.5 GiB stored\n" + runURL
	const failSummary = "❌ app: run 42 failed after 3m2s · 1.5 GiB stored\nFailed stage: verify — 1 of 2 checks failed\n" +
		"Failed checks:\n• users exist: expected >= 1, observed 0\n" + runURL
	const logBody = "\n\nlast log lines:\n2025-03-04T03:00:00Z backup info: pg_dump started\n2025-03-04T03:00:01Z backup info: uploaded 1.5 GiB"
	const started = "run 42 of app started (trigger schedule)\n" + runURL
	cases := []struct {
		style     notify.HeartbeatStyle
		succeeded []wantReq
		failed    []wantReq
	}{
		{style: notify.StylePlain,
			succeeded: []wantReq{{"GET", "/ping/abc?k=v", ""}},
			failed:    nil},
		{style: notify.StyleHealthchecks,
			succeeded: []wantReq{
				{"POST", "/ping/abc/start?k=v&rid=" + rid, started},
				{"POST", "/ping/abc?k=v&rid=" + rid, okSummary + logBody}},
			failed: []wantReq{
				{"POST", "/ping/abc/start?k=v&rid=" + rid, started},
				{"POST", "/ping/abc/fail?k=v&rid=" + rid, failSummary + logBody}}},
		{style: notify.StyleCronitor,
			succeeded: []wantReq{
				{"GET", "/ping/abc?k=v&series=" + rid + "&state=run", ""},
				{"GET", "/ping/abc?k=v&message=run+42+of+app+verified+in+3m2s+%C2%B7+1.5+GiB+stored&series=" + rid + "&state=complete", ""}},
			failed: []wantReq{
				{"GET", "/ping/abc?k=v&series=" + rid + "&state=run", ""},
				{"GET", "/ping/abc?k=v&message=run+42+of+app+failed%3A+verify%3A+1+of+2+checks+failed&series=" + rid + "&state=fail", ""}}},
		{style: notify.StyleDeadMansSnitch,
			succeeded: []wantReq{{"GET", "/ping/abc?k=v&m=run+42+of+app+verified+in+3m2s+%C2%B7+1.5+GiB+stored", ""}},
			failed:    nil},
	}
	for _, tc := range cases {
		for outcome, end := range map[string]lifeboat.Run{"succeeded": succeededRun(), "failed": failedRun()} {
			t.Run(string(tc.style)+"/"+outcome, func(t *testing.T) {
				t.Parallel()
				srv := newEndpoint(t, http.StatusOK, "OK")
				h, err := notify.NewStyledHeartbeat("hb", srv.URL+"/ping/abc?k=v", notify.HeartbeatOptions{
					Style: tc.style, Logs: tailOf("pg_dump started", "uploaded 1.5 GiB"),
				}, loopbackClient(t))
				require.NoError(t, err)
				require.Equal(t, tc.style, h.Style())

				ctx := context.Background()
				require.NoError(t, h.Send(ctx, notify.NewStartedEvent(startedRun(), runURL, created)))
				require.NoError(t, h.Send(ctx, event(end)))

				want := tc.succeeded
				if outcome == "failed" {
					want = tc.failed
				}
				var got []wantReq
				for _, r := range srv.requests() {
					got = append(got, wantReq{r.Method, r.Path, string(r.Body)})
					if r.Method == http.MethodPost {
						require.Equal(t, "text/plain; charset=utf-8", r.Header.Get("Content-Type"))
					}
					require.Equal(t, "lifeboat", r.Header.Get("User-Agent"))
				}
				require.Equal(t, want, got)
			})
		}
	}
}

func TestHeartbeatDefaultStyleIsPlain(t *testing.T) {
	t.Parallel()
	h, err := notify.NewStyledHeartbeat("hb", "https://hc-ping.com/x", notify.HeartbeatOptions{}, nil)
	require.NoError(t, err)
	require.Equal(t, notify.StylePlain, h.Style())
	plain, err := notify.NewHeartbeat("hb", "https://hc-ping.com/x", nil)
	require.NoError(t, err)
	require.Equal(t, notify.StylePlain, plain.Style())

	_, err = notify.NewStyledHeartbeat("hb", "https://hc-ping.com/secret-token", notify.HeartbeatOptions{Style: "pagerduty"}, nil)
	require.ErrorContains(t, err, `unknown heartbeat style "pagerduty"`)
	require.NotContains(t, err.Error(), "secret-token")
}

// A canceled run left no verified backup: styles that report failures say
// so, the others stay silent.
func TestHeartbeatCanceledRunCountsAsFailed(t *testing.T) {
	t.Parallel()
	canceled := succeededRun()
	canceled.Status = lifeboat.RunCanceled
	rid := notify.RunUUID("app", 42)
	for style, want := range map[notify.HeartbeatStyle]string{
		notify.StyleHealthchecks:   "/hb/fail?rid=" + rid,
		notify.StyleCronitor:       "/hb?message=run+42+of+app+was+canceled&series=" + rid + "&state=fail",
		notify.StylePlain:          "",
		notify.StyleDeadMansSnitch: "",
	} {
		srv := newEndpoint(t, http.StatusOK, "OK")
		h, err := notify.NewStyledHeartbeat("hb", srv.URL+"/hb", notify.HeartbeatOptions{Style: style}, loopbackClient(t))
		require.NoError(t, err)
		require.NoError(t, h.Send(context.Background(), event(canceled)))
		reqs := srv.requests()
		if want == "" {
			require.Empty(t, reqs, style)
			continue
		}
		require.Len(t, reqs, 1, style)
		require.Equal(t, want, reqs[0].Path, style)
	}
}

// The watchdog's target events are for chat and webhooks: a heartbeat's
// own timer already raises the alarm.
func TestHeartbeatIgnoresTargetEvents(t *testing.T) {
	t.Parallel()
	for _, style := range []notify.HeartbeatStyle{notify.StylePlain, notify.StyleHealthchecks, notify.StyleCronitor, notify.StyleDeadMansSnitch} {
		srv := newEndpoint(t, http.StatusOK, "OK")
		h, err := notify.NewStyledHeartbeat("hb", srv.URL, notify.HeartbeatOptions{Style: style}, loopbackClient(t))
		require.NoError(t, err)
		for _, kind := range []notify.Kind{notify.KindTargetOverdue, notify.KindTargetRecovered} {
			require.False(t, notify.Accepts(h, kind))
			require.NoError(t, h.Send(context.Background(), notify.NewTargetEvent(kind, overdueStatus(), lifeboat.Run{}, "", finished)))
		}
		require.Empty(t, srv.requests(), style)
	}
}

// The healthchecks body keeps the newest lines within 10 KB and never
// carries credentials, even ones a tool printed.
func TestHealthchecksBodyBoundedAndScrubbed(t *testing.T) {
	t.Parallel()
	var lines []string
	for i := 0; i < 40; i++ {
		lines = append(lines, fmt.Sprintf("line %02d %s", i, strings.Repeat("x", 900)))
	}
	lines = append(lines,
		"connecting to postgres://backup:Hunter2Secret@db.internal:5432/app",
		"dsn host=db password=Hunter2Secret user=backup",
		"last line")
	srv := newEndpoint(t, http.StatusOK, "OK")
	h, err := notify.NewStyledHeartbeat("hb", srv.URL, notify.HeartbeatOptions{Style: notify.StyleHealthchecks, Logs: tailOf(lines...)}, loopbackClient(t))
	require.NoError(t, err)
	run := failedRun()
	run.Stages[2].Error = "connect postgres://backup:Hunter2Secret@db.internal/app failed"
	require.NoError(t, h.Send(context.Background(), event(run)))

	body := string(srv.requests()[0].Body)
	require.LessOrEqual(t, len(body), 10<<10)
	require.NotContains(t, body, "Hunter2Secret")
	require.Contains(t, body, "postgres://backup:…@db.internal:5432/app")
	require.Contains(t, body, "password=…")
	require.True(t, strings.HasSuffix(body, "info: last line"), "the newest line is kept")
	require.NotContains(t, body, "line 20 ", "at most the last 20 lines are asked for")
	require.True(t, strings.HasPrefix(body, "❌ app: run 42 failed"))
}

func TestRunUUID(t *testing.T) {
	t.Parallel()
	id := notify.RunUUID("app", 42)
	require.Regexp(t, `^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`, id)
	require.Equal(t, id, notify.RunUUID("app", 42), "the start and the end of a run agree")
	require.NotEqual(t, id, notify.RunUUID("app", 43))
	require.NotEqual(t, id, notify.RunUUID("billing", 42))
}
