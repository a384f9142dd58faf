package notify_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

func slackText(t *testing.T, r recorded) string {
	t.Helper()
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	var msg struct {
		Text string `json:"text"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &msg))
	return msg.Text
}

func TestSlackFailedRun(t *testing.T) {
	t.Parallel()
	chat := newEndpoint(t, http.StatusOK, "ok")
	s, err := notify.NewSlack("ops-chat", chat.URL+"/services/T0/B0/token", loopbackClient(t))
	require.NoError(t, err)
	require.Equal(t, "ops-chat", s.Name())

	require.NoError(t, s.Send(context.Background(), event(failedRun())))

	reqs := chat.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, "/services/T0/B0/token", reqs[0].Path)
	text := slackText(t, reqs[0])
	require.Contains(t, text, "❌")
	require.Contains(t, text, "app")
	require.Contains(t, text, "failed")
	require.Contains(t, text, "3m2s")
	require.Contains(t, text, "1.5 GiB stored")
	require.Contains(t, text, "Failed stage: verify — 1 of 2 checks failed")
	// & < > are escaped as Slack's format requires; it renders "expected >= 1".
	require.Contains(t, text, "users exist: expected &gt;= 1, observed 0")
	require.NotContains(t, text, "fresh orders", "passed checks are not listed")
	require.Contains(t, text, runURL)
}

func TestSlackSucceededRun(t *testing.T) {
	t.Parallel()
	chat := newEndpoint(t, http.StatusOK, "ok")
	s, err := notify.NewSlack("ops-chat", chat.URL, loopbackClient(t))
	require.NoError(t, err)

	require.NoError(t, s.Send(context.Background(), event(succeededRun())))

	reqs := chat.requests()
	require.Len(t, reqs, 1)
	text := slackText(t, reqs[0])
	require.Contains(t, text, "✅ app: run 42 succeeded in 3m2s · 1.5 GiB stored")
	require.NotContains(t, text, "Failed")
	require.Contains(t, text, runURL)
}

func TestSlackCanceledRun(t *testing.T) {
	t.Parallel()
	chat := newEndpoint(t, http.StatusOK, "ok")
	s, err := notify.NewSlack("ops-chat", chat.URL, loopbackClient(t))
	require.NoError(t, err)
	run := succeededRun()
	run.Status = lifeboat.RunCanceled
	run.Artifact = nil

	require.NoError(t, s.Send(context.Background(), event(run)))

	text := slackText(t, chat.requests()[0])
	require.Contains(t, text, "run 42 was canceled after 3m2s")
	require.NotContains(t, text, "stored")
}

// Text from the database or an error must not become a Slack control
// sequence such as an @channel mention.
func TestSlackEscapesControlSequences(t *testing.T) {
	t.Parallel()
	chat := newEndpoint(t, http.StatusOK, "ok")
	s, err := notify.NewSlack("ops-chat", chat.URL, loopbackClient(t))
	require.NoError(t, err)
	run := failedRun()
	run.Checks[0].Observed = "<!channel> & co"

	require.NoError(t, s.Send(context.Background(), event(run)))

	text := slackText(t, chat.requests()[0])
	require.NotContains(t, text, "<!channel>")
	require.Contains(t, text, "observed &lt;!channel&gt; &amp; co")
}

func TestSlackNon2xxIsAnErrorWithStatusAndShortBody(t *testing.T) {
	t.Parallel()
	chat := newEndpoint(t, http.StatusInternalServerError, "no_service "+strings.Repeat("x", 500))
	s, err := notify.NewSlack("ops-chat", chat.URL, loopbackClient(t))
	require.NoError(t, err)

	err = s.Send(context.Background(), event(failedRun()))
	require.Error(t, err)
	require.Contains(t, err.Error(), "ops-chat")
	require.Contains(t, err.Error(), "status 500")
	require.Contains(t, err.Error(), "no_service")
	require.NotContains(t, err.Error(), strings.Repeat("x", 200), "at most 200 bytes of the body")
	require.False(t, lifeboat.IsPermanent(err), "a 5xx may be retried")
}

func TestSlack4xxIsPermanent(t *testing.T) {
	t.Parallel()
	chat := newEndpoint(t, http.StatusNotFound, "no_team")
	s, err := notify.NewSlack("ops-chat", chat.URL, loopbackClient(t))
	require.NoError(t, err)

	err = s.Send(context.Background(), event(failedRun()))
	require.ErrorContains(t, err, "status 404: no_team")
	require.True(t, lifeboat.IsPermanent(err))
	require.Equal(t, 1, strings.Count(err.Error(), "notify ops-chat"), "message not repeated: %v", err)
}

func TestSenderConstructorsRejectBadURLs(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"ftp://example.com/secret-token", "not a url at all secret-token", "https:///secret-token", "%zzsecret-token"} {
		_, err := notify.NewSlack("c", raw, nil)
		require.Error(t, err, raw)
		require.NotContains(t, err.Error(), "secret-token")
		_, err = notify.NewHeartbeat("h", raw, nil)
		require.Error(t, err, raw)
		require.NotContains(t, err.Error(), "secret-token")
		_, err = notify.NewWebhook("w", raw, [][]byte{[]byte("k")}, nil)
		require.Error(t, err, raw)
		require.NotContains(t, err.Error(), "secret-token")
	}
}

var (
	lastVerified = time.Date(2025, 3, 4, 3, 5, 0, 0, time.UTC)
	overdueAt    = time.Date(2025, 3, 5, 15, 6, 0, 0, time.UTC)
)

func overdueStatus() notify.TargetStatus {
	return notify.TargetStatus{Name: "app", LastVerifiedAt: &lastVerified, LastVerifiedRunID: 41,
		WatchedSince: created.Add(-30 * 24 * time.Hour), Window: 36 * time.Hour, OverdueSince: overdueAt}
}

func TestSlackTargetOverdueAndRecovered(t *testing.T) {
	t.Parallel()
	chat := newEndpoint(t, http.StatusOK, "ok")
	s, err := notify.NewSlack("ops-chat", chat.URL, loopbackClient(t))
	require.NoError(t, err)
	ctx := context.Background()

	require.NoError(t, s.Send(ctx, notify.NewTargetEvent(notify.KindTargetOverdue, overdueStatus(), lifeboat.Run{}, "", overdueAt)))

	never := overdueStatus()
	never.LastVerifiedAt, never.LastVerifiedRunID, never.Window = nil, 0, 108*time.Hour
	require.NoError(t, s.Send(ctx, notify.NewTargetEvent(notify.KindTargetOverdue, never, lifeboat.Run{}, "", overdueAt)))

	back := time.Date(2025, 3, 6, 4, 0, 0, 0, time.UTC)
	rec := overdueStatus()
	rec.LastVerifiedAt, rec.LastVerifiedRunID = &back, 57
	require.NoError(t, s.Send(ctx, notify.NewTargetEvent(notify.KindTargetRecovered, rec,
		lifeboat.Run{ID: 57, Target: "app"}, "https://lifeboat.example.com/runs/57", back)))

	reqs := chat.requests()
	require.Len(t, reqs, 3)
	require.Equal(t, "⏰ target app is overdue: no verified backup since 2025-03-04 03:05 UTC (window 36h)", slackText(t, reqs[0]))
	require.Equal(t, "⏰ target app is overdue: no verified backup since it was first seen at 2025-02-02 03:00 UTC (window 4d12h)", slackText(t, reqs[1]))
	require.Equal(t, "✅ target app recovered: run 57 verified at 2025-03-06 04:00 UTC (overdue since 2025-03-05 15:06 UTC)\n"+
		"https://lifeboat.example.com/runs/57", slackText(t, reqs[2]))
}

func TestSlackIgnoresRunStarted(t *testing.T) {
	t.Parallel()
	chat := newEndpoint(t, http.StatusOK, "ok")
	s, err := notify.NewSlack("ops-chat", chat.URL, loopbackClient(t))
	require.NoError(t, err)
	require.False(t, notify.Accepts(s, notify.KindRunStarted))
	require.True(t, notify.Accepts(s, notify.KindTargetOverdue))
	require.NoError(t, s.Send(context.Background(), notify.NewStartedEvent(succeededRun(), runURL, created)))
	require.Empty(t, chat.requests())
}
