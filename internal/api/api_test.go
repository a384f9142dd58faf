package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// testBundle is one test's lifeboat: its own state and source databases,
// fs storage and age key, a runner (not yet started) and an HTTP server.
type testBundle struct {
	runner *jobs.Runner
	srv    *httptest.Server
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	stateURL := testenv.CreateDB(t, "lbstate_")
	sourceURL := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, sourceURL, testenv.SeedSQL)

	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	doc := `database_url: ${STATE_URL}
restore:
  sandbox_dir: ${SANDBOX_DIR}
encryption:
  age_identity_file: ./age.key
storages:
  - {name: main, kind: fs, path: ./backups}
targets:
  - name: app
    database_url: ${SOURCE_URL}
    storage: main
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    checks:
      - {name: customers exist, sql: "SELECT count(*) FROM customers", expect: ">= 500"}
`
	env := map[string]string{"STATE_URL": stateURL, "SANDBOX_DIR": testenv.SandboxDir(t), "SOURCE_URL": sourceURL,
		"PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	w := lbtest.Wire(t, stateURL, doc, dir, env, &testenv.SyncBuffer{})
	st, pool, log := w.Store, w.Pool, w.Log
	runner, err := jobs.New(w.Deps, jobs.Options{Workers: 2})
	require.NoError(t, err)

	s := &api.Server{Runs: runner, Sched: runner, Reader: st, DB: pool, Spec: lifeboat.OpenAPI, Logger: log}
	srv, _ := serveAPI(t, s, st)
	return &testBundle{runner: runner, srv: srv}
}

// start lets the runner work the queued stages.
func (b *testBundle) start(t *testing.T) {
	t.Helper()
	require.NoError(t, b.runner.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.runner.Stop(ctx)
	})
}

// do sends a request and returns the response with its body read.
func (b *testBundle) do(t *testing.T, method, path string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, nil)
	require.NoError(t, err)
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// getJSON GETs path, requires status want and decodes the body into v.
func (b *testBundle) getJSON(t *testing.T, path string, want int, v any) {
	t.Helper()
	resp, body := b.do(t, http.MethodGet, path)
	require.Equal(t, want, resp.StatusCode, "GET %s: %s", path, body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	require.NoError(t, json.Unmarshal(body, v), "body: %s", body)
}

type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// requireProblem checks an RFC 9457 error response and returns its document.
func (b *testBundle) requireProblem(t *testing.T, method, path string, status int) problem {
	t.Helper()
	resp, body := b.do(t, method, path)
	require.Equal(t, status, resp.StatusCode, "%s %s: %s", method, path, body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(body, &p), "body: %s", body)
	require.NotEmpty(t, p.Type)
	require.Equal(t, http.StatusText(status), p.Title)
	require.Equal(t, status, p.Status)
	require.NotEmpty(t, p.Detail)
	return p
}

type logPage struct {
	Lines     []lifeboat.LogLine `json:"lines"`
	NextAfter int64              `json:"next_after"`
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func TestRunOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)

	// The runner is not started yet: the run must be queued.
	resp, body := b.do(t, http.MethodPost, "/api/v1/targets/app/runs")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "body: %s", body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var created lifeboat.Run
	require.NoError(t, json.Unmarshal(body, &created))
	require.Positive(t, created.ID)
	require.Equal(t, lifeboat.RunQueued, created.Status)
	require.Equal(t, "app", created.Target)
	require.Equal(t, lifeboat.TriggerAPI, created.Trigger)
	require.Equal(t, fmt.Sprintf("/api/v1/runs/%d", created.ID), resp.Header.Get("Location"))

	b.start(t)
	runPath := resp.Header.Get("Location")
	var run lifeboat.Run
	deadline := time.Now().Add(2 * time.Minute)
	for {
		run = lifeboat.Run{}
		b.getJSON(t, runPath, http.StatusOK, &run)
		if run.Status.Finished() || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s", run.Error)
	require.Equal(t, created.ID, run.ID)
	require.NotNil(t, run.StartedAt)
	require.NotNil(t, run.FinishedAt)
	require.Empty(t, run.Error)

	require.Len(t, run.Stages, len(lifeboat.Stages))
	for i, s := range run.Stages {
		require.Equal(t, lifeboat.Stages[i], s.Name, "stage %d", i)
		require.Equal(t, lifeboat.StageSucceeded, s.Status, "stage %s", s.Name)
		require.NotNil(t, s.StartedAt, "stage %s", s.Name)
		require.NotNil(t, s.FinishedAt, "stage %s", s.Name)
		require.False(t, s.FinishedAt.Before(*s.StartedAt), "stage %s finished before it started", s.Name)
		var metrics map[string]any
		require.NoError(t, json.Unmarshal(s.Metrics, &metrics), "stage %s metrics: %s", s.Name, s.Metrics)
		require.NotEmpty(t, metrics, "stage %s metrics", s.Name)
	}

	require.NotEmpty(t, run.Checks)
	names := map[string]bool{}
	for _, c := range run.Checks {
		require.True(t, c.Passed, "check %s: expected %s observed %s", c.Name, c.Expected, c.Observed)
		names[c.Name] = true
	}
	require.True(t, names["customers exist"], "the target's SQL check is reported: %v", names)
	require.True(t, names["rows public.orders"], "built-in row count checks are reported: %v", names)

	require.NotNil(t, run.Artifact)
	require.Equal(t, "main", run.Artifact.Storage)
	require.NotEmpty(t, run.Artifact.Key)
	require.Contains(t, run.Artifact.Key, fmt.Sprintf("app/%d/", run.FinishedAt.UTC().Year()))
	require.Positive(t, run.Artifact.StoredBytes)
	require.Regexp(t, sha256Hex, run.Artifact.SHA256)

	// Logs: a cursor over increasing ids.
	var all logPage
	b.getJSON(t, runPath+"/logs?limit=1000", http.StatusOK, &all)
	require.GreaterOrEqual(t, len(all.Lines), 5, "a whole run logs more than a handful of lines")
	require.Less(t, len(all.Lines), 1000, "the first page holds the whole log")
	for i := 1; i < len(all.Lines); i++ {
		require.Greater(t, all.Lines[i].ID, all.Lines[i-1].ID, "line %d", i)
	}
	for _, l := range all.Lines {
		require.NotEmpty(t, l.Message)
		require.NotEmpty(t, l.Level)
		require.False(t, l.Time.IsZero())
	}
	last := all.Lines[len(all.Lines)-1].ID
	require.Equal(t, last, all.NextAfter)

	var page logPage
	b.getJSON(t, fmt.Sprintf("%s/logs?after=%d&limit=2", runPath, all.Lines[2].ID), http.StatusOK, &page)
	require.Equal(t, all.Lines[3:5], page.Lines)
	require.Equal(t, all.Lines[4].ID, page.NextAfter)

	// The end of the log is an empty array, not null, and keeps the cursor.
	resp, body = b.do(t, http.MethodGet, fmt.Sprintf("%s/logs?after=%d", runPath, last))
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &raw))
	require.JSONEq(t, "[]", string(raw["lines"]))
	require.JSONEq(t, fmt.Sprint(last), string(raw["next_after"]))
}

func TestErrorsAreProblems(t *testing.T) {
	t.Parallel()
	b := setup(t) // no run is ever created in this state database

	p := b.requireProblem(t, http.MethodPost, "/api/v1/targets/no-such-target/runs", http.StatusNotFound)
	require.Contains(t, p.Detail, "no-such-target")

	p = b.requireProblem(t, http.MethodGet, "/api/v1/runs/abc", http.StatusBadRequest)
	require.Contains(t, p.Detail, "id")
	require.Contains(t, p.Detail, "abc")

	p = b.requireProblem(t, http.MethodGet, "/api/v1/runs/0", http.StatusBadRequest)
	require.Contains(t, p.Detail, "id")

	b.requireProblem(t, http.MethodGet, "/api/v1/runs/999999999", http.StatusNotFound)
	b.requireProblem(t, http.MethodGet, "/api/v1/runs/999999999/logs", http.StatusNotFound)

	p = b.requireProblem(t, http.MethodGet, "/api/v1/runs/1/logs?limit=0", http.StatusBadRequest)
	require.Contains(t, p.Detail, "limit")
	p = b.requireProblem(t, http.MethodGet, "/api/v1/runs/1/logs?limit=1001", http.StatusBadRequest)
	require.Contains(t, p.Detail, "limit")
	p = b.requireProblem(t, http.MethodGet, "/api/v1/runs/1/logs?after=-1", http.StatusBadRequest)
	require.Contains(t, p.Detail, "after")

	// Every operation refuses query parameters the spec does not list, and
	// values of the wrong type, naming the parameter.
	p = b.requireProblem(t, http.MethodGet, "/api/v1/runs/1?verbose=1", http.StatusBadRequest)
	require.Contains(t, p.Detail, "verbose: unknown query parameter")
	p = b.requireProblem(t, http.MethodGet, "/api/v1/runs/1/logs?limt=5", http.StatusBadRequest)
	require.Contains(t, p.Detail, "limt: unknown query parameter (known: after, limit)")
	p = b.requireProblem(t, http.MethodGet, "/api/v1/runs/1/logs?after=ten", http.StatusBadRequest)
	require.Contains(t, p.Detail, `after: "ten" is not valid`)
	p = b.requireProblem(t, http.MethodPost, "/api/v1/targets/app/runs?queue=maybe", http.StatusBadRequest)
	require.Contains(t, p.Detail, `queue: "maybe"`)

	p = b.requireProblem(t, http.MethodGet, "/api/v1/nothing-here", http.StatusNotFound)
	require.Contains(t, p.Detail, "/api/v1/nothing-here")
	p = b.requireProblem(t, http.MethodDelete, "/api/v1/runs/1", http.StatusMethodNotAllowed)
	require.Contains(t, p.Detail, "DELETE")
}

func TestHealthAndSpec(t *testing.T) {
	t.Parallel()
	b := setup(t)

	var status map[string]string
	b.getJSON(t, "/healthz", http.StatusOK, &status)
	require.Equal(t, "ok", status["status"])
	status = nil
	b.getJSON(t, "/readyz", http.StatusOK, &status)
	require.Equal(t, "ok", status["status"])
	require.Equal(t, "ok", status["database"])

	resp, body := b.do(t, http.MethodGet, "/api/openapi.yaml")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "yaml")
	require.Contains(t, string(body), "openapi: 3.1")
	require.Equal(t, lifeboat.OpenAPI, body)
}

func TestReadyzWithoutDatabase(t *testing.T) {
	t.Parallel()
	s := &api.Server{DB: downDB{}, Spec: lifeboat.OpenAPI, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(s.Routes())
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
}

type downDB struct{}

func (downDB) Ping(context.Context) error { return fmt.Errorf("connection refused") }

// TestSpecMatchesRouter keeps openapi.yaml and routes.go in step: every
// operation in the spec is routed, and every /api/ route is in the spec.
func TestSpecMatchesRouter(t *testing.T) {
	t.Parallel()
	var spec struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(lifeboat.OpenAPI, &spec))
	require.True(t, strings.HasPrefix(spec.OpenAPI, "3.1"), "openapi version %q", spec.OpenAPI)
	require.NotEmpty(t, spec.Paths)

	httpMethods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "options": true,
		"head": true, "patch": true, "trace": true}
	inSpec := map[string]bool{}
	for path, item := range spec.Paths {
		for method := range item {
			if httpMethods[method] {
				inSpec[strings.ToUpper(method)+" "+path] = true
			}
		}
	}
	require.NotEmpty(t, inSpec)

	s := &api.Server{Logger: slog.New(slog.DiscardHandler)}
	routes, ok := s.Routes().(chi.Routes)
	require.True(t, ok, "Routes() must return a chi router")
	routed := map[string]bool{}
	err := chi.Walk(routes, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		route = strings.TrimSuffix(route, "/*")
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		routed[method+" "+route] = true
		return nil
	})
	require.NoError(t, err)

	for op := range inSpec {
		require.True(t, routed[op], "openapi.yaml has %s but the router does not (routes: %v)", op, sorted(routed))
	}
	apiRoutes := 0
	for op := range routed {
		_, path, _ := strings.Cut(op, " ")
		if strings.HasPrefix(path, "/api/") {
			apiRoutes++
			require.True(t, inSpec[op], "the router has %s but openapi.yaml does not", op)
		}
	}
	require.Positive(t, apiRoutes)
}

func sorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestScheduleOverHTTP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	type schedule struct {
		Target   string      `json:"target"`
		Timezone string      `json:"timezone"`
		Paused   bool        `json:"paused"`
		Upcoming []time.Time `json:"upcoming"`
		Skips    []any       `json:"skips"`
	}
	var s schedule
	b.getJSON(t, "/api/v1/targets/app/schedule", http.StatusOK, &s)
	require.Equal(t, "Europe/Berlin", s.Timezone)
	require.False(t, s.Paused)
	require.Len(t, s.Upcoming, 5)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	for _, u := range s.Upcoming {
		require.Equal(t, 3, u.In(berlin).Hour(), "slots are 03:00 Berlin time")
	}
	require.NotNil(t, s.Skips, "skips is [] not null")

	resp, body := b.do(t, http.MethodPost, "/api/v1/targets/app/pause")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NoError(t, json.Unmarshal(body, &s))
	require.True(t, s.Paused)
	require.Empty(t, s.Upcoming, "a paused target has no upcoming slots")
	resp, body = b.do(t, http.MethodPost, "/api/v1/targets/app/resume")
	require.Equal(t, http.StatusOK, resp.StatusCode, string(body))
	require.NoError(t, json.Unmarshal(body, &s))
	require.False(t, s.Paused)
	require.Len(t, s.Upcoming, 5)

	p := b.requireProblem(t, http.MethodPost, "/api/v1/targets/nope/pause", http.StatusNotFound)
	require.Contains(t, p.Detail, "nope")
	b.requireProblem(t, http.MethodGet, "/api/v1/targets/nope/schedule", http.StatusNotFound)
}
