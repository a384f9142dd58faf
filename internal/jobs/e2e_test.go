package jobs_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// recorder is an httptest receiver standing in for chat or heartbeat
// services; it keeps every request it got.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []pingRecord
}

// pingRecord is one request a receiver got.
type pingRecord struct{ Method, URI, Body string }

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, pingRecord{r.Method, r.URL.RequestURI(), string(b)})
		rec.mu.Unlock()
		_, _ = io.WriteString(w, "OK")
	}))
	t.Cleanup(rec.Close)
	return rec
}

// received returns the bodies of the requests, in order.
func (r *recorder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, len(r.reqs))
	for i, q := range r.reqs {
		out[i] = q.Body
	}
	return out
}

// requests returns the requests, in order.
func (r *recorder) requests() []pingRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]pingRecord(nil), r.reqs...)
}

type storageKind int

const (
	storageFS storageKind = iota
	storageS3
	storageS3TLS
)

type options struct {
	storage    storageKind
	checks     string // YAML list items of checks, indented for the target
	sourceURL  string // overrides the seeded source
	restoreURL string // restore.mode: server on this URL (default: a sandbox)
	serverMode bool   // restore.mode: server as a fresh CREATEDB role
	// superuser: restore.mode: server as the test cluster's superuser,
	// with restore.allow_superuser (the janitor reads scratch ages with it).
	superuser  bool
	afterStage func(b *bundle, ctx context.Context, runID int64, stage lifeboat.StageName) error
	rowCounts  string
	// schedule, timezone and overlap go into the target as they are.
	schedule, timezone, overlap string
	clock                       *fakeClock // injected as Deps.Now when set
	noStart                     bool       // build the runner, don't work jobs
	extraTarget                 string     // more YAML lines for the target
	secondTarget                bool       // a second target "app2" like "app"
}

// fakeClock is an injectable clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

type bundle struct {
	cfg       *config.Config
	store     *store.Store
	runner    *jobs.Runner
	blobs     blob.Store
	sourceURL string
	pgURL     string
	chat      *recorder
	heartbeat *recorder
	logs      *testenv.SyncBuffer
	deps      jobs.Deps
	stateURL  string
	// serverMode: scratch databases on the test cluster; else sandboxes
	// under sandboxDir.
	serverMode bool
	sandboxDir string
}

// secondTargetYAML is target "app2", a copy of "app" without schedule.
func secondTargetYAML(o options) string {
	if !o.secondTarget {
		return ""
	}
	return "  - {name: app2, database_url: \"${SOURCE_URL}\", storage: main, notify: [chat]}\n"
}

// scheduleYAML renders the options' schedule keys of the target.
func scheduleYAML(o options) string {
	var sb strings.Builder
	sb.WriteString(o.extraTarget)
	for k, v := range map[string]string{"schedule": o.schedule, "timezone": o.timezone, "overlap": o.overlap} {
		if v != "" {
			fmt.Fprintf(&sb, "    %s: %q\n", k, v)
		}
	}
	return sb.String()
}

// setup gives each test its own state database, source database, storage
// (folder or bucket), receivers and a running River client.
func setup(t *testing.T, o options) *bundle {
	t.Helper()
	b := &bundle{pgURL: testenv.PGURL(t), chat: newRecorder(t), heartbeat: newRecorder(t), logs: &testenv.SyncBuffer{}}
	stateURL := testenv.CreateDB(t, "lbstate_")
	b.stateURL = stateURL
	b.sourceURL = o.sourceURL
	if b.sourceURL == "" {
		b.sourceURL = testenv.CreateDB(t, "lbsrc_")
		testenv.Exec(t, b.sourceURL, testenv.SeedSQL)
	}
	restoreURL := o.restoreURL
	if restoreURL == "" && o.serverMode {
		restoreURL = testenv.RestoreRoleURL(t)
	}
	if o.superuser {
		restoreURL = b.pgURL
	}
	b.serverMode = restoreURL != ""
	b.sandboxDir = testenv.SandboxDir(t)
	restoreYAML := "restore:\n  sandbox_dir: ${SANDBOX_DIR}\n"
	if b.serverMode {
		restoreYAML = "restore:\n  database_url: ${RESTORE_URL}\n"
		if o.superuser {
			restoreYAML += "  allow_superuser: true\n"
		}
	}
	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)

	var storage string
	switch o.storage {
	case storageFS:
		storage = "{name: main, kind: fs, path: ./backups}"
	case storageS3, storageS3TLS:
		s3 := testenv.S3HTTP(t)
		if o.storage == storageS3TLS {
			s3 = testenv.S3TLS(t)
		}
		storage = fmt.Sprintf("{name: main, kind: s3, bucket: %s, prefix: lb/, endpoint: %q, region: %s, access_key_id: %q, secret_access_key: \"${S3_SECRET}\", part_size_mb: 5, ca_file: %q}",
			testenv.RandomName("lb-"), s3.Endpoint, s3.Region, s3.AccessKey, s3.CAFile)
	}
	rowCounts := o.rowCounts
	if rowCounts == "" {
		rowCounts = "exact"
	}
	checks := o.checks
	if checks == "" {
		checks = `      - {name: customers exist, sql: "SELECT count(*) FROM customers", expect: ">= 500"}
      - {name: orders reference customers, sql: "SELECT count(*) FROM orders o LEFT JOIN customers c ON c.id = o.customer_id WHERE c.id IS NULL", expect: "= 0"}`
	}
	yaml := fmt.Sprintf(`database_url: ${STATE_URL}
base_url: http://lifeboat.test
%sencryption:
  age_identity_file: ./age.key
storages:
  - %s
outbound:
  allow: [127.0.0.0/8]
notifiers:
  - {name: chat, kind: slack, url: %q}
  - {name: snitch, kind: heartbeat, url: %q}
targets:
  - name: app
    database_url: ${SOURCE_URL}
    storage: main
    notify: [chat, snitch]
    row_counts: %s
%s    checks:
%s
%s`, restoreYAML, storage, b.chat.URL+"/hooks/chat", b.heartbeat.URL+"/ping", rowCounts, scheduleYAML(o), checks, secondTargetYAML(o))
	env := map[string]string{"STATE_URL": stateURL, "RESTORE_URL": restoreURL, "SOURCE_URL": b.sourceURL, "SANDBOX_DIR": b.sandboxDir,
		"S3_SECRET": os.Getenv("LIFEBOAT_TEST_S3_SECRET_KEY"), "PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	w := lbtest.Wire(t, stateURL, yaml, dir, env, b.logs)
	ctx := context.Background()
	b.cfg, b.store = w.Config, w.Store
	deps := w.Deps
	b.blobs = deps.Stores["main"]
	if o.clock != nil {
		deps.Now = o.clock.Now
	}
	b.deps = deps
	if o.afterStage != nil {
		deps.AfterStage = func(ctx context.Context, runID int64, stage lifeboat.StageName) error {
			return o.afterStage(b, ctx, runID, stage)
		}
	}
	var err error
	b.runner, err = jobs.New(deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	if o.noStart {
		return b
	}
	require.NoError(t, b.runner.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.runner.Stop(sctx)
	})
	return b
}

// runToEnd starts a run of "app" and waits for it to finish.
func (b *bundle) runToEnd(t *testing.T) lifeboat.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	run, err := b.runner.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunQueued, run.Status)
	run, err = b.runner.WaitRun(ctx, run.ID)
	require.NoError(t, err)
	return run
}

func (b *bundle) logText(t *testing.T, runID int64) string {
	t.Helper()
	lines, err := b.store.LogList(context.Background(), runID, 0, 10000)
	require.NoError(t, err)
	var sb strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&sb, "[%s %s] %s\n", l.Stage, l.Level, l.Message)
	}
	return sb.String()
}

// requireScratchGone checks that nothing of run id's restore is left: its
// scratch database (server mode), or its sandbox's directory and postgres.
func (b *bundle) requireScratchGone(t *testing.T, runID int64) {
	t.Helper()
	if b.serverMode {
		ok, err := pgtool.DatabaseExists(context.Background(), b.pgURL, b.scratchName(t, runID))
		require.NoError(t, err)
		require.False(t, ok, "scratch database of run %d must be dropped", runID)
		return
	}
	left, err := filepath.Glob(filepath.Join(b.sandboxDir, "w-*", fmt.Sprintf("r%d-*", runID)))
	require.NoError(t, err)
	require.Empty(t, left, "sandbox of run %d must be removed", runID)
	require.Empty(t, testenv.SandboxPostgres(t, b.sandboxDir, fmt.Sprintf("/r%d-", runID)), "no postgres of run %d's sandbox runs", runID)
}

// scratchName is run id's scratch database name on a restore server.
func (b *bundle) scratchName(t *testing.T, runID int64) string {
	t.Helper()
	inst, err := b.store.InstallationID(context.Background())
	require.NoError(t, err)
	return pgtool.ScratchName(inst, runID)
}

func stageStatus(run lifeboat.Run) map[lifeboat.StageName]lifeboat.StageStatus {
	m := map[lifeboat.StageName]lifeboat.StageStatus{}
	for _, s := range run.Stages {
		m[s.Name] = s.Status
	}
	return m
}
