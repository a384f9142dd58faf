package notify_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// recorded is one request an endpoint received.
type recorded struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// endpoint is an httptest server standing in for a chat, heartbeat or
// webhook receiver; it records every request and answers with status/body.
type endpoint struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []recorded
}

func newEndpoint(t *testing.T, status int, body string) *endpoint {
	t.Helper()
	e := &endpoint{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		e.mu.Lock()
		e.reqs = append(e.reqs, recorded{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: b})
		e.mu.Unlock()
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *endpoint) requests() []recorded {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]recorded(nil), e.reqs...)
}

// loopbackClient is the guarded client with the test servers' loopback
// addresses allowed.
func loopbackClient(t *testing.T) *http.Client {
	t.Helper()
	return notify.NewClient([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.0/8"),
		netip.MustParsePrefix("::1/128"),
	}, 2*time.Second)
}

var (
	created  = time.Date(2025, 3, 4, 3, 0, 0, 0, time.UTC)
	finished = created.Add(3*time.Minute + 2*time.Second)
)

func succeededRun() lifeboat.Run {
	return lifeboat.Run{
		ID:         42,
		Target:     "app",
		Trigger:    lifeboat.TriggerSchedule,
		Status:     lifeboat.RunSucceeded,
		CreatedAt:  created,
		StartedAt:  &created,
		FinishedAt: &finished,
		Artifact: &lifeboat.Artifact{
			Storage: "main", Key: "app/2025/03/04/42.dump.zst.age",
			StoredBytes: 3 << 29, RawBytes: 4 << 30, SHA256: "abc",
		},
		Stages: []lifeboat.Stage{
			{Name: lifeboat.StageBackup, Status: lifeboat.StageSucceeded, Attempt: 1},
			{Name: lifeboat.StageRestore, Status: lifeboat.StageSucceeded, Attempt: 1},
			{Name: lifeboat.StageVerify, Status: lifeboat.StageSucceeded, Attempt: 1},
			{Name: lifeboat.StageReport, Status: lifeboat.StageRunning, Attempt: 1},
		},
		Checks: []lifeboat.CheckResult{
			{Name: "users exist", Passed: true, Expected: ">= 1", Observed: "12"},
		},
	}
}

func failedRun() lifeboat.Run {
	r := succeededRun()
	r.Status = lifeboat.RunFailed
	r.Error = "verify: 1 check failed"
	r.Stages[2].Status = lifeboat.StageFailed
	r.Stages[2].Error = "1 of 2 checks failed"
	r.Checks = []lifeboat.CheckResult{
		{Name: "users exist", Passed: false, Expected: ">= 1", Observed: "0"},
		{Name: "fresh orders", Passed: true, Expected: "true", Observed: "true"},
	}
	return r
}

const runURL = "https://lifeboat.example.com/runs/42"

func event(run lifeboat.Run) notify.Event {
	return notify.NewEvent(run, runURL, finished)
}
