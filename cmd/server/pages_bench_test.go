package main

// Issue 4's performance goal: the overview costs the same over 1 000 or
// 100 000 runs of history (its queries are bounded by targets × 30 runs),
// and so does the runs page's first page (keyset pagination). Run with the
// test command's services:
//
//	make test ARGS='-run ^$ -bench BenchmarkDashboardPages -benchtime 300x -count 3 ./cmd/server/'
//
// Besides the time per page (which a busy machine inflates), it reports
// the CPU time each page costs lifeboat's process (server and this
// client) and PostgreSQL's backends serving it: the figures to compare
// across history sizes when other work shares the cores.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/benchseed"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

func BenchmarkDashboardPages(b *testing.B) {
	for _, runs := range []int{1_000, 100_000} {
		b.Run(fmt.Sprintf("runs=%d", runs), func(b *testing.B) {
			base, client, cpu := seededDashboard(b, runs)
			for _, p := range []struct{ name, path, testid string }{
				{"overview", "/", `data-testid="targets"`},
				{"runs", "/runs", `data-testid="runs"`},
			} {
				b.Run(p.name, func(b *testing.B) {
					size := 0
					self0, pg0 := cpu.read(b)
					for b.Loop() {
						resp, err := client.Get(base + p.path)
						if err != nil {
							b.Fatal(err)
						}
						body, err := io.ReadAll(resp.Body)
						resp.Body.Close()
						if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(body, []byte(p.testid)) {
							b.Fatalf("GET %s: %d %v\n%.500s", p.path, resp.StatusCode, err, body)
						}
						size = len(body)
					}
					self1, pg1 := cpu.read(b)
					b.ReportMetric(float64(size), "bytes/page")
					b.ReportMetric(float64(self1-self0)/float64(time.Millisecond)/float64(b.N), "lifeboat-cpu-ms/op")
					b.ReportMetric(float64(pg1-pg0)/float64(time.Millisecond)/float64(b.N), "pg-cpu-ms/op")
				})
			}
		})
	}
}

// seededDashboard starts `lifeboat serve --workers=false` over a state
// database seeded with runs runs over ten targets (internal/benchseed) and
// returns its URL, a client signed in to the dashboard and a meter of the
// CPU time spent serving it.
func seededDashboard(b *testing.B, runs int) (string, *http.Client, cpuMeter) {
	b.Helper()
	ctx := context.Background()
	stateURL := testenv.CreateDB(b, "lbbench_")
	dir := b.TempDir()
	id, err := age.GenerateX25519Identity()
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(filepath.Join(dir, "age.key"), []byte(id.String()+"\n"), 0o600))

	var cfg strings.Builder
	fmt.Fprintf(&cfg, "database_url: %q\nrestore:\n  sandbox_dir: %q\nencryption:\n  age_identity_file: ./age.key\n", stateURL, testenv.SandboxDir(b))
	cfg.WriteString("storages:\n  - {name: main, kind: fs, path: ./backups}\ntargets:\n")
	for _, t := range benchseed.TargetNames[:10] {
		// Never connected to: no workers run.
		fmt.Fprintf(&cfg, "  - name: %s\n    database_url: %q\n    schedule: \"0 * * * *\"\n    storage: main\n",
			t, testenv.WithDatabase(b, testenv.PGURL(b), "lbbench_absent_"+t))
	}
	cfgPath := filepath.Join(dir, "lifeboat.yaml")
	require.NoError(b, os.WriteFile(cfgPath, []byte(cfg.String()), 0o600))
	getenv := func(k string) string {
		if k == "PG_BIN_DIR" {
			return os.Getenv(k)
		}
		return ""
	}
	lb := func(args ...string) string {
		var stdout, stderr bytes.Buffer
		require.NoError(b, run(ctx, args, getenv, &stdout, &stderr), "lifeboat %s: %s", args[0], stderr.String())
		return stdout.String()
	}
	lb("migrate", "--config", cfgPath)

	pool, err := pgxpool.New(ctx, stateURL)
	require.NoError(b, err)
	res, err := benchseed.Seed(ctx, pool, benchseed.Options{Runs: runs, NoLogs: true, Targets: 10})
	pool.Close()
	require.NoError(b, err)
	b.Logf("seeded %d runs, %d stages, %d checks in %s", res.Runs, res.Stages, res.Checks, res.Took.Round(time.Millisecond))
	token := strings.TrimSpace(lb("token", "create", "--config", cfgPath, "--name", "bench"))

	sctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	stdout, stderr := &testenv.SyncBuffer{}, &testenv.SyncBuffer{}
	go func() {
		done <- run(sctx, []string{"serve", "--config", cfgPath, "--workers=false", "--listen", "127.0.0.1:0"}, getenv, stdout, stderr)
	}()
	b.Cleanup(func() { cancel(); <-done })
	var base string
	require.Eventually(b, func() bool {
		if m := listening.FindStringSubmatch(stdout.String()); m != nil {
			base = m[1]
		}
		return base != ""
	}, 30*time.Second, 20*time.Millisecond, "serve did not start: %s", stderr.String())

	jar, err := cookiejar.New(nil)
	require.NoError(b, err)
	client := &http.Client{Jar: jar, Timeout: time.Minute}
	resp, err := client.PostForm(base+"/login", url.Values{"secret": {token}})
	require.NoError(b, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode, "sign in: %.500s", body)
	require.Equal(b, "/", resp.Request.URL.Path, "signed in and sent to the overview")

	admin, err := pgx.Connect(ctx, testenv.PGURL(b))
	require.NoError(b, err)
	b.Cleanup(func() { admin.Close(context.Background()) })
	u, err := url.Parse(stateURL)
	require.NoError(b, err)
	return base, client, cpuMeter{admin: admin, db: strings.TrimPrefix(u.Path, "/")}
}

// cpuMeter reads the CPU time (user + system) this process and the
// PostgreSQL backends connected to database db have used so far.
type cpuMeter struct {
	admin *pgx.Conn
	db    string
}

func (m cpuMeter) read(b *testing.B) (self, pg time.Duration) {
	b.Helper()
	var ru syscall.Rusage
	require.NoError(b, syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	rows, err := m.admin.Query(context.Background(), "SELECT pid FROM pg_stat_activity WHERE datname = $1", m.db)
	require.NoError(b, err)
	pids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
	require.NoError(b, err)
	for _, pid := range pids {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue // the backend exited meanwhile
		}
		// Fields after the command's closing parenthesis; utime and stime
		// are the 14th and 15th of the line, in clock ticks (USER_HZ, 100).
		f := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		utime, err1 := strconv.ParseInt(f[11], 10, 64)
		stime, err2 := strconv.ParseInt(f[12], 10, 64)
		require.NoError(b, errors.Join(err1, err2), "/proc/%d/stat", pid)
		pg += time.Duration(utime+stime) * 10 * time.Millisecond
	}
	return self, pg
}
