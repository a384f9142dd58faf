package notify_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

func TestWebhookSignedEventVerifies(t *testing.T) {
	t.Parallel()
	hook := newEndpoint(t, http.StatusNoContent, "")
	secret := []byte("s3cret-key")
	w, err := notify.NewWebhook("ci", hook.URL+"/hook", [][]byte{secret}, loopbackClient(t))
	require.NoError(t, err)
	require.Equal(t, "ci", w.Name())

	before := time.Now()
	require.NoError(t, w.Send(context.Background(), event(failedRun())))

	reqs := hook.requests()
	require.Len(t, reqs, 1)
	r := reqs[0]
	require.Equal(t, http.MethodPost, r.Method)
	require.Equal(t, "application/json", r.Header.Get("Content-Type"))
	require.Equal(t, "msg_42_run.failed", r.Header.Get("webhook-id"))
	ts, err := strconv.ParseInt(r.Header.Get("webhook-timestamp"), 10, 64)
	require.NoError(t, err)
	require.InDelta(t, before.Unix(), ts, 2)
	require.True(t, strings.HasPrefix(r.Header.Get("webhook-signature"), "v1,"))

	require.NoError(t, notify.Verify([][]byte{secret}, r.Header, r.Body, time.Now(), time.Minute))

	var payload struct {
		Type      string `json:"type"`
		Timestamp string `json:"timestamp"`
		Data      struct {
			ID              int64                  `json:"id"`
			Target          string                 `json:"target"`
			Status          string                 `json:"status"`
			URL             string                 `json:"url"`
			DurationSeconds float64                `json:"duration_seconds"`
			Checks          []lifeboat.CheckResult `json:"checks"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(r.Body, &payload))
	require.Equal(t, "run.failed", payload.Type)
	require.Equal(t, finished.Format(time.RFC3339), payload.Timestamp)
	require.Equal(t, int64(42), payload.Data.ID)
	require.Equal(t, "app", payload.Data.Target)
	require.Equal(t, "failed", payload.Data.Status)
	require.Equal(t, runURL, payload.Data.URL)
	require.Equal(t, 182.0, payload.Data.DurationSeconds)
	require.Len(t, payload.Data.Checks, 2)
}

func TestWebhookVerifyRejects(t *testing.T) {
	t.Parallel()
	hook := newEndpoint(t, http.StatusOK, "")
	secret := []byte("s3cret-key")
	w, err := notify.NewWebhook("ci", hook.URL, [][]byte{secret}, loopbackClient(t))
	require.NoError(t, err)
	require.NoError(t, w.Send(context.Background(), event(succeededRun())))
	r := hook.requests()[0]
	now := time.Now()

	err = notify.Verify([][]byte{[]byte("wrong")}, r.Header, r.Body, now, time.Minute)
	require.ErrorIs(t, err, notify.ErrUnverified)
	require.ErrorContains(t, err, "no matching signature")

	err = notify.Verify([][]byte{secret}, r.Header, r.Body, now.Add(10*time.Minute), 5*time.Minute)
	require.ErrorIs(t, err, notify.ErrUnverified)
	require.ErrorContains(t, err, "timestamp")

	err = notify.Verify([][]byte{secret}, r.Header, append(r.Body, ' '), now, time.Minute)
	require.ErrorIs(t, err, notify.ErrUnverified, "a changed body fails")

	stripped := r.Header.Clone()
	stripped.Del("webhook-signature")
	require.ErrorIs(t, notify.Verify([][]byte{secret}, stripped, r.Body, now, time.Minute), notify.ErrUnverified)
}

// While a secret is rotated the sender signs with both; a receiver knowing
// either one accepts the event.
func TestWebhookRotationSignsWithEverySecret(t *testing.T) {
	t.Parallel()
	hook := newEndpoint(t, http.StatusOK, "")
	oldKey, newKey := []byte("old-key"), []byte("new-key")
	w, err := notify.NewWebhook("ci", hook.URL, [][]byte{oldKey, newKey}, loopbackClient(t))
	require.NoError(t, err)
	require.NoError(t, w.Send(context.Background(), event(succeededRun())))
	r := hook.requests()[0]

	require.Len(t, strings.Fields(r.Header.Get("webhook-signature")), 2)
	require.NoError(t, notify.Verify([][]byte{oldKey}, r.Header, r.Body, time.Now(), time.Minute))
	require.NoError(t, notify.Verify([][]byte{newKey}, r.Header, r.Body, time.Now(), time.Minute))
	require.Error(t, notify.Verify([][]byte{[]byte("other")}, r.Header, r.Body, time.Now(), time.Minute))
}

// The Standard Webhooks specification's published test vector: matching it
// lets receivers verify our events with any of its libraries.
func TestSignStandardWebhooksVector(t *testing.T) {
	t.Parallel()
	key, err := notify.ParseSecret("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
	require.NoError(t, err)
	body := []byte(`{"test": 2432232314}`)
	ts := time.Unix(1614265330, 0)

	sig := notify.Sign(key, "msg_p5jXN8AQM9LWM0D4loKWxJek", ts, body)
	require.Equal(t, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", sig)

	h := http.Header{}
	h.Set("webhook-id", "msg_p5jXN8AQM9LWM0D4loKWxJek")
	h.Set("webhook-timestamp", "1614265330")
	h.Set("webhook-signature", "v1,bogus v1a,xyz "+sig)
	require.NoError(t, notify.Verify([][]byte{key}, h, body, ts.Add(time.Minute), 0))
}

func TestParseSecret(t *testing.T) {
	t.Parallel()
	b, err := notify.ParseSecret("plain")
	require.NoError(t, err)
	require.Equal(t, []byte("plain"), b)
	_, err = notify.ParseSecret("whsec_!!!")
	require.Error(t, err)
	_, err = notify.ParseSecret("")
	require.Error(t, err)
}

func TestWebhookTargetEvents(t *testing.T) {
	t.Parallel()
	hook := newEndpoint(t, http.StatusNoContent, "")
	secret := []byte("s3cret-key")
	w, err := notify.NewWebhook("ci", hook.URL+"/hook", [][]byte{secret}, loopbackClient(t))
	require.NoError(t, err)
	ctx := context.Background()

	never := overdueStatus()
	never.LastVerifiedAt, never.LastVerifiedRunID = nil, 0
	require.NoError(t, w.Send(ctx, notify.NewTargetEvent(notify.KindTargetOverdue, never, lifeboat.Run{}, "", overdueAt)))
	back := time.Date(2025, 3, 6, 4, 0, 0, 0, time.UTC)
	rec := overdueStatus()
	rec.LastVerifiedAt, rec.LastVerifiedRunID = &back, 57
	require.NoError(t, w.Send(ctx, notify.NewTargetEvent(notify.KindTargetRecovered, rec,
		lifeboat.Run{ID: 57, Target: "app"}, "https://lifeboat.example.com/runs/57", back)))
	require.NoError(t, w.Send(ctx, notify.NewStartedEvent(succeededRun(), runURL, created)))

	reqs := hook.requests()
	require.Len(t, reqs, 3, "run.started is a webhook event too")
	require.Equal(t, "msg_42_run.started", reqs[2].Header.Get("webhook-id"))
	require.Contains(t, string(reqs[2].Body), `"type":"run.started"`)
	for _, r := range reqs {
		require.NoError(t, notify.Verify([][]byte{secret}, r.Header, r.Body, time.Now(), time.Minute))
	}
	require.Equal(t, fmt.Sprintf("msg_target.overdue_app_%d", overdueAt.Unix()), reqs[0].Header.Get("webhook-id"))
	require.Equal(t, fmt.Sprintf("msg_target.recovered_app_%d", overdueAt.Unix()), reqs[1].Header.Get("webhook-id"))
	require.JSONEq(t, `{"type": "target.overdue", "timestamp": "2025-03-05T15:06:00Z", "data": {
		"target": "app", "last_verified_at": null, "last_verified_run_id": null,
		"watched_since": "2025-02-02T03:00:00Z", "window_seconds": 129600, "overdue_since": "2025-03-05T15:06:00Z"}}`, string(reqs[0].Body))
	require.JSONEq(t, `{"type": "target.recovered", "timestamp": "2025-03-06T04:00:00Z", "data": {
		"target": "app", "last_verified_at": "2025-03-06T04:00:00Z", "last_verified_run_id": 57,
		"watched_since": "2025-02-02T03:00:00Z", "window_seconds": 129600, "overdue_since": "2025-03-05T15:06:00Z",
		"url": "https://lifeboat.example.com/runs/57"}}`, string(reqs[1].Body))
}
