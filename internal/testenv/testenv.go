// Package testenv hands tests the real services started by the README's test
// command (scripts/test.sh): a private PostgreSQL cluster and versitygw, an
// S3-compatible server, over plain HTTP and TLS, and the Chromium binary the
// browser tests drive. A test that needs a service fails, never skips, when
// the environment is missing.
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

const hint = "run the README's test command (make test), which starts PostgreSQL and versitygw, installs Chromium and sets LIFEBOAT_TEST_*"

func mustEnv(t testing.TB, name string) string {
	t.Helper()
	v := os.Getenv(name)
	if v == "" {
		t.Fatalf("%s is not set: %s", name, hint)
	}
	return v
}

// PGURL returns the superuser URL of the test cluster's "postgres" database.
func PGURL(t testing.TB) string { return mustEnv(t, "LIFEBOAT_TEST_PG_URL") }

// Chromium returns the path of the Chromium binary that browser tests
// drive headless (Debian's chromium, installed by the test command).
func Chromium(t testing.TB) string { return mustEnv(t, "LIFEBOAT_TEST_CHROMIUM") }

// S3 describes one endpoint of the test S3 server.
type S3 struct {
	Endpoint  string // http://… or https://…
	CAFile    string // set for the TLS endpoint
	AccessKey string
	SecretKey string
	Region    string
}

// S3HTTP returns the plain-HTTP endpoint of the test S3 server.
func S3HTTP(t testing.TB) S3 {
	t.Helper()
	return S3{
		Endpoint:  mustEnv(t, "LIFEBOAT_TEST_S3_ENDPOINT"),
		AccessKey: mustEnv(t, "LIFEBOAT_TEST_S3_ACCESS_KEY"),
		SecretKey: mustEnv(t, "LIFEBOAT_TEST_S3_SECRET_KEY"),
		Region:    "us-east-1",
	}
}

// S3TLS returns the HTTPS endpoint (self-signed certificate in CAFile).
func S3TLS(t testing.TB) S3 {
	t.Helper()
	s := S3HTTP(t)
	s.Endpoint = mustEnv(t, "LIFEBOAT_TEST_S3_TLS_ENDPOINT")
	s.CAFile = mustEnv(t, "LIFEBOAT_TEST_S3_CA_FILE")
	return s
}

// RandomName returns prefix followed by 12 random hex characters, usable as
// a database, bucket or key name.
func RandomName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// CreateDB creates a fresh database on the test cluster, drops it (with
// FORCE) when the test ends, and returns its superuser URL.
func CreateDB(t testing.TB, prefix string) string {
	t.Helper()
	base := PGURL(t)
	name := RandomName(prefix)
	Exec(t, base, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("cleanup connect: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Errorf("cleanup drop %s: %v", name, err)
		}
	})
	return WithDatabase(t, base, name)
}

// WithDatabase returns u with its database name replaced.
func WithDatabase(t testing.TB, u, db string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatalf("parse %q: %v", u, err)
	}
	p.Path = "/" + db
	return p.String()
}

// Exec runs sql (possibly several statements) on the database at u.
func Exec(t testing.TB, u, sql string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		t.Fatalf("exec %.80q: %v", sql, err)
	}
}

// QueryInt runs a query returning one integer.
func QueryInt(t testing.TB, u, sql string, args ...any) int64 {
	t.Helper()
	return queryOne[int64](t, u, sql, args...)
}

// QueryString runs a query returning one text value.
func QueryString(t testing.TB, u, sql string, args ...any) string {
	t.Helper()
	return queryOne[string](t, u, sql, args...)
}

func queryOne[T any](t testing.TB, u, sql string, args ...any) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var v T
	conn, err := pgx.Connect(ctx, u)
	if err != nil {
		t.Fatalf("connect: %v", err)
		return v
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql, args...).Scan(&v); err != nil {
		t.Fatalf("query %.80q: %v", sql, err)
	}
	return v
}

// SandboxDir returns the directory the test command made for sandboxes
// (reachable by the postgres user when tests run as root). Sandbox
// templates there are shared by every test process.
func SandboxDir(t testing.TB) string { return mustEnv(t, "LIFEBOAT_TEST_SANDBOX_DIR") }

// RestoreRoleURL creates a login role with CREATEDB and nothing more on the
// test cluster — what restore.mode: server wants — drops it (and what it
// owns) when the test ends, and returns its URL to the "postgres" database.
func RestoreRoleURL(t testing.TB) string {
	t.Helper()
	base := PGURL(t)
	role := RandomName("lbrestore_")
	Exec(t, base, "CREATE ROLE "+role+" LOGIN CREATEDB PASSWORD 'restorepw'")
	t.Cleanup(func() { DropRole(t, base, role) })
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %q: %v", base, err)
	}
	u.User = url.UserPassword(role, "restorepw")
	return u.String()
}

// DropRole drops role and every database and object it owns.
func DropRole(t testing.TB, base, role string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Errorf("drop role: %v", err)
		return
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = $1)", role)
	if err == nil {
		dbs, _ := pgx.CollectRows(rows, pgx.RowTo[string])
		for _, db := range dbs {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{db}.Sanitize()+" WITH (FORCE)")
		}
	}
	_, _ = conn.Exec(ctx, "DROP OWNED BY "+pgx.Identifier{role}.Sanitize())
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+pgx.Identifier{role}.Sanitize()); err != nil {
		t.Errorf("drop role %s: %v", role, err)
	}
}

// SandboxPostgres lists the processes (postmasters and backends: every
// postgres process works in its data directory) whose working directory
// lies under dir and contains part ("" for all).
func SandboxPostgres(t testing.TB, dir, part string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cwd")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range procs {
		cwd, err := os.Readlink(p)
		if err != nil || !strings.HasPrefix(cwd, dir+"/") || !strings.Contains(cwd, part) {
			continue
		}
		cmd, _ := os.ReadFile(filepath.Join(filepath.Dir(p), "cmdline"))
		out = append(out, filepath.Base(filepath.Dir(p))+" "+strings.TrimSpace(strings.ReplaceAll(string(cmd), "\x00", " "))+" in "+cwd)
	}
	return out
}

// Processes lists the running processes whose program is called name and
// whose command line contains any of parts, each as its arguments joined
// by spaces.
func Processes(t testing.TB, name string, parts ...string) []string {
	t.Helper()
	procs, err := filepath.Glob("/proc/[0-9]*/cmdline")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range procs {
		raw, err := os.ReadFile(p)
		if err != nil || len(raw) == 0 {
			continue // gone meanwhile, or a kernel thread
		}
		args := strings.Split(strings.TrimRight(string(raw), "\x00"), "\x00")
		if filepath.Base(args[0]) != name {
			continue
		}
		for _, part := range parts {
			if strings.Contains(string(raw), part) {
				out = append(out, strings.Join(args, " "))
				break
			}
		}
	}
	return out
}
