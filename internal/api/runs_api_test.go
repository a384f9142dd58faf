package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// runsOptions shape a runsBundle.
type runsOptions struct {
	// s3 stores backups in a bucket of the test S3 server, reached through
	// a proxy that lets request bodies through at s3BytesPerSec (0: no limit).
	s3            bool
	s3BytesPerSec int
	// sourceSQL is run on the source after the seed.
	sourceSQL  string
	afterStage func(ctx context.Context, runID int64, stage lifeboat.StageName) error
}

// runsBundle is a testBundle with what the runs API tests look at: the
// state database, the storage, the chat receiver and the source.
type runsBundle struct {
	*testBundle
	stateURL  string
	sourceURL string
	store     *store.Store
	blobs     blob.Store
	chat      *chatRecorder
}

// setupRuns is setup with two targets ("app" and "other", one source), a
// chat notifier and, as asked, S3 storage. The runner is not started.
func setupRuns(t *testing.T, o runsOptions) *runsBundle {
	t.Helper()
	b := &runsBundle{chat: newChatRecorder(t)}
	b.stateURL = testenv.CreateDB(t, "lbstate_")
	b.sourceURL = testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, b.sourceURL, testenv.SeedSQL)
	if o.sourceSQL != "" {
		testenv.Exec(t, b.sourceURL, o.sourceSQL)
	}

	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	storage := "{name: main, kind: fs, path: ./backups}"
	if o.s3 {
		s3 := testenv.S3HTTP(t)
		endpoint := s3.Endpoint
		if o.s3BytesPerSec > 0 {
			endpoint = slowS3Proxy(t, s3.Endpoint, o.s3BytesPerSec)
		}
		storage = fmt.Sprintf(`{name: main, kind: s3, bucket: %s, prefix: lb/, endpoint: %q, region: %s, access_key_id: %q, secret_access_key: "${S3_SECRET}", part_size_mb: 5}`,
			testenv.RandomName("lb-"), endpoint, s3.Region, s3.AccessKey)
	}
	doc := fmt.Sprintf(`database_url: ${STATE_URL}
base_url: http://lifeboat.test
restore:
  database_url: ${RESTORE_URL}
  allow_superuser: true # the tests reach into scratch databases on the test cluster
encryption:
  age_identity_file: ./age.key
storages:
  - %s
outbound:
  allow: [127.0.0.0/8]
notifiers:
  - {name: chat, kind: slack, url: %q}
targets:
  - name: app
    database_url: ${SOURCE_URL}
    storage: main
    notify: [chat]
  - name: other
    database_url: ${SOURCE_URL}
    storage: main
`, storage, b.chat.URL+"/hooks/chat")
	env := map[string]string{"STATE_URL": b.stateURL, "RESTORE_URL": testenv.PGURL(t), "SOURCE_URL": b.sourceURL,
		"S3_SECRET": os.Getenv("LIFEBOAT_TEST_S3_SECRET_KEY"), "PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	w := lbtest.Wire(t, b.stateURL, doc, dir, env, &testenv.SyncBuffer{})
	b.store = w.Store
	deps, pool, log := w.Deps, w.Pool, w.Log
	deps.AfterStage = o.afterStage
	b.blobs = deps.Stores["main"]
	runner, err := jobs.New(deps, jobs.Options{Workers: 2})
	require.NoError(t, err)

	s := &api.Server{Runs: runner, Sched: runner, Reader: b.store, DB: pool, Spec: lifeboat.OpenAPI, Logger: log}
	srv, _ := serveAPI(t, s, b.store)
	b.testBundle = &testBundle{runner: runner, srv: srv}
	return b
}

// request sends method path with headers and returns the response and body.
func (b *runsBundle) request(t *testing.T, method, path string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, b.srv.URL+path, nil)
	require.NoError(t, err)
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := b.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// postRun POSTs a run of target and requires status want; it returns the run.
func (b *runsBundle) postRun(t *testing.T, target, query, key string, want int) (lifeboat.Run, *http.Response) {
	t.Helper()
	h := http.Header{}
	if key != "" {
		h.Set("Idempotency-Key", key)
	}
	resp, body := b.request(t, http.MethodPost, "/api/v1/targets/"+target+"/runs"+query, h)
	require.Equal(t, want, resp.StatusCode, "body: %s", body)
	var run lifeboat.Run
	if want < 300 {
		require.NoError(t, json.Unmarshal(body, &run))
		require.Equal(t, fmt.Sprintf("/api/v1/runs/%d", run.ID), resp.Header.Get("Location"))
	}
	return run, resp
}

// cancel POSTs a cancel and requires 202; it returns the run.
func (b *runsBundle) cancel(t *testing.T, id int64) lifeboat.Run {
	t.Helper()
	resp, body := b.do(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/cancel", id))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "body: %s", body)
	var run lifeboat.Run
	require.NoError(t, json.Unmarshal(body, &run))
	return run
}

// waitReported polls the run until its report has finished it. (A GET
// reads the run and its stages in separate statements, so both are waited
// for.)
func (b *runsBundle) waitReported(t *testing.T, id int64, timeout time.Duration) lifeboat.Run {
	t.Helper()
	var run lifeboat.Run
	eventually(t, timeout, func() bool {
		run = lifeboat.Run{}
		b.getJSON(t, fmt.Sprintf("/api/v1/runs/%d", id), http.StatusOK, &run)
		rep, _ := run.StageByName(lifeboat.StageReport)
		return run.FinishedAt != nil && rep.Status != lifeboat.StagePending && rep.Status != lifeboat.StageRunning
	}, "report of run %d", id)
	// The report queues its notifications, each sent by a job of its own
	// once the report committed: reported means each was tried, as for
	// jobs.Runner.WaitRun.
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	require.NoError(t, b.runner.WaitDeliveries(ctx, id))
	return run
}

// eventually polls cond every 20ms until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, cond func() bool, what string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, fmt.Sprintf(what, args...))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *runsBundle) exec(t *testing.T, sql string, args ...any) {
	t.Helper()
	conn, err := b.store.Pool().Acquire(context.Background())
	require.NoError(t, err)
	defer conn.Release()
	_, err = conn.Exec(context.Background(), sql, args...)
	require.NoError(t, err)
}

func (b *runsBundle) queryInt(t *testing.T, sql string, args ...any) int64 {
	t.Helper()
	var n int64
	require.NoError(t, b.store.Pool().QueryRow(context.Background(), sql, args...).Scan(&n))
	return n
}

// chatRecorder is a Slack-compatible receiver that keeps what it gets.
type chatRecorder struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newChatRecorder(t *testing.T) *chatRecorder {
	t.Helper()
	c := &chatRecorder{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.bodies = append(c.bodies, string(body))
		c.mu.Unlock()
	}))
	t.Cleanup(c.Close)
	return c
}

func (c *chatRecorder) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.bodies...)
}

// slowS3Proxy fronts the S3 server with a reverse proxy that lets request
// bodies through at bytesPerSec in all, so an upload lasts as long as a
// test needs it to. The Host header is kept: it is part of the signature.
func slowS3Proxy(t *testing.T, endpoint string, bytesPerSec int) string {
	t.Helper()
	target, err := url.Parse(endpoint)
	require.NoError(t, err)
	lim := &byteRate{perSec: bytesPerSec}
	proxy := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.Host = r.In.Host
		if r.Out.Body != nil && r.Out.Body != http.NoBody {
			r.Out.Body = &slowBody{ReadCloser: r.Out.Body, lim: lim}
		}
	}}
	srv := httptest.NewServer(proxy)
	t.Cleanup(srv.Close)
	return srv.URL
}

// byteRate spaces reads so that all of them together pass perSec bytes a second.
type byteRate struct {
	mu     sync.Mutex
	perSec int
	next   time.Time
}

func (l *byteRate) wait(n int) {
	l.mu.Lock()
	now := time.Now()
	if l.next.Before(now) {
		l.next = now
	}
	l.next = l.next.Add(time.Duration(float64(n) / float64(l.perSec) * float64(time.Second)))
	d := time.Until(l.next)
	l.mu.Unlock()
	time.Sleep(d)
}

type slowBody struct {
	io.ReadCloser
	lim *byteRate
}

func (s *slowBody) Read(p []byte) (int, error) {
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	n, err := s.ReadCloser.Read(p)
	s.lim.wait(n)
	return n, err
}

// --- list -------------------------------------------------------------------

type runListPage struct {
	Runs       []json.RawMessage `json:"runs"`
	NextCursor *string           `json:"next_cursor"`
}

// listAll walks every page of query and returns the runs in order.
func (b *runsBundle) listAll(t *testing.T, query string, limit int) []lifeboat.Run {
	t.Helper()
	var all []lifeboat.Run
	cursor := ""
	for pages := 0; ; pages++ {
		require.Less(t, pages, 1000, "the list never ends")
		path := fmt.Sprintf("/api/v1/runs?limit=%d&%s", limit, query)
		if cursor != "" {
			path += "&cursor=" + url.QueryEscape(cursor)
		}
		var page runListPage
		b.getJSON(t, path, http.StatusOK, &page)
		require.LessOrEqual(t, len(page.Runs), limit)
		for _, raw := range page.Runs {
			var fields map[string]json.RawMessage
			require.NoError(t, json.Unmarshal(raw, &fields))
			require.NotContains(t, fields, "checks", "list items carry no checks")
			var run lifeboat.Run
			require.NoError(t, json.Unmarshal(raw, &run))
			all = append(all, run)
		}
		if page.NextCursor == nil {
			return all
		}
		require.Len(t, page.Runs, limit, "only the last page is short")
		cursor = *page.NextCursor
	}
}

// insertRuns writes n finished runs straight into the state database:
// run i (1-based, oldest first) is of target app when i%3 != 0 (else
// other), triggered by schedule when i%4 == 0 (else api), with status
// succeeded, failed or canceled by i%5, created i minutes after base.
func (b *runsBundle) insertRuns(t *testing.T, n int, base time.Time) {
	t.Helper()
	b.exec(t, `INSERT INTO runs (target, trigger, status, created_at, finished_at)
		SELECT CASE WHEN i % 3 = 0 THEN 'other' ELSE 'app' END,
			CASE WHEN i % 4 = 0 THEN 'schedule' ELSE 'api' END,
			CASE i % 5 WHEN 0 THEN 'failed' WHEN 1 THEN 'canceled' ELSE 'succeeded' END,
			$2::timestamptz + i * interval '1 minute', $2::timestamptz + i * interval '1 minute' + interval '30 seconds'
		FROM generate_series(1, $1) i ORDER BY i`, n, base)
	b.exec(t, `INSERT INTO run_stages (run_id, stage, position, status)
		SELECT r.id, s.stage, s.pos, CASE WHEN r.status = 'succeeded' THEN 'succeeded' ELSE 'skipped' END
		FROM runs r CROSS JOIN (VALUES ('backup', 0), ('restore', 1), ('verify', 2), ('report', 3)) s(stage, pos)
		WHERE NOT EXISTS (SELECT 1 FROM run_stages WHERE run_id = r.id)`)
}

func TestRunListPaging(t *testing.T) {
	t.Parallel()
	b := setupRuns(t, runsOptions{})
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const n = 120
	b.insertRuns(t, n, base)

	// Every run, newest first, each once, over three pages.
	all := b.listAll(t, "", 50)
	require.Len(t, all, n)
	seen := map[int64]bool{}
	for i, run := range all {
		require.False(t, seen[run.ID], "run %d listed twice", run.ID)
		seen[run.ID] = true
		if i > 0 {
			require.Less(t, run.ID, all[i-1].ID, "ids strictly decrease across pages (at %d)", i)
		}
		require.Len(t, run.Stages, 4, "list items carry their stages")
		require.Equal(t, lifeboat.StageBackup, run.Stages[0].Name)
		require.Empty(t, run.Stages[0].Metrics)
	}
	require.Equal(t, base.Add(n*time.Minute), all[0].CreatedAt.UTC(), "newest first")

	// The default page is 50 with a cursor; the cursor is opaque, not an id.
	var page runListPage
	b.getJSON(t, "/api/v1/runs", http.StatusOK, &page)
	require.Len(t, page.Runs, 50)
	require.NotNil(t, page.NextCursor)
	require.NotContains(t, *page.NextCursor, fmt.Sprint(all[49].ID))
	// The last page says so with a null cursor.
	resp, body := b.do(t, http.MethodGet, "/api/v1/runs?limit=200")
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	var raw map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(body, &raw))
	require.JSONEq(t, "null", string(raw["next_cursor"]))

	// Filters, alone and together, page the same way and select exactly.
	count := func(keep func(i int) bool) int {
		c := 0
		for i := 1; i <= n; i++ {
			if keep(i) {
				c++
			}
		}
		return c
	}
	for _, tc := range []struct {
		query string
		want  int
		check func(r lifeboat.Run) bool
	}{
		{"status=failed", count(func(i int) bool { return i%5 == 0 }), func(r lifeboat.Run) bool { return r.Status == lifeboat.RunFailed }},
		{"status=failed,canceled", count(func(i int) bool { return i%5 <= 1 }),
			func(r lifeboat.Run) bool { return r.Status == lifeboat.RunFailed || r.Status == lifeboat.RunCanceled }},
		{"trigger=schedule", count(func(i int) bool { return i%4 == 0 }), func(r lifeboat.Run) bool { return r.Trigger == lifeboat.TriggerSchedule }},
		{"target=other", count(func(i int) bool { return i%3 == 0 }), func(r lifeboat.Run) bool { return r.Target == "other" }},
		{"target=app&status=succeeded&trigger=api", count(func(i int) bool { return i%3 != 0 && i%5 >= 2 && i%4 != 0 }),
			func(r lifeboat.Run) bool {
				return r.Target == "app" && r.Status == lifeboat.RunSucceeded && r.Trigger == lifeboat.TriggerAPI
			}},
		// since is inclusive, until exclusive: runs 31..90.
		{"since=" + url.QueryEscape(base.Add(31*time.Minute).Format(time.RFC3339)) +
			"&until=" + url.QueryEscape(base.Add(91*time.Minute).Format(time.RFC3339)), 60,
			func(r lifeboat.Run) bool {
				return !r.CreatedAt.Before(base.Add(31*time.Minute)) && r.CreatedAt.Before(base.Add(91*time.Minute))
			}},
		{"target=nobody", 0, nil},
	} {
		got := b.listAll(t, tc.query, 7)
		require.Len(t, got, tc.want, "?%s", tc.query)
		for i, r := range got {
			require.True(t, tc.check(r), "?%s: run %d (%s %s %s) does not match", tc.query, r.ID, r.Target, r.Status, r.Trigger)
			if i > 0 {
				require.Less(t, r.ID, got[i-1].ID)
			}
		}
	}
	// An offset without percent-encoding ("+" read as a space) still works.
	got := b.listAll(t, "since="+base.Add(119*time.Minute).In(time.FixedZone("", 3600)).Format(time.RFC3339), 50)
	require.Len(t, got, 2)

	// Bad values are 400s naming the parameter.
	for _, tc := range []struct{ query, detail string }{
		{"status=runing", `status: "runing" is not one of queued, running, succeeded, failed, canceled`},
		{"status=failed,", `status: "" is not one of`},
		{"trigger=cron", `trigger: "cron" is not one of schedule, api, webhook, dashboard, cli`},
		{"since=yesterday", `since: "yesterday" is not an RFC 3339 time`},
		{"until=2026-11-01", `until: "2026-11-01" is not an RFC 3339 time`},
		{"since=2026-11-02T00:00:00Z&until=2026-11-01T00:00:00Z", "until: must be after since"},
		{"limit=201", "limit"},
		{"limit=0", "limit"},
		{"limit=ten", "limit"},
		{"cursor=not-a-cursor", "cursor"},
		{"cursor=" + fmt.Sprint(all[10].ID), "cursor"},
		{"stauts=failed", "stauts: unknown query parameter"},
		{"target=app&target=other", "target: given 2 times"},
	} {
		p := b.requireProblem(t, http.MethodGet, "/api/v1/runs?"+tc.query, http.StatusBadRequest)
		require.Contains(t, p.Detail, tc.detail, "?%s", tc.query)
	}
}

// --- create: conflicts and idempotency ---------------------------------------

func TestRunCreateConflict(t *testing.T) {
	t.Parallel()
	b := setupRuns(t, runsOptions{}) // runner not started: runs stay queued

	first, _ := b.postRun(t, "app", "", "", http.StatusAccepted)
	require.Equal(t, lifeboat.RunQueued, first.Status)

	p := b.requireProblem(t, http.MethodPost, "/api/v1/targets/app/runs", http.StatusConflict)
	require.Contains(t, p.Detail, fmt.Sprintf("active run %d", first.ID))
	require.Contains(t, p.Detail, "queue=true")
	p = b.requireProblem(t, http.MethodPost, "/api/v1/targets/app/runs?queue=false", http.StatusConflict)
	require.Contains(t, p.Detail, fmt.Sprint(first.ID))

	queued, _ := b.postRun(t, "app", "?queue=true", "", http.StatusAccepted)
	require.NotEqual(t, first.ID, queued.ID)
	require.Equal(t, lifeboat.RunQueued, queued.Status)
	// Another target is not in the way.
	b.postRun(t, "other", "", "", http.StatusAccepted)
	// The oldest active run is the one named.
	p = b.requireProblem(t, http.MethodPost, "/api/v1/targets/app/runs", http.StatusConflict)
	require.Contains(t, p.Detail, fmt.Sprintf("active run %d", first.ID))

	p = b.requireProblem(t, http.MethodPost, "/api/v1/targets/app/runs?queue=maybe", http.StatusBadRequest)
	require.Contains(t, p.Detail, "queue")
	p = b.requireProblem(t, http.MethodPost, "/api/v1/targets/nope/runs", http.StatusNotFound)
	require.Contains(t, p.Detail, "nope")
	require.EqualValues(t, 2, b.queryInt(t, "SELECT count(*) FROM runs WHERE target = 'app'"))
}

func TestRunCreateConcurrent(t *testing.T) {
	t.Parallel()
	b := setupRuns(t, runsOptions{})
	const n = 8
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
		codes = make([]int, n)
		ids   = make([]int64, n)
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			req, err := http.NewRequest(http.MethodPost, b.srv.URL+"/api/v1/targets/app/runs", nil)
			if err != nil {
				panic(err)
			}
			resp, err := b.srv.Client().Do(req)
			if err != nil {
				panic(err)
			}
			defer resp.Body.Close()
			var run lifeboat.Run
			_ = json.NewDecoder(resp.Body).Decode(&run)
			codes[i], ids[i] = resp.StatusCode, run.ID
		}()
	}
	close(start)
	wg.Wait()
	var accepted, conflicts int
	for i, c := range codes {
		switch c {
		case http.StatusAccepted:
			accepted++
			require.Positive(t, ids[i])
		case http.StatusConflict:
			conflicts++
		default:
			t.Fatalf("request %d: status %d", i, c)
		}
	}
	require.Equal(t, 1, accepted, "exactly one request creates the run (codes %v)", codes)
	require.Equal(t, n-1, conflicts)
	require.EqualValues(t, 1, b.queryInt(t, "SELECT count(*) FROM runs"))
	require.EqualValues(t, 1, b.queryInt(t, "SELECT count(*) FROM river_job WHERE kind = 'lifeboat.backup'"))
}

func TestRunCreateIdempotencyKey(t *testing.T) {
	t.Parallel()
	b := setupRuns(t, runsOptions{})

	first, resp := b.postRun(t, "app", "", "deploy-42", http.StatusAccepted)
	require.Empty(t, resp.Header.Get("Idempotent-Replayed"))

	// The same key: the same run, nothing new, even while it is active.
	again, resp := b.postRun(t, "app", "", "deploy-42", http.StatusAccepted)
	require.Equal(t, first.ID, again.ID)
	require.Equal(t, "true", resp.Header.Get("Idempotent-Replayed"))
	again, _ = b.postRun(t, "app", "?queue=true", "deploy-42", http.StatusAccepted)
	require.Equal(t, first.ID, again.ID)
	require.EqualValues(t, 1, b.queryInt(t, "SELECT count(*) FROM runs"))

	// A different key is a new request: the active run is in the way.
	h := http.Header{"Idempotency-Key": {"deploy-43"}}
	resp, body := b.request(t, http.MethodPost, "/api/v1/targets/app/runs", h)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "body: %s", body)
	require.Contains(t, string(body), fmt.Sprint(first.ID))
	// A refused request does not take its key: it works once the way is clear.
	require.EqualValues(t, 0, b.queryInt(t, "SELECT count(*) FROM run_idempotency_keys WHERE key = 'deploy-43'"))

	// The same key for another target is another key.
	other, resp := b.postRun(t, "other", "", "deploy-42", http.StatusAccepted)
	require.NotEqual(t, first.ID, other.ID)
	require.Empty(t, resp.Header.Get("Idempotent-Replayed"))

	// After 24 hours the key is forgotten: a new run (once the first is out of the way).
	b.cancel(t, first.ID)
	b.exec(t, "UPDATE run_idempotency_keys SET created_at = created_at - interval '24 hours 1 second' WHERE target = 'app'")
	later, resp := b.postRun(t, "app", "", "deploy-42", http.StatusAccepted)
	require.NotEqual(t, first.ID, later.ID)
	require.Empty(t, resp.Header.Get("Idempotent-Replayed"))
	again, _ = b.postRun(t, "app", "", "deploy-42", http.StatusAccepted)
	require.Equal(t, later.ID, again.ID, "the key now names the new run")
	// Just inside the window still counts.
	b.exec(t, "UPDATE run_idempotency_keys SET created_at = now() - interval '23 hours 59 minutes' WHERE target = 'app'")
	again, _ = b.postRun(t, "app", "", "deploy-42", http.StatusAccepted)
	require.Equal(t, later.ID, again.ID)

	// Keys are 1 to 255 printable ASCII characters.
	for name, key := range map[string]string{
		"empty": "", "too long": strings.Repeat("k", 256), "non-ASCII": "schlüssel", "tab": "a\tb",
	} {
		resp, body := b.request(t, http.MethodPost, "/api/v1/targets/app/runs?queue=true", http.Header{"Idempotency-Key": {key}})
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s: %s", name, body)
		require.Contains(t, string(body), "Idempotency-Key", name)
	}
	resp, body = b.request(t, http.MethodPost, "/api/v1/targets/app/runs?queue=true",
		http.Header{"Idempotency-Key": {"a", "b"}})
	require.Equal(t, http.StatusBadRequest, resp.StatusCode, "body: %s", body)
	b.postRun(t, "app", "?queue=true", strings.Repeat("k", 255), http.StatusAccepted)
	b.postRun(t, "app", "?queue=true", " !~{}", http.StatusAccepted)
}

// --- cancel -----------------------------------------------------------------

func TestCancelQueuedRun(t *testing.T) {
	t.Parallel()
	b := setupRuns(t, runsOptions{})
	run, _ := b.postRun(t, "app", "", "", http.StatusAccepted)

	canceled := b.cancel(t, run.ID)
	require.Equal(t, run.ID, canceled.ID)
	require.Equal(t, lifeboat.RunCanceled, canceled.Status)
	require.Equal(t, "canceled by api", canceled.Error)
	require.Nil(t, canceled.FinishedAt, "finished once report has cleaned up")
	st := stageStatus(canceled)
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageBackup])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageVerify])
	require.Equal(t, lifeboat.StagePending, st[lifeboat.StageReport])
	require.EqualValues(t, 1, b.queryInt(t, "SELECT count(*) FROM river_job WHERE kind = 'lifeboat.backup' AND state = 'cancelled'"))

	// A canceled run is not active: the target takes a new run.
	b.postRun(t, "app", "", "", http.StatusAccepted)

	b.start(t)
	done := b.waitReported(t, run.ID, time.Minute)
	require.Equal(t, lifeboat.RunCanceled, done.Status, "report keeps canceled")
	require.NotNil(t, done.FinishedAt)
	st = stageStatus(done)
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageBackup], "the backup never ran")
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageReport])
	rep, _ := done.StageByName(lifeboat.StageReport)
	require.Equal(t, 1, rep.Attempt)
	var msg string
	eventually(t, 10*time.Second, func() bool {
		for _, m := range b.chat.received() {
			if strings.Contains(m, fmt.Sprintf("/runs/%d", run.ID)) {
				msg = m
			}
		}
		return msg != ""
	}, "the chat message of run %d", run.ID)
	require.Contains(t, msg, "canceled")

	p := b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/cancel", run.ID), http.StatusConflict)
	require.Contains(t, p.Detail, "canceled")
}

func TestCancelErrors(t *testing.T) {
	t.Parallel()
	b := setupRuns(t, runsOptions{})
	b.insertRuns(t, 5, time.Now().Add(-time.Hour))
	var succeeded, failed int64
	require.NoError(t, b.store.Pool().QueryRow(context.Background(),
		"SELECT min(id) FILTER (WHERE status = 'succeeded'), min(id) FILTER (WHERE status = 'failed') FROM runs").
		Scan(&succeeded, &failed))

	p := b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/cancel", succeeded), http.StatusConflict)
	require.Contains(t, p.Detail, "already finished (succeeded)")
	p = b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/cancel", failed), http.StatusConflict)
	require.Contains(t, p.Detail, "already finished (failed)")

	// A run whose report has begun has its outcome: too late to cancel.
	run, _ := b.postRun(t, "app", "", "", http.StatusAccepted)
	b.exec(t, `UPDATE run_stages SET status = CASE WHEN stage = 'report' THEN 'running' ELSE 'succeeded' END WHERE run_id = $1`, run.ID)
	b.exec(t, `UPDATE runs SET status = 'running' WHERE id = $1`, run.ID)
	p = b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/cancel", run.ID), http.StatusConflict)
	require.Contains(t, p.Detail, "being reported")
	var got lifeboat.Run
	b.getJSON(t, fmt.Sprintf("/api/v1/runs/%d", run.ID), http.StatusOK, &got)
	require.Equal(t, lifeboat.RunRunning, got.Status)

	p = b.requireProblem(t, http.MethodPost, "/api/v1/runs/999999999999/cancel", http.StatusNotFound)
	require.Contains(t, p.Detail, "999999999999")
	p = b.requireProblem(t, http.MethodPost, "/api/v1/runs/abc/cancel", http.StatusBadRequest)
	require.Contains(t, p.Detail, "id")
	b.requireProblem(t, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d/cancel", run.ID), http.StatusMethodNotAllowed)
}

// bigSourceSQL adds ~30 MB of incompressible rows to the source.
const bigSourceSQL = `
CREATE EXTENSION pgcrypto;
CREATE TABLE blobs (id int PRIMARY KEY, payload bytea NOT NULL);
ALTER TABLE blobs ALTER payload SET STORAGE EXTERNAL;
INSERT INTO blobs SELECT g, gen_random_bytes(1024) FROM generate_series(1, 30000) g;
`

// TestCancelDuringBackup cancels a run while pg_dump streams into a
// multipart upload that the S3 proxy keeps slow (1 MB/s: the whole upload
// would take half a minute).
func TestCancelDuringBackup(t *testing.T) {
	t.Parallel()
	b := setupRuns(t, runsOptions{s3: true, s3BytesPerSec: 1 << 20, sourceSQL: bigSourceSQL})
	s3 := b.blobs.(*blob.S3)
	ctx := context.Background()
	run, _ := b.postRun(t, "app", "", "", http.StatusAccepted)
	b.start(t)

	// Wait until the dump streams into an open multipart upload.
	eventually(t, time.Minute, func() bool {
		ups, err := s3.Uploads(ctx)
		require.NoError(t, err)
		return len(ups) > 0
	}, "a multipart upload of run %d", run.ID)
	dbName := b.sourceURL[strings.LastIndexByte(b.sourceURL, '/')+1:]
	dbName, _, _ = strings.Cut(dbName, "?") // pg_dump's URL carries session settings too
	require.NotEmpty(t, pgDumpsOf(t, dbName), "pg_dump is running")

	began := time.Now()
	canceled := b.cancel(t, run.ID)
	require.Equal(t, lifeboat.RunCanceled, canceled.Status)
	require.Equal(t, "canceled by api", canceled.Error)
	backup, _ := canceled.StageByName(lifeboat.StageBackup)
	require.Equal(t, lifeboat.StageFailed, backup.Status)
	require.Equal(t, "canceled", backup.Error)
	st := stageStatus(canceled)
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageVerify])

	done := b.waitReported(t, run.ID, time.Minute)
	took := time.Since(began)
	t.Logf("canceled and reported in %s", took.Round(time.Millisecond))
	require.Less(t, took, 15*time.Second, "cancellation does not wait for the upload")
	require.Equal(t, lifeboat.RunCanceled, done.Status)
	require.Equal(t, "canceled by api", done.Error)
	require.NotNil(t, done.FinishedAt)
	require.Nil(t, done.Artifact, "the interrupted backup recorded nothing")
	st = stageStatus(done)
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageBackup])
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageReport])
	backup, _ = done.StageByName(lifeboat.StageBackup)
	require.Equal(t, "canceled", backup.Error, "the worker did not overwrite the stage")
	require.Equal(t, 1, backup.Attempt)

	require.Empty(t, pgDumpsOf(t, dbName), "pg_dump was killed")
	ups, err := s3.Uploads(ctx)
	require.NoError(t, err)
	require.Empty(t, ups, "the multipart upload was aborted")
	objs, err := b.blobs.List(ctx, "")
	require.NoError(t, err)
	require.Empty(t, objs, "no object and no manifest")
	b.requireScratchGone(t, run.ID)
	chat := b.chat.received()
	require.Len(t, chat, 1)
	require.Contains(t, chat[0], "canceled")
	require.Contains(t, chat[0], fmt.Sprintf("/runs/%d", run.ID))
	require.EqualValues(t, 1, b.queryInt(t, `SELECT count(*) FROM river_job WHERE kind = 'lifeboat.backup' AND state = 'cancelled'`))
	require.EqualValues(t, 0, b.queryInt(t, `SELECT count(*) FROM river_job WHERE kind IN ('lifeboat.restore', 'lifeboat.verify')`))

	var logs logPage
	b.getJSON(t, fmt.Sprintf("/api/v1/runs/%d/logs?limit=1000", run.ID), http.StatusOK, &logs)
	var text strings.Builder
	for _, l := range logs.Lines {
		fmt.Fprintf(&text, "[%s] %s\n", l.Stage, l.Message)
	}
	require.Contains(t, text.String(), "run canceled: the backup stage stopped", text.String())
}

// TestCancelDuringRestore cancels a run while its restore stage holds (its
// scratch database exists) and, once canceled, takes a while to return and
// recreates the scratch database meanwhile, as a restore attempt racing
// the cancel might: report waits for the worker, then drops it.
func TestCancelDuringRestore(t *testing.T) {
	t.Parallel()
	reached := make(chan int64, 1)
	pgURL := testenv.PGURL(t)
	var b *runsBundle
	b = setupRuns(t, runsOptions{afterStage: func(ctx context.Context, runID int64, stage lifeboat.StageName) error {
		if stage != lifeboat.StageRestore {
			return nil
		}
		reached <- runID
		<-ctx.Done() // until canceled
		time.Sleep(time.Second)
		scratch := b.scratchName(t, runID)
		if err := pgtool.DropDatabase(context.Background(), pgURL, scratch); err != nil {
			return err
		}
		if err := pgtool.CreateDatabase(context.Background(), pgURL, scratch); err != nil {
			return err
		}
		return ctx.Err()
	}})
	run, _ := b.postRun(t, "app", "", "", http.StatusAccepted)
	b.start(t)
	select {
	case id := <-reached:
		require.Equal(t, run.ID, id)
	case <-time.After(time.Minute):
		t.Fatal("the restore stage never finished its work")
	}
	ok, err := pgtool.DatabaseExists(context.Background(), testenv.PGURL(t), b.scratchName(t, run.ID))
	require.NoError(t, err)
	require.True(t, ok, "the scratch database exists while restore holds")

	canceled := b.cancel(t, run.ID)
	st := stageStatus(canceled)
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageBackup])
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageVerify])

	done := b.waitReported(t, run.ID, time.Minute)
	require.Equal(t, lifeboat.RunCanceled, done.Status)
	st = stageStatus(done)
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageReport])
	require.NotNil(t, done.Artifact, "the backup before the cancel stays recorded")
	eventually(t, 30*time.Second, func() bool {
		return b.queryInt(t, `SELECT count(*) FROM river_job WHERE kind = 'lifeboat.restore' AND finalized_at IS NOT NULL`) == 1
	}, "the restore job to end")
	b.requireScratchGone(t, run.ID)
	require.Len(t, b.chat.received(), 1)
	require.EqualValues(t, 0, b.queryInt(t, `SELECT count(*) FROM river_job WHERE kind = 'lifeboat.verify'`))
}

// pgDumpsOf lists the pg_dump processes dumping database db.
func pgDumpsOf(t *testing.T, db string) []string {
	t.Helper()
	return testenv.Processes(t, "pg_dump", db)
}

// scratchName is run id's scratch database on the test cluster.
func (b *runsBundle) scratchName(t *testing.T, runID int64) string {
	t.Helper()
	inst, err := b.store.InstallationID(context.Background())
	require.NoError(t, err)
	return pgtool.ScratchName(inst, runID)
}

func (b *runsBundle) requireScratchGone(t *testing.T, runID int64) {
	t.Helper()
	ok, err := pgtool.DatabaseExists(context.Background(), testenv.PGURL(t), b.scratchName(t, runID))
	require.NoError(t, err)
	require.False(t, ok, "scratch database of run %d must be dropped", runID)
}

func stageStatus(run lifeboat.Run) map[lifeboat.StageName]lifeboat.StageStatus {
	m := map[lifeboat.StageName]lifeboat.StageStatus{}
	for _, s := range run.Stages {
		m[s.Name] = s.Status
	}
	return m
}
