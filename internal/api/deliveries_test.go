package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// The secret and the token-like path of the test's webhook: no response
// may carry either.
const (
	deliverySecret = "whsec-api-test-4c1d9e"
	deliveryPath   = "/hooks/Tok3nInThePath8812"
)

// webhookRequest is one request the receiver got, with its signature check.
type webhookRequest struct {
	id        string
	body      []byte
	verifyErr error
}

type deliveryBundle struct {
	*testBundle
	received func() []webhookRequest
	// other serves the same state with the webhook notifier removed from
	// the config (call it once, in a subtest: its token is named after it).
	other func(t *testing.T) *testBundle
}

// deliverySetup is a lifeboat whose target "app" notifies the webhook
// "hook" (an httptest receiver answering 204, loopback allowed), served
// with a real token; its runner is not started.
func deliverySetup(t *testing.T) *deliveryBundle {
	t.Helper()
	var mu sync.Mutex
	var got []webhookRequest
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verr := notify.Verify([][]byte{[]byte(deliverySecret)}, r.Header, body, time.Now(), time.Minute)
		mu.Lock()
		got = append(got, webhookRequest{id: r.Header.Get("webhook-id"), body: body, verifyErr: verr})
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rec.Close)

	stateURL := testenv.CreateDB(t, "lbstate_")
	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	doc := `database_url: ${STATE_URL}
restore:
  sandbox_dir: ${SANDBOX_DIR}
encryption:
  age_identity_file: ./age.key
storages:
  - {name: main, kind: fs, path: ./backups}
outbound:
  allow: [127.0.0.0/8]
notifiers:
  - {name: hook, kind: webhook, url: "${HOOK_URL}", secret: "${HOOK_SECRET}"}
targets:
  - name: app
    database_url: postgres://127.0.0.1:1/app
    storage: main
    notify: [hook]
`
	env := map[string]string{"STATE_URL": stateURL, "SANDBOX_DIR": testenv.SandboxDir(t),
		"HOOK_URL": rec.URL + deliveryPath, "HOOK_SECRET": deliverySecret, "PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	w := lbtest.Wire(t, stateURL, doc, dir, env, &testenv.SyncBuffer{})
	runner, err := jobs.New(w.Deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	s := &api.Server{Runs: runner, Reader: w.Store, Deliveries: runner, Spec: lifeboat.OpenAPI, Logger: w.Log}
	srv, _ := serveAPI(t, s, w.Store)

	// The same state, but the notifier is gone from the config.
	deps := w.Deps
	deps.Senders = maps.Clone(w.Deps.Senders)
	delete(deps.Senders, "hook")
	insertOnly, err := jobs.New(deps, jobs.Options{})
	require.NoError(t, err)

	return &deliveryBundle{
		testBundle: &testBundle{runner: runner, srv: srv},
		other: func(t *testing.T) *testBundle {
			srv, _ := serveAPI(t, &api.Server{Reader: w.Store, Deliveries: insertOnly, Logger: w.Log}, w.Store)
			return &testBundle{srv: srv}
		},
		received: func() []webhookRequest {
			mu.Lock()
			defer mu.Unlock()
			return append([]webhookRequest(nil), got...)
		},
	}
}

type deliveryList struct {
	Deliveries []lifeboat.Delivery `json:"deliveries"`
}

// waitDeliveries GETs the run's deliveries until done says so, failing
// after a minute. It returns the last list.
func (b *deliveryBundle) waitDeliveries(t *testing.T, runID int64, done func([]lifeboat.Delivery) bool) []lifeboat.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		var list deliveryList
		b.getJSON(t, fmt.Sprintf("/api/v1/runs/%d/deliveries", runID), http.StatusOK, &list)
		if done(list.Deliveries) {
			return list.Deliveries
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deliveries of run %d: %+v", runID, list.Deliveries)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A run's webhook delivery is listed under the run and redelivered on
// request with the same webhook-id; errors are problem+json naming what is
// wrong, and no response carries the webhook's secret or URL path.
func TestDeliveriesOverHTTP(t *testing.T) {
	t.Parallel()
	b := deliverySetup(t)
	ctx := context.Background()
	var bodies []string
	get := func(path string, want int) []byte {
		resp, body := b.do(t, http.MethodGet, path)
		require.Equal(t, want, resp.StatusCode, "GET %s: %s", path, body)
		bodies = append(bodies, string(body))
		return body
	}

	// A run canceled while queued: its report queues run.canceled.
	run, err := b.runner.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	path := fmt.Sprintf("/api/v1/runs/%d/deliveries", run.ID)
	require.JSONEq(t, `{"deliveries": []}`, string(get(path, http.StatusOK)), "none before the run has an event")
	_, err = b.runner.CancelRun(ctx, run.ID)
	require.NoError(t, err)
	b.start(t)

	ds := b.waitDeliveries(t, run.ID, func(ds []lifeboat.Delivery) bool {
		return len(ds) == 1 && ds[0].Status == lifeboat.DeliveryDelivered
	})
	d := ds[0]
	require.Equal(t, run.ID, d.RunID)
	require.Equal(t, "hook", d.Notifier)
	require.Equal(t, "run.canceled", d.Event)
	require.Equal(t, fmt.Sprintf("msg_%d_run.canceled", run.ID), d.MessageID)
	require.Equal(t, 1, d.Attempts)
	require.Equal(t, http.StatusNoContent, *d.LastStatusCode)
	require.NotNil(t, d.DeliveredAt)
	// The payload is JSON in the response, not a string holding JSON.
	var list struct {
		Deliveries []struct {
			Payload struct {
				Type string `json:"type"`
				Data struct {
					ID     int64  `json:"id"`
					Status string `json:"status"`
				} `json:"data"`
			} `json:"payload"`
		} `json:"deliveries"`
	}
	require.NoError(t, json.Unmarshal(get(path, http.StatusOK), &list))
	require.Equal(t, "run.canceled", list.Deliveries[0].Payload.Type)
	require.Equal(t, run.ID, list.Deliveries[0].Payload.Data.ID)
	require.Equal(t, "canceled", list.Deliveries[0].Payload.Data.Status)

	// Redeliver: 202 with the delivery, pending again, its history kept.
	resp, body := b.do(t, http.MethodPost, fmt.Sprintf("/api/v1/deliveries/%d/redeliver", d.ID))
	bodies = append(bodies, string(body))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "%s", body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var queued lifeboat.Delivery
	require.NoError(t, json.Unmarshal(body, &queued))
	require.Equal(t, d.ID, queued.ID)
	require.Equal(t, lifeboat.DeliveryPending, queued.Status)
	require.Equal(t, 1, queued.Attempts)
	require.Equal(t, d.MessageID, queued.MessageID)

	b.waitDeliveries(t, run.ID, func(ds []lifeboat.Delivery) bool {
		return ds[0].Status == lifeboat.DeliveryDelivered && ds[0].Attempts == 2
	})
	got := b.received()
	require.Len(t, got, 2, "sent once, then once again on request")
	for _, g := range got {
		require.NoError(t, g.verifyErr, "the receiver verifies the signature")
		require.Equal(t, d.MessageID, g.id, "the same webhook-id both times")
	}
	require.Equal(t, got[0].body, got[1].body)

	// Errors.
	for _, c := range []struct {
		method, path string
		status       int
		detail       string
	}{
		{http.MethodGet, "/api/v1/runs/987654321/deliveries", http.StatusNotFound, "run 987654321 not found"},
		{http.MethodGet, "/api/v1/runs/0/deliveries", http.StatusBadRequest, "id:"},
		{http.MethodGet, "/api/v1/runs/abc/deliveries", http.StatusBadRequest, "id:"},
		{http.MethodGet, path + "?limit=5", http.StatusBadRequest, "limit: unknown query parameter"},
		{http.MethodPost, "/api/v1/deliveries/987654321/redeliver", http.StatusNotFound, "delivery 987654321 not found"},
		{http.MethodPost, "/api/v1/deliveries/0/redeliver", http.StatusBadRequest, "id:"},
		{http.MethodPost, "/api/v1/deliveries/x/redeliver", http.StatusBadRequest, "id:"},
		{http.MethodGet, fmt.Sprintf("/api/v1/deliveries/%d/redeliver", d.ID), http.StatusMethodNotAllowed, "GET"},
	} {
		p := b.requireProblem(t, c.method, c.path, c.status)
		require.Contains(t, p.Detail, c.detail, "%s %s", c.method, c.path)
	}
	t.Run("notifier gone from the config", func(t *testing.T) {
		p := b.other(t).requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/deliveries/%d/redeliver", d.ID), http.StatusConflict)
		require.Contains(t, p.Detail, `notifier "hook" is no longer configured`)
	})

	for _, body := range bodies {
		require.NotContains(t, body, deliverySecret)
		require.NotContains(t, body, deliveryPath)
	}
}
