package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

const defaultChecks = `      - {name: customers exist, sql: "SELECT count(*) FROM customers", expect: ">= 500"}`

// fixture is one test's world: its own state database (migrated, with a
// run-id range of its own), a source database owned by a role whose
// password is written into the config file, an age key and fs storage.
type fixture struct {
	dir        string
	stateURL   string
	sourceURL  string
	sourcePass string
	firstRunID int64
	env        map[string]string
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	base := testenv.PGURL(t)
	f := &fixture{
		dir:        t.TempDir(),
		stateURL:   testenv.CreateDB(t, "lbstate_"),
		sourcePass: "src-" + testenv.RandomName("pw"),
		env:        map[string]string{"PG_BIN_DIR": os.Getenv("PG_BIN_DIR")},
	}

	// The source belongs to a role of its own, so its password is one no
	// other part of the setup shares: finding it anywhere is a leak.
	role := testenv.RandomName("lbsrc_role_")
	testenv.Exec(t, base, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, f.sourcePass))
	t.Cleanup(func() { dropRole(t, base, role) }) // runs after the database is dropped
	src := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, base, fmt.Sprintf("ALTER DATABASE %s OWNER TO %s", pgx.Identifier{dbName(t, src)}.Sanitize(), role))
	u, err := url.Parse(src)
	require.NoError(t, err)
	u.User = url.UserPassword(role, f.sourcePass)
	f.sourceURL = u.String()
	testenv.Exec(t, f.sourceURL, testenv.SeedSQL)

	testenv.WriteAgeKey(t, f.dir)
	return f
}

func dropRole(t *testing.T, base, role string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("drop role %s: %v", role, err)
		return
	}
	defer conn.Close(ctx)
	_, _ = conn.Exec(ctx, "DROP OWNED BY "+role)
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+role); err != nil {
		t.Errorf("drop role %s: %v", role, err)
	}
}

func dbName(t *testing.T, rawURL string) string {
	t.Helper()
	u, err := url.Parse(rawURL)
	require.NoError(t, err)
	return strings.TrimPrefix(u.Path, "/")
}

// config returns a config document for state database stateURL with one
// target "app" whose database_url (and its password) is written literally.
func (f *fixture) config(t *testing.T, stateURL, checks string) string {
	t.Helper()
	return fmt.Sprintf(`database_url: %q
restore:
  sandbox_dir: %q
encryption:
  age_identity_file: ./age.key
storages:
  - {name: main, kind: fs, path: ./backups}
targets:
  - name: app
    database_url: %q
    storage: main
    checks:
%s
`, stateURL, testenv.SandboxDir(t), f.sourceURL, checks)
}

// writeConfig writes doc into the fixture's folder and returns its path.
func (f *fixture) writeConfig(t *testing.T, name, doc string) string {
	t.Helper()
	path := filepath.Join(f.dir, name)
	require.NoError(t, os.WriteFile(path, []byte(doc), 0o600))
	return path
}

func (f *fixture) getenv(k string) string { return f.env[k] }

// migrate applies the migrations through the CLI and gives the state
// database a run-id range of its own: tests share one restore server, and
// scratch databases are named lifeboat_scratch_<run id>.
func (f *fixture) migrate(t *testing.T, cfgPath string) {
	t.Helper()
	out := f.mustRun(t, "migrate", "--config", cfgPath)
	require.Contains(t, out, "migrations applied")
	f.firstRunID = testenv.DistinctRunIDs(t, f.stateURL)
}

// result is what one call of run printed and returned.
type result struct {
	stdout, stderr string
	err            error
}

func (f *fixture) run(t *testing.T, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	err := run(ctx, args, f.getenv, &stdout, &stderr)
	return result{stdout: stdout.String(), stderr: stderr.String(), err: err}
}

func (f *fixture) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	r := f.run(t, args...)
	require.NoError(t, r.err, "lifeboat %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.stdout, r.stderr)
	return r.stdout
}

// objectKeys lists the backup objects (not manifests) in the fs storage.
func (f *fixture) objectKeys(t *testing.T) []string {
	t.Helper()
	root := filepath.Join(f.dir, "backups")
	var keys []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".dump.zst.age") {
			return err
		}
		rel, err := filepath.Rel(root, path)
		keys = append(keys, filepath.ToSlash(rel))
		return err
	})
	require.NoError(t, err)
	return keys
}

// userRelations counts the tables, views, sequences and indexes outside
// PostgreSQL's own schemas.
func userRelations(t *testing.T, dbURL string) int64 {
	t.Helper()
	return testenv.QueryInt(t, dbURL, `SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`)
}

func TestRunCommandSucceeds(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)

	r := f.run(t, "run", "--config", cfg, "--target", "app")
	require.NoError(t, r.err, "stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	keys := f.objectKeys(t)
	require.Len(t, keys, 1, "one backup object")
	require.Contains(t, keys[0], fmt.Sprintf("app/%d/", time.Now().UTC().Year()))
	require.True(t, strings.HasSuffix(keys[0], fmt.Sprintf("/%d.dump.zst.age", f.firstRunID)), keys[0])
	require.Contains(t, r.stdout, "succeeded")
	require.Contains(t, r.stdout, keys[0])
	require.Contains(t, r.stdout, fmt.Sprintf("run %d", f.firstRunID))
	for _, stage := range lifeboat.Stages {
		require.Regexp(t, `(?m)^\s+`+string(stage)+`\s+succeeded$`, r.stdout)
	}
	_, err := os.Stat(filepath.Join(f.dir, "backups", keys[0]+".manifest.json"))
	require.NoError(t, err, "the manifest sits beside the object")

	status := testenv.QueryInt(t, f.stateURL, "SELECT count(*) FROM runs WHERE id = $1 AND status = 'succeeded' AND trigger = 'cli'", f.firstRunID)
	require.EqualValues(t, 1, status, "the run is recorded as a succeeded cli run")
	requireNoSecret(t, "stdout", r.stdout, f.sourcePass)
	requireNoSecret(t, "stderr", r.stderr, f.sourcePass)
}

func TestRunCommandFailingCheck(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	checks := defaultChecks + `
      - {name: enough customers, sql: "SELECT count(*) FROM customers", expect: ">= 100000"}`
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, checks))
	f.migrate(t, cfg)

	r := f.run(t, "run", "--config", cfg, "--target", "app")
	require.Error(t, r.err, "stdout:\n%s", r.stdout)
	msg := r.err.Error()
	require.NotContains(t, msg, "\n", "the error is one line: %q", msg)
	require.Contains(t, msg, fmt.Sprintf("run %d", f.firstRunID))
	require.Contains(t, msg, "failed")
	require.Contains(t, msg, "enough customers")
	requireNoSecret(t, "the error", msg, f.sourcePass)
	require.Regexp(t, `(?m)^\s+verify\s+failed$`, r.stdout)
	require.NotContains(t, r.stdout, "succeeded:", "no success line for a failed run")
}

func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	require.Contains(t, f.mustRun(t, "migrate", "--config", cfg), "migrations applied")
	require.Contains(t, f.mustRun(t, "migrate", "--config", cfg), "migrations applied", "migrate is idempotent")
	for _, table := range []string{"runs", "run_stages", "run_logs", "river_job"} {
		require.EqualValues(t, 1, testenv.QueryInt(t, f.stateURL,
			"SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename = $1", table), "table %s", table)
	}

	// Without a config, LIFEBOAT_DATABASE_URL names the state database.
	other := testenv.CreateDB(t, "lbstate_")
	f.env["LIFEBOAT_DATABASE_URL"] = other
	require.Contains(t, f.mustRun(t, "migrate"), "migrations applied")
	require.EqualValues(t, 1, testenv.QueryInt(t, other, "SELECT count(*) FROM pg_tables WHERE tablename = 'runs'"))
}

func TestConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	const password = "Pl4cedInTheConfigPassw0rd"
	source := "postgres://app:" + password + "@127.0.0.1:5432/app"
	doc := func(target string) string {
		return fmt.Sprintf(`database_url: postgres://lifeboat:%[1]s@127.0.0.1:5432/lifeboat
restore:
  database_url: postgres://postgres:%[1]s@127.0.0.1:5432/postgres
encryption:
  age_identity_file: ./age.key
storages:
  - {name: main, kind: fs, path: ./backups}
targets:
  - name: app
    database_url: %[2]q
%[3]s`, password, source, target)
	}
	cases := map[string]struct {
		target string
		path   string
		want   string
	}{
		"unknown key":     {"    storage: main\n    retention_dayz: 7\n", "targets[0].retention_dayz", "unknown key"},
		"missing storage": {"    storage: nowhere\n", "targets[0].storage", "nowhere"},
		"bad schedule":    {"    storage: main\n    schedule: \"0 3 * *\"\n", "targets[0].schedule", "expected 5 cron fields, got 4"},
		"bad expect": {"    storage: main\n    checks:\n      - {name: n, sql: \"SELECT 1\", expect: \"~ 3\"}\n",
			"targets[0].checks[0].expect", ""},
		"bad source URL": {"    storage: main\n", "targets[0].database_url", "postgres://"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := &fixture{dir: t.TempDir(), env: map[string]string{}}
			testenv.WriteAgeKey(t, f.dir)
			d := doc(c.target)
			if name == "bad source URL" {
				d = strings.Replace(d, `"postgres://app:`, `"mysql://app:`, 1)
			}
			cfg := f.writeConfig(t, "lifeboat.yaml", d)
			for _, args := range [][]string{
				{"run", "--config", cfg, "--target", "app"},
				{"serve", "--config", cfg, "--listen", "127.0.0.1:0"},
				{"migrate", "--config", cfg},
			} {
				r := f.run(t, args...)
				require.Error(t, r.err, "lifeboat %s", args[0])
				msg := r.err.Error()
				require.True(t, strings.HasPrefix(msg, c.path+": "), "lifeboat %s: %q", args[0], msg)
				require.NotContains(t, msg, "\n", "one problem, one line: %q", msg)
				require.Contains(t, msg, c.want, "lifeboat %s", args[0])
				requireNoSecret(t, args[0]+" error", msg, password)
				requireNoSecret(t, args[0]+" stdout", r.stdout, password)
				requireNoSecret(t, args[0]+" stderr", r.stderr, password)
			}
		})
	}
}

func TestDisasterRecoveryRestore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// Stored bytes well past one age chunk (64 KiB): a corrupted byte in the
	// middle then arrives long after the dump's table definitions.
	testenv.Exec(t, f.sourceURL, `CREATE TABLE notes (id int PRIMARY KEY, body text NOT NULL);
		INSERT INTO notes SELECT g, md5(g::text || random()::text) || md5(random()::text) FROM generate_series(1, 40000) g;`)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)
	f.mustRun(t, "run", "--config", cfg, "--target", "app")
	keys := f.objectKeys(t)
	require.Len(t, keys, 1)
	key := keys[0]

	// lifeboat's own database is "gone": the recovery config points at a
	// brand-new database that was never migrated.
	emptyState := testenv.CreateDB(t, "lbstate_")
	drCfg := f.writeConfig(t, "recovery.yaml", f.config(t, emptyState, defaultChecks))

	into := testenv.CreateDB(t, "lbinto_")
	res := f.run(t, "restore", "--config", drCfg, "--object", key, "--into", into)
	require.NoError(t, res.err, "stderr:\n%s", res.stderr)
	out := res.stdout
	require.Contains(t, out, "restored "+key)
	require.Contains(t, res.stderr, "restoring as a superuser", "--into as a superuser warns")
	require.Contains(t, out, fmt.Sprintf("run %d of app", f.firstRunID))
	// What was proven here, and what was not: no "verified" for a backup
	// whose run may have failed its checks.
	require.Contains(t, out, "matches the manifest")
	require.Contains(t, out, "not checked:  the target's SQL checks")
	require.NotContains(t, out, "verified)")
	require.EqualValues(t, 0, userRelations(t, emptyState), "restore needs, and writes, no lifeboat state")
	for _, table := range []string{"customers", "orders", "notes"} {
		q := "SELECT count(*) FROM " + table
		require.Equal(t, testenv.QueryInt(t, f.sourceURL, q), testenv.QueryInt(t, into, q), "rows of %s", table)
	}
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customer_totals"), "the view restored")
	require.Equal(t, userRelations(t, f.sourceURL), userRelations(t, into), "every relation restored")

	// A database that already holds tables is refused.
	r := f.run(t, "restore", "--config", drCfg, "--object", key, "--into", into)
	require.Error(t, r.err)
	require.Contains(t, r.err.Error(), "not empty")
	require.Contains(t, r.err.Error(), "add --clean", "the refusal names the flag that overrides it")
	// --clean restores over it: the backup's objects are dropped and recreated.
	testenv.Exec(t, into, "DELETE FROM notes WHERE id > 100")
	out = f.mustRun(t, "restore", "--config", drCfg, "--object", key, "--into", into, "--clean")
	require.Contains(t, out, "restored "+key)
	require.EqualValues(t, 40000, testenv.QueryInt(t, into, "SELECT count(*) FROM notes"))

	// A corrupted object fails the checksum and restores nothing at all,
	// whether pg_restore would run in parallel (the default) or not.
	path := filepath.Join(f.dir, "backups", filepath.FromSlash(key))
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Greater(t, len(raw), 512<<10)
	raw[len(raw)/2] ^= 0x01
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	serialCfg := f.writeConfig(t, "recovery-serial.yaml",
		strings.Replace(f.config(t, emptyState, defaultChecks), "restore:\n", "restore:\n  jobs: 1\n", 1))
	var corruptInto string
	for _, c := range []string{drCfg, serialCfg} {
		corruptInto = testenv.CreateDB(t, "lbinto_")
		r = f.run(t, "restore", "--config", c, "--object", key, "--into", corruptInto)
		require.Error(t, r.err, "%s: stdout:\n%s", filepath.Base(c), r.stdout)
		require.Contains(t, r.err.Error(), "checksum mismatch", filepath.Base(c))
		require.EqualValues(t, 0, userRelations(t, corruptInto), "%s: a corrupted backup must not restore partially", filepath.Base(c))
	}

	// An unknown object is a clear error, not a partial restore either.
	r = f.run(t, "restore", "--config", drCfg, "--object", "app/no/such.dump.zst.age", "--into", corruptInto)
	require.Error(t, r.err)
	require.Contains(t, r.err.Error(), "--object: no backup at app/no/such.dump.zst.age in storage main")
	require.EqualValues(t, 0, userRelations(t, corruptInto))
}

var listening = regexp.MustCompile(`lifeboat listening on (http://\S+)`)

// served is a `lifeboat serve` running inside the test.
type served struct {
	base           string // http://127.0.0.1:PORT
	stdout, stderr *testenv.SyncBuffer
	cancel         context.CancelFunc // stops it, like SIGTERM
	done           chan error         // what run returned
	// client sends a token made with `lifeboat token create`.
	client *http.Client
	token  string
}

// tokenClient creates a token with the CLI and returns a client that sends it.
func tokenClient(t *testing.T, f *fixture, cfg string) (*http.Client, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	require.NoError(t, run(context.Background(), []string{"token", "create", "--config", cfg, "--name", "test " + t.Name()},
		f.getenv, &stdout, &stderr), stderr.String())
	token := strings.TrimSpace(stdout.String())
	require.Regexp(t, `^lbt_[a-z2-7]{8}_[a-z2-7]{52}$`, token)
	return &http.Client{Timeout: 10 * time.Second, Transport: bearerTransport(token)}, token
}

// bearerTransport adds the token to every request.
type bearerTransport string

func (b bearerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+string(b))
	return http.DefaultTransport.RoundTrip(r)
}

// startServe runs `serve --config cfg` on a free port and waits until it
// says where it listens (failing at once if it exits instead).
func startServe(t *testing.T, f *fixture, cfg string) *served {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	s := &served{stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}, cancel: cancel, done: make(chan error, 1)}
	s.client, s.token = tokenClient(t, f, cfg)
	go func() {
		s.done <- run(ctx, []string{"serve", "--config", cfg, "--listen", "127.0.0.1:0"}, f.getenv, s.stdout, s.stderr)
	}()
	require.Eventually(t, func() bool {
		select {
		case err := <-s.done:
			s.done <- err
			return true // fail below with the error
		default:
		}
		m := listening.FindStringSubmatch(s.stdout.String())
		if m != nil {
			s.base = m[1]
		}
		return m != nil
	}, 30*time.Second, 50*time.Millisecond)
	require.NotEmpty(t, s.base, "serve did not start; stderr:\n%s", s.stderr.String())
	return s
}

func TestServeRunsAndShutsDownGracefully(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)
	f.env["LIFEBOAT_DEBUG"] = "1" // the most verbose logs are the likeliest to leak

	srv := startServe(t, f, cfg)
	base, stdout, stderr, cancel, done := srv.base, srv.stdout, srv.stderr, srv.cancel, srv.done

	client := srv.client
	resp, err := client.Post(base+"/api/v1/targets/app/runs", "application/json", nil)
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "body: %s", body)
	location := resp.Header.Get("Location")
	require.Equal(t, fmt.Sprintf("/api/v1/runs/%d", f.firstRunID), location)

	var run lifeboat.Run
	var runBody []byte
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := client.Get(base + location)
		require.NoError(t, err)
		runBody = readAll(t, resp)
		require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", runBody)
		run = lifeboat.Run{}
		require.NoError(t, json.Unmarshal(runBody, &run))
		if run.Status.Finished() || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nstderr:\n%s", run.Error, stderr.String())
	require.NotNil(t, run.Artifact)

	resp, err = client.Get(base + location + "/logs?limit=1000")
	require.NoError(t, err)
	logBody := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var logs struct {
		Lines []lifeboat.LogLine `json:"lines"`
	}
	require.NoError(t, json.Unmarshal(logBody, &logs))
	require.NotEmpty(t, logs.Lines)
	require.Contains(t, string(logBody), "pg_restore finished without errors", "the log is the real one")

	// Graceful shutdown: run returns nil soon after its context ends.
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "stderr:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return within 30s of cancellation")
	}
	_, err = client.Get(base + "/healthz")
	require.Error(t, err, "the listener is closed after shutdown")

	// The source's password shows up nowhere a user can see.
	require.NotEmpty(t, stderr.String(), "the process log was captured")
	for where, text := range map[string]string{
		"stdout": stdout.String(), "stderr": stderr.String(),
		"GET run": string(runBody), "GET logs": string(logBody),
	} {
		requireNoSecret(t, where, text, f.sourcePass)
		requireNoSecret(t, where, text, srv.token)
	}
}

func TestTokenCommands(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)
	srv := startServe(t, f, cfg)
	lb := func(args ...string) (string, error) {
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), append(args, "--config", cfg), f.getenv, &stdout, &stderr)
		return stdout.String() + stderr.String(), err
	}

	resp, err := srv.client.Get(srv.base + "/api/v1/runs")
	require.NoError(t, err)
	readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "the CLI's token works")

	out, err := lb("token", "list")
	require.NoError(t, err)
	require.Contains(t, out, "test TestTokenCommands")
	require.Contains(t, out, srv.token[:len("lbt_")+8], "the list shows the public hint")
	requireNoSecret(t, "token list", out, srv.token)

	_, err = lb("token", "create", "--name", "test TestTokenCommands")
	require.ErrorContains(t, err, "name:", "a second live token with one name")
	_, err = lb("token", "revoke")
	require.ErrorContains(t, err, "exactly one of --id or --name")

	out, err = lb("token", "revoke", "--name", "test TestTokenCommands")
	require.NoError(t, err)
	require.Contains(t, out, "revoked")
	resp, err = srv.client.Get(srv.base + "/api/v1/runs")
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "revoked at once: %s", body)
	_, err = lb("token", "revoke", "--name", "test TestTokenCommands")
	require.ErrorContains(t, err, "no live token")
}

// requireNoSecret fails when text holds secret, without printing either.
func requireNoSecret(t *testing.T, where, text, secret string) {
	t.Helper()
	require.NotEmpty(t, secret)
	if i := strings.Index(text, secret); i >= 0 {
		t.Fatalf("%s leaks the password at byte %d of %d", where, i, len(text))
	}
}

func readAll(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return b
}
