package api_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// liveBundle is setup's lifeboat wired as `lifeboat serve` wires it: a
// listener for live tails, readiness checks and /metrics. Its targets are
// "app" (verifies) and "broken" (a check fails; it reports to "chat", a
// receiver that always answers 500).
type liveBundle struct {
	stateURL string
	store    *store.Store
	feed     *countingFeed
	listener *store.Listener
	runner   *jobs.Runner
	server   *api.Server
	srv      *httptest.Server
	// pause, when set, holds a run after the stage it names until released.
	pauseStage lifeboat.StageName
	paused     chan int64    // a run reached the pause
	release    chan struct{} // closed to let it go on
	// stopListening stops the listener, as a process shutting down does.
	stopListening func()
}

type liveOptions struct {
	pauseAfter lifeboat.StageName
	heartbeat  time.Duration
}

func setupLive(t *testing.T, o liveOptions) *liveBundle {
	t.Helper()
	ctx := context.Background()
	b := &liveBundle{pauseStage: o.pauseAfter, paused: make(chan int64, 4), release: make(chan struct{})}
	b.stateURL = testenv.CreateDB(t, "lbstate_")
	sourceURL := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, sourceURL, testenv.SeedSQL)
	chat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusInternalServerError)
	}))
	t.Cleanup(chat.Close)

	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	doc := fmt.Sprintf(`database_url: ${STATE_URL}
restore:
  sandbox_dir: ${SANDBOX_DIR}
encryption:
  age_identity_file: ./age.key
storages:
  - {name: main, kind: fs, path: ./backups}
outbound:
  allow: [127.0.0.0/8]
notifiers:
  - {name: chat, kind: slack, url: %q}
targets:
  - name: app
    database_url: ${SOURCE_URL}
    storage: main
    checks:
      - {name: customers exist, sql: "SELECT count(*) FROM customers", expect: ">= 500"}
  - name: broken
    database_url: ${SOURCE_URL}
    storage: main
    notify: [chat]
    checks:
      - {name: a million customers, sql: "SELECT count(*) FROM customers", expect: ">= 1000000"}
`, chat.URL+"/hook")
	env := map[string]string{"STATE_URL": b.stateURL, "SANDBOX_DIR": testenv.SandboxDir(t), "SOURCE_URL": sourceURL,
		"PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	w := lbtest.Wire(t, b.stateURL, doc, dir, env, &testenv.SyncBuffer{})
	b.store = w.Store
	deps, pool, log := w.Deps, w.Pool, w.Log
	deps.AfterStage = func(ctx context.Context, runID int64, stage lifeboat.StageName) error {
		if stage != b.pauseStage {
			return nil
		}
		b.paused <- runID
		select {
		case <-b.release:
		case <-ctx.Done():
		}
		return nil
	}
	var err error
	b.runner, err = jobs.New(deps, jobs.Options{Workers: 2, NoPeriodic: true})
	require.NoError(t, err)

	b.listener = b.store.NewListener(log)
	lctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); b.listener.Run(lctx) }()
	b.stopListening = func() { stop(); <-done }

	b.feed = &countingFeed{LogFeed: b.store}
	b.server = &api.Server{Runs: b.runner, Sched: b.runner, Reader: b.store, DB: pool, Spec: lifeboat.OpenAPI, Logger: log,
		Watcher: b.listener, Feed: b.feed, StreamHeartbeat: o.heartbeat, Migrations: b.store, Workers: b.runner,
		Metrics: api.NewMetrics(b.store, func() ([]string, []string) { return []string{"app", "broken"}, []string{"chat"} }, log)}
	b.srv, _ = serveAPI(t, b.server, b.store)
	t.Cleanup(b.stopListening) // before the server closes: ends the live tails, as at shutdown
	// Listening before any tail subscribes: the wake every (re)connection
	// sends would otherwise count as a read in the no-polling checks.
	require.Eventually(t, b.listener.Listening, 10*time.Second, 10*time.Millisecond)
	return b
}

func (b *liveBundle) start(t *testing.T) {
	t.Helper()
	require.NoError(t, b.runner.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		select {
		case <-b.release:
		default:
			close(b.release)
		}
		_ = b.runner.Stop(ctx)
	})
}

// createRun starts a run of target over the API.
func (b *liveBundle) createRun(t *testing.T, target string) int64 {
	t.Helper()
	resp, err := b.srv.Client().Post(b.srv.URL+"/api/v1/targets/"+target+"/runs", "", nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "body: %s", body)
	var run lifeboat.Run
	require.NoError(t, json.Unmarshal(body, &run))
	return run.ID
}

// waitRun waits until the run has finished.
func (b *liveBundle) waitRun(t *testing.T, id int64) lifeboat.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := b.runner.WaitRun(ctx, id)
	require.NoError(t, err)
	return run
}

// waitSubscribers waits until the listener holds n subscriptions.
func (b *liveBundle) waitSubscribers(t *testing.T, n int) {
	t.Helper()
	require.Eventually(t, func() bool { return b.listener.Subscribers() == n }, 5*time.Second, 10*time.Millisecond,
		"subscribers: want %d, have %d", n, b.listener.Subscribers())
}

// countingFeed counts the live tails' reads: a tail that polled would read
// while nothing happens.
type countingFeed struct {
	api.LogFeed
	reads atomic.Int64
}

func (f *countingFeed) LogList(ctx context.Context, runID, after int64, limit int) ([]lifeboat.LogLine, error) {
	f.reads.Add(1)
	return f.LogFeed.LogList(ctx, runID, after, limit)
}

func (f *countingFeed) RunHead(ctx context.Context, id int64) (lifeboat.Run, error) {
	f.reads.Add(1)
	return f.LogFeed.RunHead(ctx, id)
}

// sseEvent is one Server-Sent Event, or a comment when comment is set.
type sseEvent struct {
	id, event, data, comment string
	at                       time.Time // when it was read
}

// sseStream is an open event stream read in the background.
type sseStream struct {
	resp   *http.Response
	events chan sseEvent // closed at the end of the stream
	cancel context.CancelFunc
	once   sync.Once
}

// openStream GETs path with Accept: text/event-stream (and Last-Event-ID
// when lastID is set) and requires a 200 event stream.
func (b *liveBundle) openStream(t *testing.T, path, lastID string) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		cancel()
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-cache", resp.Header.Get("Cache-Control"))
	s := &sseStream{resp: resp, events: make(chan sseEvent, 1024), cancel: cancel}
	go s.read()
	t.Cleanup(s.close)
	return s
}

func (s *sseStream) read() {
	defer close(s.events)
	r := bufio.NewReader(s.resp.Body)
	var ev sseEvent
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimSuffix(line, "\n")
		switch {
		case line == "":
			if ev.event != "" || ev.data != "" {
				ev.at = time.Now()
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			s.events <- sseEvent{comment: strings.TrimSpace(line[1:]), at: time.Now()}
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch field {
			case "id":
				ev.id = value
			case "event":
				ev.event = value
			case "data":
				ev.data += value
			}
		}
	}
}

// close disconnects, as a client going away does.
func (s *sseStream) close() {
	s.once.Do(func() {
		s.cancel()
		s.resp.Body.Close()
	})
}

// next returns the next event that is not a comment.
func (s *sseStream) next(t *testing.T, within time.Duration) sseEvent {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev, ok := <-s.events:
			require.True(t, ok, "the stream ended")
			if ev.comment != "" {
				continue
			}
			return ev
		case <-deadline:
			t.Fatalf("no event within %s", within)
		}
	}
}

// logLine decodes a log event and checks its id field matches the line.
func logLine(t *testing.T, ev sseEvent) lifeboat.LogLine {
	t.Helper()
	require.Equal(t, "log", ev.event, "event %+v", ev)
	var l lifeboat.LogLine
	require.NoError(t, json.Unmarshal([]byte(ev.data), &l), "data: %s", ev.data)
	require.Equal(t, fmt.Sprint(l.ID), ev.id, "the event id is the line id")
	require.NotEmpty(t, l.Message)
	return l
}

// requireEnded requires the stream to close without further events.
func (s *sseStream) requireEnded(t *testing.T) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		require.False(t, ok, "no event after end, got %+v", ev)
	case <-time.After(5 * time.Second):
		t.Fatal("the stream did not close after end")
	}
}
