package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

const hookSecret = "whsec-test-9f3b2c7d1e"

// hookReceiver is a webhook endpoint that checks every request's signature
// with notify.Verify, records it, and answers with respond(n) for its n-th
// request (1-based).
type hookReceiver struct {
	*httptest.Server
	mu      sync.Mutex
	got     []hookRequest
	respond func(n int, r *http.Request) int
}

type hookRequest struct {
	ID        string
	Body      []byte
	VerifyErr error
}

func newHookReceiver(t *testing.T, respond func(n int, r *http.Request) int) *hookReceiver {
	h := &hookReceiver{respond: respond}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		verr := notify.Verify([][]byte{[]byte(hookSecret)}, r.Header, body, time.Now(), time.Minute)
		h.mu.Lock()
		h.got = append(h.got, hookRequest{ID: r.Header.Get("webhook-id"), Body: body, VerifyErr: verr})
		n := len(h.got)
		h.mu.Unlock()
		code := http.StatusNoContent
		if h.respond != nil {
			code = h.respond(n, r)
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.got...)
}

// types returns the event types of the requests received, in order.
func (h *hookReceiver) types(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, r := range h.requests() {
		var ev struct {
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal(r.Body, &ev))
		out = append(out, ev.Type)
	}
	return out
}

// hookSetup is setup with a webhook notifier "hook" (posting to a receiver
// answering with respond) as the target's only notifier (chat and
// heartbeats are deliveries too, each a row of its own: notify_once_test.go),
// and a runner for it that works jobs once started.
func hookSetup(t *testing.T, o options, respond func(n int, r *http.Request) int) (*bundle, *jobs.Runner, *hookReceiver) {
	t.Helper()
	o.noStart = true
	b := setup(t, o)
	rec := newHookReceiver(t, respond)
	cfg := *b.cfg
	cfg.Targets = append([]config.Target(nil), b.cfg.Targets...)
	cfg.Targets[0].Notify = []string{"hook"}
	deps := b.deps
	deps.Config = &cfg
	deps.Senders = maps.Clone(b.deps.Senders)
	hook, err := notify.NewWebhook("hook", rec.URL+"/hook", [][]byte{[]byte(hookSecret)}, loopback())
	require.NoError(t, err)
	deps.Senders["hook"] = hook
	r, err := jobs.New(deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	return b, r, rec
}

func startRunner(t *testing.T, r *jobs.Runner) {
	t.Helper()
	require.NoError(t, r.Start(context.Background()))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.Stop(sctx)
	})
}

// canceledRun is a run canceled while queued: its report (and with it the
// run.canceled delivery) is all that runs once r starts, with no dump.
func canceledRun(t *testing.T, r *jobs.Runner) lifeboat.Run {
	t.Helper()
	ctx := context.Background()
	run, err := r.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	_, err = r.CancelRun(ctx, run.ID)
	require.NoError(t, err)
	startRunner(t, r)
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	run, err = r.WaitRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunCanceled, run.Status)
	return run
}

// waitDeliveries polls the run's deliveries until done says they are
// settled, failing after a minute.
func waitDeliveries(t *testing.T, b *bundle, runID int64, done func([]lifeboat.Delivery) bool) []lifeboat.Delivery {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		ds, err := b.store.DeliveryList(ctx, runID)
		require.NoError(t, err)
		if done(ds) {
			return ds
		}
		select {
		case <-ctx.Done():
			t.Fatalf("deliveries of run %d did not settle: %+v", runID, ds)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// settled says every one of n deliveries is delivered or failed.
func settled(n int) func([]lifeboat.Delivery) bool {
	return func(ds []lifeboat.Delivery) bool {
		if len(ds) != n {
			return false
		}
		for _, d := range ds {
			if d.Status == lifeboat.DeliveryPending {
				return false
			}
		}
		return true
	}
}

// A real run: run.started and run.succeeded each reach the receiver once,
// signed so that notify.Verify accepts them, with the body stored and the
// webhook-id derived from the delivery.
func TestWebhookDeliveriesOfRun(t *testing.T) {
	t.Parallel()
	b, r, rec := hookSetup(t, options{}, nil)
	startRunner(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := r.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	run, err = r.WaitRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)

	ds := waitDeliveries(t, b, run.ID, settled(2))
	require.Equal(t, []string{"run.started", "run.succeeded"}, []string{ds[0].Event, ds[1].Event})
	got := rec.requests()
	require.Len(t, got, 2, "one request per event")
	for i, d := range ds {
		require.Equal(t, lifeboat.DeliveryDelivered, d.Status)
		require.Equal(t, "hook", d.Notifier)
		require.Equal(t, run.ID, d.RunID)
		require.Equal(t, 1, d.Attempts)
		require.NotNil(t, d.LastStatusCode)
		require.Equal(t, http.StatusNoContent, *d.LastStatusCode)
		require.Empty(t, d.LastError)
		require.NotNil(t, d.DeliveredAt)
		require.Nil(t, d.NextAttemptAt)
		require.Equal(t, fmt.Sprintf("msg_%d_%s", run.ID, d.Event), d.MessageID)

		require.NoError(t, got[i].VerifyErr, "the receiver verifies the signature")
		require.Equal(t, d.MessageID, got[i].ID)
		require.Equal(t, string(d.Payload), string(got[i].Body), "the stored payload is the exact body sent")
		require.NotContains(t, string(d.Payload), hookSecret)

		one, err := b.store.DeliveryGet(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, d, one)
	}
	var started, ended struct {
		Type string `json:"type"`
		Data struct {
			ID     int64  `json:"id"`
			Status string `json:"status"`
			URL    string `json:"url"`
		} `json:"data"`
	}
	require.NoError(t, json.Unmarshal(ds[0].Payload, &started))
	require.NoError(t, json.Unmarshal(ds[1].Payload, &ended))
	require.Equal(t, "run.started", started.Type)
	require.Equal(t, "running", started.Data.Status)
	require.Equal(t, "succeeded", ended.Data.Status, "the terminal event carries the finished run")
	require.Equal(t, run.ID, ended.Data.ID)
	require.Equal(t, fmt.Sprintf("http://lifeboat.test/runs/%d", run.ID), ended.Data.URL)

	// The report queued the event; its delivery noted the outcome there.
	report, _ := run.StageByName(lifeboat.StageReport)
	require.JSONEq(t, `{"event":"run.succeeded","scratch_dropped":true,"delivered":["hook"],"failed":[],"not_sent":[],"queued":["hook"]}`,
		string(report.Metrics))

	_, err = b.store.DeliveryList(ctx, run.ID+1_000_000)
	require.ErrorIs(t, err, lifeboat.ErrNotFound)
}

// A receiver failing twice with 500 then answering gets the event on the
// third attempt, the same body and webhook-id each time.
func TestWebhookDeliveryRetriesThenDelivers(t *testing.T) {
	t.Parallel()
	b, r, rec := hookSetup(t, options{}, func(n int, _ *http.Request) int {
		if n <= 2 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	run := canceledRun(t, r)
	ds := waitDeliveries(t, b, run.ID, settled(1))
	d := ds[0]
	require.Equal(t, "run.canceled", d.Event)
	require.Equal(t, lifeboat.DeliveryDelivered, d.Status)
	require.Equal(t, 3, d.Attempts)
	require.Equal(t, http.StatusOK, *d.LastStatusCode)
	require.Empty(t, d.LastError, "the error of a failed attempt is cleared by success")
	got := rec.requests()
	require.Len(t, got, 3)
	for _, g := range got {
		require.NoError(t, g.VerifyErr)
		require.Equal(t, d.MessageID, g.ID)
		require.Equal(t, string(d.Payload), string(g.Body))
	}
}

// A receiver that never succeeds: the delivery is given up after the last
// attempt with the last answer recorded; the run's outcome is untouched.
func TestWebhookDeliveryGivesUp(t *testing.T) {
	t.Parallel()
	b, r, rec := hookSetup(t, options{}, func(int, *http.Request) int { return http.StatusBadGateway })
	startRunner(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := r.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	run, err = r.WaitRun(ctx, run.ID)
	require.NoError(t, err)

	ds := waitDeliveries(t, b, run.ID, settled(2))
	for _, d := range ds {
		require.Equal(t, lifeboat.DeliveryFailed, d.Status, d.Event)
		require.Equal(t, jobs.DeliveryMaxAttempts, d.Attempts)
		require.Equal(t, http.StatusBadGateway, *d.LastStatusCode)
		require.Contains(t, d.LastError, "status 502")
		require.NotContains(t, d.LastError, rec.URL+"/hook", "the URL is redacted to its host")
		require.Nil(t, d.DeliveredAt)
		require.Nil(t, d.NextAttemptAt)
	}
	require.Len(t, rec.requests(), 2*jobs.DeliveryMaxAttempts)
	run, err = b.store.RunGet(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "a webhook never changes the run's outcome")
	require.Empty(t, run.Error)
	waitCount(t, b.stateURL, 2, "SELECT count(*) FROM river_job WHERE kind = 'lifeboat.webhook_delivery' AND state = 'discarded'")
	stats, err := b.store.Stats(ctx, []string{"app"})
	require.NoError(t, err)
	require.Equal(t, int64(2), stats.NotifierFailures["hook"], "given-up deliveries count as notifier failures")
}

// waitCount polls query on db until it counts want, failing after a minute:
// River records a job's end after the worker's transaction.
func waitCount(t *testing.T, db string, want int64, query string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for {
		n := testenv.QueryInt(t, db, query)
		if n == want {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %d, want %d", query, n, want)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// A 4xx other than 408/425/429 is given up at once; a 429 is retried.
func TestWebhookDeliveryClientErrors(t *testing.T) {
	t.Parallel()
	t.Run("400 gives up", func(t *testing.T) {
		t.Parallel()
		b, r, rec := hookSetup(t, options{}, func(int, *http.Request) int { return http.StatusBadRequest })
		run := canceledRun(t, r)
		d := waitDeliveries(t, b, run.ID, settled(1))[0]
		require.Equal(t, lifeboat.DeliveryFailed, d.Status)
		require.Equal(t, 1, d.Attempts)
		require.Equal(t, http.StatusBadRequest, *d.LastStatusCode)
		require.Contains(t, d.LastError, "status 400")
		require.Len(t, rec.requests(), 1)
		waitCount(t, b.stateURL, 1, "SELECT count(*) FROM river_job WHERE kind = 'lifeboat.webhook_delivery' AND state = 'cancelled'")
	})
	t.Run("429 retried", func(t *testing.T) {
		t.Parallel()
		b, r, _ := hookSetup(t, options{}, func(n int, _ *http.Request) int {
			if n == 1 {
				return http.StatusTooManyRequests
			}
			return http.StatusAccepted
		})
		run := canceledRun(t, r)
		d := waitDeliveries(t, b, run.ID, settled(1))[0]
		require.Equal(t, lifeboat.DeliveryDelivered, d.Status)
		require.Equal(t, 2, d.Attempts)
		require.Equal(t, http.StatusAccepted, *d.LastStatusCode)
	})
}

// A delivery's job run twice sends once. Concurrently: the second run
// waits on the row's lock while the first is sending, then finds it
// delivered. Afterwards: River runs the completed job again (as a rescue
// would) and it completes without sending.
func TestWebhookDeliveryJobRunTwiceSendsOnce(t *testing.T) {
	t.Parallel()
	t.Run("concurrently", func(t *testing.T) {
		t.Parallel()
		arrived, release := make(chan struct{}), make(chan struct{})
		var once sync.Once
		b, r, rec := hookSetup(t, options{}, func(int, *http.Request) int {
			once.Do(func() { close(arrived) })
			<-release
			return http.StatusOK
		})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		run, err := r.StartRun(ctx, "app", lifeboat.TriggerAPI) // not worked: r is not started
		require.NoError(t, err)
		require.NoError(t, r.QueueRunEnd(ctx, run.ID))
		require.NoError(t, r.QueueRunEnd(ctx, run.ID), "queued again, as by a retried report")
		ds, err := b.store.DeliveryList(ctx, run.ID)
		require.NoError(t, err)
		require.Len(t, ds, 1, "one delivery per (run, event, notifier)")
		require.EqualValues(t, 1, testenv.QueryInt(t, b.stateURL,
			"SELECT count(*) FROM river_job WHERE kind = 'lifeboat.webhook_delivery'"), "and one job")

		errs := make(chan error, 2)
		go func() { errs <- r.DeliverAsOwner(ctx, ds[0].ID) }()
		select {
		case <-arrived:
		case <-ctx.Done():
			t.Fatal("the first run never sent")
		}
		go func() { errs <- r.DeliverAsOwner(ctx, ds[0].ID) }()
		// The second run is blocked on the row's lock before the first answers.
		for testenv.QueryInt(t, b.stateURL, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock' AND query LIKE '%webhook_deliveries%FOR UPDATE%'`) == 0 {
			select {
			case <-ctx.Done():
				t.Fatal("the second run never waited for the lock")
			case <-time.After(20 * time.Millisecond):
			}
		}
		close(release)
		require.NoError(t, <-errs)
		require.NoError(t, <-errs)
		require.Len(t, rec.requests(), 1, "exactly one POST")
		d, err := b.store.DeliveryGet(ctx, ds[0].ID)
		require.NoError(t, err)
		require.Equal(t, lifeboat.DeliveryDelivered, d.Status)
		require.Equal(t, 1, d.Attempts)
	})
	t.Run("rescued after success", func(t *testing.T) {
		t.Parallel()
		b, r, rec := hookSetup(t, options{}, nil)
		run := canceledRun(t, r)
		d := waitDeliveries(t, b, run.ID, settled(1))[0]
		require.Equal(t, lifeboat.DeliveryDelivered, d.Status)
		const job = "SELECT %s FROM river_job WHERE kind = 'lifeboat.webhook_delivery'"
		require.EqualValues(t, 1, testenv.QueryInt(t, b.stateURL, fmt.Sprintf(job, "count(*)")))
		// What the rescuer does to a job it believes stuck: make it
		// available again, keeping its attempt count.
		testenv.Exec(t, b.stateURL, `UPDATE river_job SET state = 'available', scheduled_at = now(), finalized_at = NULL
			WHERE kind = 'lifeboat.webhook_delivery'`)
		waitCount(t, b.stateURL, 1, fmt.Sprintf(job, "count(*)")+" AND state = 'completed' AND attempt = 2")
		// Stopping waits for the job's second run to return.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		require.NoError(t, r.Stop(ctx))
		require.Len(t, rec.requests(), 1, "the second run sent nothing")
		again, err := b.store.DeliveryGet(ctx, d.ID)
		require.NoError(t, err)
		require.Equal(t, d, again, "and changed nothing")
	})
}

// WaitDeliveries returns once each delivery of the run has been tried.
func TestWaitDeliveries(t *testing.T) {
	t.Parallel()
	b, r, rec := hookSetup(t, options{}, func(int, *http.Request) int { return http.StatusServiceUnavailable })
	run := canceledRun(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, r.WaitDeliveries(ctx, run.ID))
	require.NotEmpty(t, rec.requests(), "tried before WaitDeliveries returned")
	ds, err := b.store.DeliveryList(ctx, run.ID)
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Positive(t, ds[0].Attempts)
}

// Redelivering a delivered event sends it again with the same webhook-id
// and body; the attempt count keeps its history.
func TestWebhookRedeliver(t *testing.T) {
	t.Parallel()
	b, r, rec := hookSetup(t, options{}, nil)
	run := canceledRun(t, r)
	d := waitDeliveries(t, b, run.ID, settled(1))[0]
	require.Equal(t, lifeboat.DeliveryDelivered, d.Status)

	ctx := context.Background()
	queued, err := r.Redeliver(ctx, d.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.DeliveryPending, queued.Status)
	require.Equal(t, 1, queued.Attempts)
	require.Equal(t, d.DeliveredAt, queued.DeliveredAt, "when it was last delivered stays known")

	again := waitDeliveries(t, b, run.ID, func(ds []lifeboat.Delivery) bool {
		return ds[0].Status == lifeboat.DeliveryDelivered && ds[0].Attempts == 2
	})[0]
	require.Equal(t, d.MessageID, again.MessageID)
	require.True(t, again.DeliveredAt.After(*d.DeliveredAt))
	got := rec.requests()
	require.Len(t, got, 2)
	require.Equal(t, got[0].ID, got[1].ID, "the same webhook-id, so the receiver can drop it")
	require.Equal(t, got[0].Body, got[1].Body)
	require.NoError(t, got[1].VerifyErr)

	_, err = r.Redeliver(ctx, d.ID+1_000_000)
	require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err), "err: %v", err)
}

// The backup stage retried to its last attempt queues run.started once.
func TestWebhookRunStartedOnceAcrossBackupRetries(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	b, r, rec := hookSetup(t, options{sourceURL: "postgres://postgres:pw@" + addr + "/app?sslmode=disable&connect_timeout=2"}, nil)
	startRunner(t, r)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := r.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	run, err = r.WaitRun(ctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	backup, _ := run.StageByName(lifeboat.StageBackup)
	require.Equal(t, jobs.MaxAttempts, backup.Attempt)

	ds := waitDeliveries(t, b, run.ID, settled(2))
	require.Equal(t, []string{"run.started", "run.failed"}, []string{ds[0].Event, ds[1].Event})
	require.Equal(t, []string{"run.started", "run.failed"}, rec.types(t))
	require.NotContains(t, string(ds[1].Payload), ":pw@", "no source credentials in the payload")
}
