package main

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// slowRestoreSQL makes a restore take minutes while the dump takes no time:
// the CHECK constraint's function sleeps only when the sandbox's restore
// role loads the rows.
const slowRestoreSQL = `
CREATE FUNCTION slow_check(v int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
	IF current_user = 'lifeboat_restore' THEN PERFORM pg_sleep(0.05); END IF;
	RETURN true;
END $f$;
CREATE TABLE slow (id int PRIMARY KEY, CHECK (slow_check(id)));
INSERT INTO slow SELECT generate_series(1, 3000);`

// kill -9 of lifeboat mid-restore: its sandbox's postgres, pg_restore and
// spool die or are removed, and the next process fails the run with the
// reason within seconds, not after the stage timeout.
func TestKill9MidRestoreLeavesNothing(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	testenv.Exec(t, f.sourceURL, slowRestoreSQL)
	cfg, sandboxDir, spoolDir := crashConfig(t, f, defaultChecks)

	p := startProcess(t, f, "run", "--config", cfg, "--target", "app")
	id := f.firstRunID
	require.Eventually(t, func() bool {
		return testenv.QueryInt(t, f.stateURL, "SELECT count(*) FROM run_stages WHERE run_id = $1 AND stage = 'restore' AND status = 'running'", id) == 1 &&
			len(pgRestoresUnder(t, sandboxDir)) > 0 && len(testenv.SandboxPostgres(t, sandboxDir, "")) > 1
	}, 2*time.Minute, 50*time.Millisecond, "restore runs in the sandbox; stderr:\n%s", p.stderr.String())
	spools, _ := filepath.Glob(filepath.Join(spoolDir, "lifeboat-spool-*", "*"))
	require.NotEmpty(t, spools, "the dump is spooled for pg_restore -j")

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	killed := time.Now()

	// Children die with lifeboat (parent-death signal), even before anyone
	// cleans up.
	require.Eventually(t, func() bool { return len(pgRestoresUnder(t, sandboxDir)) == 0 },
		30*time.Second, 50*time.Millisecond, "pg_restore died with lifeboat: %v", pgRestoresUnder(t, sandboxDir))
	require.Eventually(t, func() bool { return len(testenv.SandboxPostgres(t, sandboxDir, "")) == 0 },
		30*time.Second, 50*time.Millisecond, "the sandbox's postgres died with lifeboat: %v", testenv.SandboxPostgres(t, sandboxDir, ""))

	next := startProcess(t, f, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	waitRunStatus(t, f.stateURL, id, "failed")
	t.Logf("run failed %s after the kill", time.Since(killed).Round(time.Second))
	require.Less(t, time.Since(killed), 2*time.Minute)
	reason := testenv.QueryString(t, f.stateURL, "SELECT error FROM runs WHERE id = $1", id)
	require.Contains(t, reason, "stopped answering")

	// Nothing of the dead process is left: sandbox directories, spools.
	left, _ := filepath.Glob(filepath.Join(sandboxDir, "w-*", "r*"))
	require.Empty(t, left, "no sandbox directory is left")
	spools, _ = filepath.Glob(filepath.Join(spoolDir, "lifeboat-spool-*", "*"))
	require.Empty(t, spools, "no spool file is left")
	require.Empty(t, testenv.SandboxPostgres(t, sandboxDir, ""))
	next.terminate(t)
	require.NoError(t, next.wait(t, time.Minute))
	dirs, _ := filepath.Glob(filepath.Join(sandboxDir, "w-*"))
	require.Empty(t, dirs, "a clean stop removes its own work directory")
}

// crashConfig writes and migrates the fixture's config with checks and a
// sandbox and spool directory of the test's own, which it returns: what a
// killed process leaves there is this test's alone.
func crashConfig(t *testing.T, f *fixture, checks string) (cfg, sandboxDir, spoolDir string) {
	t.Helper()
	sandboxDir = filepath.Join(testenv.SandboxDir(t), testenv.RandomName("kill9-"))
	require.NoError(t, os.Mkdir(sandboxDir, 0o711))
	spoolDir = t.TempDir()
	doc := f.config(t, f.stateURL, checks)
	doc = strings.Replace(doc, "restore:\n  sandbox_dir: "+quoteYAML(testenv.SandboxDir(t)),
		"restore:\n  sandbox_dir: "+quoteYAML(sandboxDir)+"\n  spool_dir: "+quoteYAML(spoolDir), 1)
	require.Contains(t, doc, sandboxDir)
	cfg = f.writeConfig(t, "lifeboat.yaml", doc)
	f.migrate(t, cfg)
	return cfg, sandboxDir, spoolDir
}

func quoteYAML(s string) string { return `"` + s + `"` }

// pgRestoresUnder lists the pg_restore processes restoring into a sandbox
// under dir (their connection names its socket directory, URL-escaped).
func pgRestoresUnder(t *testing.T, dir string) []string {
	t.Helper()
	return testenv.Processes(t, "pg_restore", dir, url.QueryEscape(dir))
}
