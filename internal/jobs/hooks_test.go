package jobs_test

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// signed returns Standard Webhooks headers for body.
func signed(secret, id string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", notify.Sign([]byte(secret), id, ts, body))
	return h
}

func TestTriggerFromHook(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := newClock(now)
	// Two secrets: the old one still works during a rotation.
	b := setup(t, options{clock: clock, noStart: true, extraTarget: "    trigger_secret: \"new-secret old-secret\"\n"})
	ctx := context.Background()
	body := []byte(`{"reason":"migration 42 applied"}`)

	run, err := b.runner.TriggerFromHook(ctx, "app", signed("old-secret", "msg_1", now, body), body)
	require.NoError(t, err)
	require.Equal(t, lifeboat.TriggerWebhook, run.Trigger)
	require.Equal(t, lifeboat.RunQueued, run.Status)

	// The same message again is a replay, even correctly signed.
	_, err = b.runner.TriggerFromHook(ctx, "app", signed("new-secret", "msg_1", now, body), body)
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err))
	require.ErrorContains(t, err, "replay")

	for name, h := range map[string]http.Header{
		"wrong secret":    signed("guess", "msg_2", now, body),
		"too old":         signed("new-secret", "msg_3", now.Add(-6*time.Minute), body),
		"from the future": signed("new-secret", "msg_4", now.Add(6*time.Minute), body),
		"no headers":      {},
	} {
		_, err := b.runner.TriggerFromHook(ctx, "app", h, body)
		require.Equal(t, lifeboat.EUNAUTHORIZED, lifeboat.ErrorCode(err), name)
	}
	// A body changed after signing fails.
	_, err = b.runner.TriggerFromHook(ctx, "app", signed("new-secret", "msg_5", now, body), []byte(`{}`))
	require.Equal(t, lifeboat.EUNAUTHORIZED, lifeboat.ErrorCode(err))
	// An unknown target looks exactly like a bad signature.
	_, err = b.runner.TriggerFromHook(ctx, "nope", signed("new-secret", "msg_6", now, body), body)
	require.Equal(t, lifeboat.EUNAUTHORIZED, lifeboat.ErrorCode(err))
	require.Equal(t, "signature not valid for this target", err.Error())

	// A refused message id (no run started) can be retried by its sender.
	require.EqualValues(t, 1, countRuns(t, b))
}

func TestTriggerFromHookNeedsASecret(t *testing.T) {
	t.Parallel()
	b := setup(t, options{noStart: true})
	now := time.Now()
	_, err := b.runner.TriggerFromHook(context.Background(), "app", signed("", "msg_1", now, nil), nil)
	require.Equal(t, lifeboat.EUNAUTHORIZED, lifeboat.ErrorCode(err), "no trigger_secret: the hook is off")
}

func countRuns(t *testing.T, b *bundle) int64 {
	t.Helper()
	var n int64
	require.NoError(t, b.store.Pool().QueryRow(context.Background(), "SELECT count(*) FROM runs").Scan(&n))
	return n
}
