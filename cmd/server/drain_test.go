package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// asMainEnv makes the test binary run as lifeboat itself (startProcess):
// the real main, its real signal handling, in a process of its own.
const asMainEnv = "LIFEBOAT_TEST_AS_MAIN"

func init() {
	if os.Getenv(asMainEnv) == "1" {
		main()
		os.Exit(0)
	}
}

// process is a real `lifeboat` process started by a test.
type process struct {
	cmd            *exec.Cmd
	stdout, stderr *testenv.SyncBuffer
	base           string
	done           chan struct{} // closed when it has exited
	err            error         // its exit, once done
}

// startProcess runs `lifeboat args...` as a process of its own with the
// fixture's environment and, for serve, waits until it listens.
func startProcess(t *testing.T, f *fixture, args ...string) *process {
	t.Helper()
	p := &process{stdout: &testenv.SyncBuffer{}, stderr: &testenv.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], args...)
	p.cmd.Env = append(os.Environ(), asMainEnv+"=1")
	for k, v := range f.env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	require.NoError(t, p.cmd.Start())
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s stderr:\n%s", args[0], p.stderr.String())
		}
	})
	if args[0] != "serve" {
		return p
	}
	require.Eventually(t, func() bool {
		if m := listening.FindStringSubmatch(p.stdout.String()); m != nil {
			p.base = m[1]
			return true
		}
		return p.exited() // fails below
	}, time.Minute, 20*time.Millisecond)
	require.NotEmpty(t, p.base, "lifeboat %s exited: %v\nstderr:\n%s", strings.Join(args, " "), p.err, p.stderr.String())
	return p
}

// exited says whether the process has exited.
func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// terminate sends SIGTERM, as Kubernetes or systemd does on a deploy.
func (p *process) terminate(t *testing.T) {
	t.Helper()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
}

// wait waits up to limit for the process to exit and returns its exit error.
func (p *process) wait(t *testing.T, limit time.Duration) error {
	t.Helper()
	select {
	case <-p.done:
		return p.err
	case <-time.After(limit):
		t.Fatalf("lifeboat did not exit within %s; stderr:\n%s", limit, p.stderr.String())
		return nil
	}
}

// drainFixture is a migrated fixture whose target waits up to 10 minutes
// for a table lock, and a session holding ACCESS EXCLUSIVE on customers:
// a backup started now is a stage that runs until the test lets it go.
func drainFixture(t *testing.T) (*fixture, string, *testenv.HeldLock) {
	t.Helper()
	f := newFixture(t)
	doc := f.config(t, f.stateURL, defaultChecks)
	doc = strings.Replace(doc, "    storage: main\n", "    storage: main\n    lock_timeout: 10m\n", 1)
	cfg := f.writeConfig(t, "lifeboat.yaml", doc)
	f.migrate(t, cfg)
	return f, cfg, testenv.HoldLock(t, f.sourceURL, "customers", "held-lock-test")
}

// startBlockedRun starts a run of app through p's API and waits until its
// pg_dump waits for the held lock.
func startBlockedRun(t *testing.T, f *fixture, cfg string, p *process) int64 {
	t.Helper()
	client, _ := tokenClient(t, f, cfg)
	resp, err := client.Post(p.base+"/api/v1/targets/app/runs", "application/json", nil)
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "body: %s", body)
	var id int64
	_, err = fmt.Sscanf(resp.Header.Get("Location"), "/api/v1/runs/%d", &id)
	require.NoError(t, err)
	dumpWaits := `SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
		AND wait_event_type = 'Lock' AND query ILIKE 'LOCK TABLE%'`
	require.Eventually(t, func() bool { return testenv.QueryInt(t, f.sourceURL, dumpWaits) > 0 },
		time.Minute, 20*time.Millisecond, "pg_dump waits for the held lock")
	return id
}

// stageState is a stage's status and attempt, and its River job's state
// and attempt.
type stageState struct {
	Status, JobState string
	Attempt, JobTry  int
}

func stageOf(t *testing.T, stateURL string, runID int64, stage string) stageState {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, stateURL)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var s stageState
	require.NoError(t, conn.QueryRow(ctx, `SELECT s.status, s.attempt, coalesce(j.state::text, ''), coalesce(j.attempt, 0)
		FROM run_stages s LEFT JOIN river_job j ON j.kind = 'lifeboat.' || s.stage AND (j.args->>'run_id')::bigint = s.run_id
		WHERE s.run_id = $1 AND s.stage = $2`, runID, stage).Scan(&s.Status, &s.Attempt, &s.JobState, &s.JobTry))
	return s
}

// waitRunStatus polls the state database until run id has status.
func waitRunStatus(t *testing.T, stateURL string, id int64, status string) {
	t.Helper()
	require.Eventually(t, func() bool {
		return testenv.QueryInt(t, stateURL, "SELECT count(*) FROM runs WHERE id = $1 AND status = $2 AND finished_at IS NOT NULL", id, status) == 1
	}, 3*time.Minute, 100*time.Millisecond, "run %d never became %s", id, status)
}

// SIGTERM drains: the process stops taking stages but lets the running one
// finish (here: once the lock it waits for is released), then exits; the
// next stage waits, untouched, for another process, which ends the run.
func TestSIGTERMLetsRunningStageFinish(t *testing.T) {
	t.Parallel()
	f, cfg, held := drainFixture(t)
	p := startProcess(t, f, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--drain-timeout", "5m")
	id := startBlockedRun(t, f, cfg, p)

	start := time.Now()
	p.terminate(t)
	require.Eventually(t, func() bool { return strings.Contains(p.stderr.String(), "draining stage workers") },
		30*time.Second, 20*time.Millisecond, "SIGTERM starts a drain")
	require.False(t, p.exited(), "the process waits for its running stage; stderr:\n%s", p.stderr.String())
	require.Equal(t, "running", stageOf(t, f.stateURL, id, "backup").Status, "the stage was not canceled")

	held.Release()
	require.NoError(t, p.wait(t, 2*time.Minute), "a drained process exits cleanly")
	t.Logf("drained in %s after SIGTERM", time.Since(start).Round(time.Millisecond))
	backup := stageOf(t, f.stateURL, id, "backup")
	require.Equal(t, stageState{Status: "succeeded", Attempt: 1, JobState: "completed", JobTry: 1}, backup)
	restore := stageOf(t, f.stateURL, id, "restore")
	require.Equal(t, "pending", restore.Status, "no new stage starts in a draining process")
	require.Equal(t, "available", restore.JobState)
	require.Contains(t, p.stderr.String(), "stage workers stopped")

	next := startProcess(t, f, "worker", "--config", cfg)
	waitRunStatus(t, f.stateURL, id, "succeeded")
	next.terminate(t)
	require.NoError(t, next.wait(t, time.Minute))
}

// A stage still running when the drain timeout ends is canceled: its
// pg_dump is killed, its server session ended, and the job handed back
// without spending an attempt; the next process runs it again and the run
// verifies.
func TestSIGTERMHandsBackStageAfterDrainTimeout(t *testing.T) {
	t.Parallel()
	f, cfg, held := drainFixture(t)
	p := startProcess(t, f, "serve", "--config", cfg, "--listen", "127.0.0.1:0", "--drain-timeout", "1s")
	id := startBlockedRun(t, f, cfg, p)

	start := time.Now()
	p.terminate(t)
	require.NoError(t, p.wait(t, time.Minute), "the process exits cleanly after its drain timeout")
	took := time.Since(start)
	t.Logf("exited %s after SIGTERM with a 1s drain timeout", took.Round(time.Millisecond))
	require.GreaterOrEqual(t, took, time.Second, "the stage had its drain timeout")

	backup := stageOf(t, f.stateURL, id, "backup")
	require.Equal(t, "running", backup.Status, "not failed: handed back")
	require.Equal(t, 1, backup.Attempt)
	require.Contains(t, []string{"scheduled", "available"}, backup.JobState, "the job waits for another process")
	require.Equal(t, 0, backup.JobTry, "the canceled attempt was not spent")
	require.Equal(t, int64(0), testenv.QueryInt(t, f.stateURL, "SELECT count(*) FROM runs WHERE id = $1 AND status IN ('failed', 'canceled')", id))
	require.Eventually(t, func() bool {
		return testenv.QueryInt(t, f.sourceURL, `SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND pid <> pg_backend_pid() AND pid <> $1`, held.PID) == 0
	}, 20*time.Second, 50*time.Millisecond, "no session of the canceled stage is left on the source")

	held.Release()
	next := startProcess(t, f, "worker", "--config", cfg)
	waitRunStatus(t, f.stateURL, id, "succeeded")
	backup = stageOf(t, f.stateURL, id, "backup")
	require.Equal(t, stageState{Status: "succeeded", Attempt: 1, JobState: "completed", JobTry: 1}, backup,
		"done again on the next process as the same attempt")
	next.terminate(t)
	err := next.wait(t, time.Minute)
	var exit *exec.ExitError
	require.False(t, errors.As(err, &exit), "exit: %v", err)
}
