package jobs_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// watch is a state database watched by two lifeboat processes sharing one
// clock, with the target's chat, heartbeat and a webhook receiver.
type watch struct {
	*bundle
	clock *fakeClock
	hook  *recorder
	procs []*jobs.Runner
}

func loopback() *http.Client {
	return notify.NewClient([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, 5*time.Second)
}

// watchSetup builds the watched target "app" (notify: chat, snitch, hook)
// with schedule and whatever tweak changes; senders may replace any of the
// notifiers by name.
func watchSetup(t *testing.T, start time.Time, schedule string, tweak func(*config.Target), senders map[string]notify.Sender) *watch {
	t.Helper()
	clock := newClock(start)
	b := setup(t, options{schedule: schedule, clock: clock, noStart: true})
	w := &watch{bundle: b, clock: clock, hook: newRecorder(t)}

	cfg := *b.cfg
	cfg.Targets = append([]config.Target(nil), b.cfg.Targets...)
	target := &cfg.Targets[0]
	target.Notify = append(append([]string(nil), target.Notify...), "hook")
	if tweak != nil {
		tweak(target)
	}
	deps := b.deps
	deps.Config = &cfg
	deps.Senders = map[string]notify.Sender{}
	for k, v := range b.deps.Senders {
		deps.Senders[k] = v
	}
	hook, err := notify.NewWebhook("hook", w.hook.URL+"/hook", [][]byte{[]byte("hook-secret")}, loopback())
	require.NoError(t, err)
	deps.Senders["hook"] = hook
	for k, v := range senders {
		deps.Senders[k] = v
	}
	for range 2 {
		r, err := jobs.New(deps, jobs.Options{})
		require.NoError(t, err)
		w.procs = append(w.procs, r)
	}
	return w
}

// tickAll runs every process's watchdog at once, n times, the clock moving
// one minute after each round.
func (w *watch) tickAll(t *testing.T, n int) {
	t.Helper()
	for range n {
		var wg sync.WaitGroup
		for _, p := range w.procs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				require.NoError(t, p.Watchdog(context.Background()))
			}()
		}
		wg.Wait()
		w.clock.Set(w.clock.Now().Add(time.Minute))
	}
}

// at sets the clock.
func (w *watch) at(ts time.Time) { w.clock.Set(ts) }

// landRun records a finished run of "app" as if the pipeline had run it.
func (w *watch) landRun(t *testing.T, status string, finished time.Time) int64 {
	t.Helper()
	var id int64
	err := w.store.Pool().QueryRow(context.Background(), `INSERT INTO runs (target, trigger, status, created_at, started_at, finished_at)
		VALUES ('app', 'schedule', $1, $2, $2, $3) RETURNING id`, status, finished.Add(-10*time.Minute), finished).Scan(&id)
	require.NoError(t, err)
	return id
}

// chatTexts returns the chat messages received.
func (w *watch) chatTexts(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, body := range w.chat.received() {
		var msg struct {
			Text string `json:"text"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &msg))
		out = append(out, msg.Text)
	}
	return out
}

// hookTypes returns the webhook event types received.
func (w *watch) hookTypes(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, body := range w.hook.received() {
		var ev struct {
			Type string `json:"type"`
		}
		require.NoError(t, json.Unmarshal([]byte(body), &ev))
		out = append(out, ev.Type)
	}
	return out
}

func (w *watch) overdueSince(t *testing.T) *time.Time {
	t.Helper()
	var since *time.Time
	require.NoError(t, w.store.Pool().QueryRow(context.Background(),
		"SELECT overdue_since FROM target_state WHERE target = 'app'").Scan(&since))
	return since
}

func (w *watch) alerts(t *testing.T) []store.Alert {
	t.Helper()
	a, err := w.store.AlertList(context.Background(), "app")
	require.NoError(t, err)
	return a
}

func utc(y int, m time.Month, d, h, mi int) time.Time {
	return time.Date(y, m, d, h, mi, 0, 0, time.UTC)
}

// The whole story, with two processes ticking at once every time: silent
// while fresh, one alert when overdue, silent while overdue, one recovery
// when a verified run lands, silent after.
func TestWatchdogOverdueOnceThenRecoveredOnce(t *testing.T) {
	t.Parallel()
	w := watchSetup(t, utc(2026, 3, 1, 10, 0), "0 3 * * *", nil, nil)
	verified := w.landRun(t, "succeeded", utc(2026, 3, 1, 3, 20))

	// Daily: the window is 36 h from 03:20, so until 2026-03-02 15:20.
	w.tickAll(t, 3)
	w.at(utc(2026, 3, 2, 15, 17))
	w.tickAll(t, 4) // 15:17 … 15:20
	require.Empty(t, w.chat.received())
	require.Nil(t, w.overdueSince(t))

	w.tickAll(t, 5) // 15:21 … 15:25
	require.Equal(t, []string{"⏰ target app is overdue: no verified backup since 2026-03-01 03:20 UTC (window 36h)"}, w.chatTexts(t))
	require.Equal(t, []string{"target.overdue"}, w.hookTypes(t))
	require.Empty(t, w.heartbeat.received(), "a heartbeat's own silence is its alarm")
	require.Equal(t, utc(2026, 3, 2, 15, 21), w.overdueSince(t).UTC())

	// A failed run is no proof: still overdue, still no new message.
	w.landRun(t, "failed", utc(2026, 3, 3, 3, 15))
	w.at(utc(2026, 3, 3, 3, 16))
	w.tickAll(t, 3)
	require.Len(t, w.chat.received(), 1)

	recovered := w.landRun(t, "succeeded", utc(2026, 3, 3, 3, 40))
	w.tickAll(t, 5)
	texts := w.chatTexts(t)
	require.Len(t, texts, 2)
	require.Equal(t, "✅ target app recovered: run "+itoa(recovered)+" verified at 2026-03-03 03:40 UTC (overdue since 2026-03-02 15:21 UTC)\n"+
		"http://lifeboat.test/runs/"+itoa(recovered), texts[1])
	require.Equal(t, []string{"target.overdue", "target.recovered"}, w.hookTypes(t))
	require.Nil(t, w.overdueSince(t))

	w.tickAll(t, 10)
	require.Len(t, w.chat.received(), 2, "no message every tick")
	require.Len(t, w.hook.received(), 2)
	require.Empty(t, w.heartbeat.received())

	// The history: one alert per (event, notifier), each delivered once.
	alerts := w.alerts(t)
	require.Len(t, alerts, 4)
	for _, a := range alerts {
		require.NotNil(t, a.DeliveredAt, "%s to %s", a.Kind, a.Notifier)
		require.Equal(t, 1, a.Attempts)
		require.Equal(t, 36*time.Hour, a.Window)
	}
	require.Equal(t, verified, *alerts[0].LastVerifiedRunID)
	require.Equal(t, recovered, *alerts[3].LastVerifiedRunID)

	// The webhook event carries the facts.
	var overdue struct {
		Data notify.WebhookTargetData `json:"data"`
	}
	require.NoError(t, json.Unmarshal([]byte(w.hook.received()[0]), &overdue))
	require.Equal(t, "app", overdue.Data.Target)
	require.Equal(t, float64(36*3600), overdue.Data.WindowSeconds)
	require.Equal(t, verified, *overdue.Data.LastVerifiedRunID)
	require.True(t, utc(2026, 3, 1, 3, 20).Equal(*overdue.Data.LastVerifiedAt))
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestWatchdogMaxAgeOverridesSchedule(t *testing.T) {
	t.Parallel()
	for name, schedule := range map[string]string{"with schedule": "0 3 * * *", "without schedule": ""} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := watchSetup(t, utc(2026, 5, 4, 4, 0), schedule, func(tg *config.Target) { tg.MaxAge = 2 * time.Hour }, nil)
			w.landRun(t, "succeeded", utc(2026, 5, 4, 3, 30))
			w.at(utc(2026, 5, 4, 5, 29))
			w.tickAll(t, 2) // 05:29, 05:30: not yet older than 2 h
			require.Empty(t, w.chat.received())
			w.tickAll(t, 3)
			require.Equal(t, []string{"⏰ target app is overdue: no verified backup since 2026-05-04 03:30 UTC (window 2h)"}, w.chatTexts(t))
		})
	}
}

// A target lifeboat has just met has had no chance to be verified: its
// silence counts from first sight, and it gets a whole window.
func TestWatchdogNeverVerifiedTargetNotInstantlyOverdue(t *testing.T) {
	t.Parallel()
	first := utc(2026, 6, 10, 10, 0)
	w := watchSetup(t, first, "0 3 * * *", nil, nil)
	w.landRun(t, "failed", utc(2026, 6, 10, 9, 0)) // a failed run is not a verified one
	w.tickAll(t, 3)
	require.Empty(t, w.chat.received())

	w.at(first.Add(36 * time.Hour))
	w.tickAll(t, 1)
	require.Empty(t, w.chat.received(), "exactly one window after first sight is not overdue")
	w.tickAll(t, 3)
	require.Equal(t, []string{"⏰ target app is overdue: no verified backup since it was first seen at 2026-06-10 10:00 UTC (window 36h)"}, w.chatTexts(t))
	require.Equal(t, []string{"target.overdue"}, w.hookTypes(t))
}

func TestWatchdogPausedTargetNotWatched(t *testing.T) {
	t.Parallel()
	now := time.Now().UTC().Truncate(time.Minute)
	w := watchSetup(t, now, "0 3 * * *", nil, nil)
	ctx := context.Background()
	require.NoError(t, w.store.TargetPause(ctx, "app", true, now))

	resumed := now.Add(100 * 24 * time.Hour)
	w.at(resumed)
	w.tickAll(t, 5)
	require.Empty(t, w.chat.received())
	require.Empty(t, w.hook.received())
	require.Nil(t, w.overdueSince(t))

	// Resuming starts a fresh window: no alarm at once for the pause itself…
	require.NoError(t, w.store.TargetPause(ctx, "app", false, resumed))
	w.tickAll(t, 3)
	require.Empty(t, w.chat.received(), "resuming after a long pause is not an alarm by itself")
	// …but the same silence is one, a window (1.5 × 24 h) after the resume.
	w.at(resumed.Add(37 * time.Hour))
	w.tickAll(t, 3)
	require.Len(t, w.chat.received(), 1)
}

// A weekday schedule's Friday backup is not overdue over the weekend: the
// window is 1.5 × the gap it is waiting through (72 h).
func TestWatchdogWeekdayScheduleQuietOverWeekend(t *testing.T) {
	t.Parallel()
	friday := utc(2026, 1, 9, 3, 10) // a Friday
	w := watchSetup(t, friday.Add(time.Hour), "0 3 * * 1-5", nil, nil)
	w.landRun(t, "succeeded", friday)
	for _, at := range []time.Time{utc(2026, 1, 10, 15, 30), utc(2026, 1, 11, 23, 0), utc(2026, 1, 12, 10, 0), utc(2026, 1, 13, 15, 9)} {
		w.at(at)
		w.tickAll(t, 1)
	}
	require.Empty(t, w.chat.received())
	w.at(utc(2026, 1, 13, 15, 11)) // Friday 03:10 + 108 h, passed
	w.tickAll(t, 2)
	require.Equal(t, []string{"⏰ target app is overdue: no verified backup since 2026-01-09 03:10 UTC (window 4d12h)"}, w.chatTexts(t))
}

// flaky answers with the given statuses in turn, then 200, recording every
// request.
type flaky struct {
	*httptest.Server
	mu       sync.Mutex
	statuses []int
	bodies   []string
}

func newFlaky(t *testing.T, statuses ...int) *flaky {
	f := &flaky{statuses: statuses}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		defer f.mu.Unlock()
		f.bodies = append(f.bodies, string(b))
		status := http.StatusOK
		if len(f.statuses) > 0 {
			status, f.statuses = f.statuses[0], f.statuses[1:]
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *flaky) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.bodies)
}

// An alert the chat server refuses is retried on the next passes, a few
// times at most, and never holds up the other notifiers.
func TestWatchdogAlertDelivery(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		statuses  []int
		requests  int // the chat server sees, over 10 passes
		delivered bool
		attempts  int
	}{
		"retried until delivered":      {statuses: []int{503, 502}, requests: 3, delivered: true, attempts: 3},
		"given up after five attempts": {statuses: []int{503, 503, 503, 503, 503, 503, 503}, requests: 5, attempts: 5},
		"given up at once when 4xx":    {statuses: []int{404}, requests: 1, attempts: 1},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			chat := newFlaky(t, tc.statuses...)
			slack, err := notify.NewSlack("chat", chat.URL+"/hooks/chat", loopback())
			require.NoError(t, err)
			w := watchSetup(t, utc(2026, 2, 1, 0, 0), "", func(tg *config.Target) { tg.MaxAge = time.Hour },
				map[string]notify.Sender{"chat": slack})
			w.tickAll(t, 1) // first sight at 00:00
			w.at(utc(2026, 2, 1, 1, 1))
			w.tickAll(t, 10)

			require.Equal(t, tc.requests, chat.count())
			require.Equal(t, []string{"target.overdue"}, w.hookTypes(t), "the webhook is delivered whatever chat does")
			var chatAlert store.Alert
			for _, a := range w.alerts(t) {
				if a.Notifier == "chat" {
					chatAlert = a
				}
			}
			require.Equal(t, tc.attempts, chatAlert.Attempts)
			require.Equal(t, tc.delivered, chatAlert.DeliveredAt != nil)
			require.Equal(t, !tc.delivered, chatAlert.GivenUpAt != nil)
			if !tc.delivered {
				require.Contains(t, chatAlert.LastError, "status")
				require.Contains(t, w.logs.String(), "watchdog alert lost")
			}
		})
	}
}
