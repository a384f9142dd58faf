package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// markerPath is a file only a program run by PostgreSQL's OS user could
// create: it must never exist.
func markerPath(t *testing.T) string {
	t.Helper()
	p := filepath.Join("/tmp", testenv.RandomName("lb-escaped-"))
	t.Cleanup(func() { os.Remove(p) })
	return p
}

// TestHostileSourceStaysInTheSandbox: a non-superuser source owner's
// function, called by a CHECK constraint and an index expression, tries to
// run a program as the server's OS user and to make roles superusers. Run
// in a sandbox, it runs as the restore role, and nothing escapes.
func TestHostileSourceStaysInTheSandbox(t *testing.T) {
	t.Parallel()
	base := testenv.PGURL(t)
	owner := testenv.RandomName("lbhostile_")
	testenv.Exec(t, base, "CREATE ROLE "+owner+" LOGIN PASSWORD 'hostilepw'")
	t.Cleanup(func() { testenv.DropRole(t, base, owner) })
	src := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, src, "GRANT CREATE ON SCHEMA public TO "+owner)
	marker := markerPath(t)
	ownerURL := withUser(t, src, owner, "hostilepw")
	testenv.Exec(t, ownerURL, fmt.Sprintf(`
CREATE FUNCTION hostile(v int) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $f$
BEGIN
	BEGIN EXECUTE format('COPY (SELECT 1) TO PROGRAM %%L', 'touch %s'); EXCEPTION WHEN OTHERS THEN NULL; END;
	BEGIN EXECUTE format('ALTER ROLE %%I SUPERUSER', '%s'); EXCEPTION WHEN OTHERS THEN NULL; END;
	BEGIN EXECUTE format('ALTER ROLE %%I SUPERUSER', current_user); EXCEPTION WHEN OTHERS THEN NULL; END;
	RETURN true;
END $f$;
CREATE TABLE victims (id int PRIMARY KEY, CHECK (hostile(id)));
CREATE INDEX victims_expr ON victims ((hostile(id)));
INSERT INTO victims SELECT generate_series(1, 5);`, marker, owner))
	require.NoFileExists(t, marker, "the source owner alone cannot run programs")

	b := setup(t, options{sourceURL: src, checks: `      - {name: victims restored, sql: "SELECT count(*) FROM victims", expect: "= 5"}`})
	run := b.runToEnd(t)
	logs := b.logText(t, run.ID)
	// Whatever the outcome, nothing escaped.
	require.NoFileExists(t, marker, "a dump's function ran a program on the host; logs:\n%s", logs)
	require.Equal(t, int64(0), testenv.QueryInt(t, base, "SELECT count(*) FROM pg_roles WHERE rolname = $1 AND rolsuper", owner),
		"the source owner became a superuser")
	// And the backup proved itself: the functions run, unprivileged.
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nlogs:\n%s", run.Error, logs)
	require.Contains(t, logs, "started a sandbox")
	require.Contains(t, logs, "pg_restore connects as lifeboat_restore")
	b.requireScratchGone(t, run.ID)
}

func withUser(t *testing.T, u, user, password string) string {
	t.Helper()
	i := strings.Index(u, "://")
	j := strings.Index(u, "@")
	require.True(t, i > 0 && j > i, "URL with credentials")
	return u[:i+3] + user + ":" + password + u[j:]
}

// TestHostileChecksAreRefused: a check is user SQL and runs as the
// sandbox's read-only reader. Programs, server files and directory
// listings are refused with PostgreSQL's permission error, and no file
// content reaches the run's log, record or chat.
func TestHostileChecksAreRefused(t *testing.T) {
	t.Parallel()
	marker := markerPath(t)
	secret := filepath.Join("/tmp", testenv.RandomName("lb-secret-"))
	secretText := testenv.RandomName("topsecret_")
	require.NoError(t, os.WriteFile(secret, []byte(secretText), 0o644))
	t.Cleanup(func() { os.Remove(secret) })
	checks := fmt.Sprintf(`      - {name: program, sql: "COPY (SELECT 1) TO PROGRAM 'touch %s'", expect: "= 1"}
      - {name: read file, sql: "SELECT pg_read_file('%s')", expect: non-empty}
      - {name: large object, sql: "SELECT lo_import('%s')", expect: ">= 0"}
      - {name: list dir, sql: "SELECT count(*) FROM pg_ls_dir('/tmp')", expect: ">= 0"}
      - {name: customers exist, sql: "SELECT count(*) FROM customers", expect: ">= 500"}`, marker, secret, secret)
	b := setup(t, options{checks: checks})
	run := b.runToEnd(t)
	logs := b.logText(t, run.ID)
	require.Equal(t, lifeboat.RunFailed, run.Status, "logs:\n%s", logs)
	require.Equal(t, lifeboat.StageFailed, stageStatus(run)[lifeboat.StageVerify])
	require.NoFileExists(t, marker)

	byName := map[string]lifeboat.CheckResult{}
	for _, c := range run.Checks {
		byName[c.Name] = c
	}
	for _, name := range []string{"program", "read file", "large object", "list dir"} {
		c, ok := byName[name]
		require.True(t, ok, "check %q recorded", name)
		require.False(t, c.Passed, name)
		require.Contains(t, c.Observed, "SQLSTATE 42501", "check %q: PostgreSQL's permission error", name)
	}
	require.True(t, byName["customers exist"].Passed, "the reader reads the data")

	record, err := json.Marshal(run)
	require.NoError(t, err)
	require.NotContains(t, string(record), secretText)
	require.NotContains(t, logs, secretText)
	require.NotContains(t, strings.Join(b.chat.received(), "\n"), secretText)
	b.requireScratchGone(t, run.ID)
}

// TestRowLevelSecurityCountsExactly: a table that forces row-level
// security with a policy hiding every row still counts every row: the
// reader role bypasses RLS, and the run verifies.
func TestRowLevelSecurityCountsExactly(t *testing.T) {
	t.Parallel()
	src := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, src, testenv.SeedSQL+`
CREATE TABLE secrets (id int PRIMARY KEY, owner text NOT NULL);
INSERT INTO secrets SELECT g, 'u' || g FROM generate_series(1, 77) g;
ALTER TABLE secrets ENABLE ROW LEVEL SECURITY;
ALTER TABLE secrets FORCE ROW LEVEL SECURITY;
CREATE POLICY nobody ON secrets AS RESTRICTIVE USING (false);`)
	b := setup(t, options{sourceURL: src, checks: `      - {name: secrets counted, sql: "SELECT count(*) FROM secrets", expect: "= 77"}`})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nlogs:\n%s", run.Error, b.logText(t, run.ID))
	var found bool
	for _, c := range run.Checks {
		if c.Name == "rows public.secrets" {
			found = true
			require.True(t, c.Passed)
			require.Equal(t, "77", c.Observed)
		}
	}
	require.True(t, found, "built-in row count of public.secrets: %+v", run.Checks)
}

// TestTwoRunsAtOnceUseTwoSandboxes: two targets' runs restore at the same
// time in one process, each in a sandbox of its own, and both verify.
func TestTwoRunsAtOnceUseTwoSandboxes(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	arrived := map[int64]bool{}
	both := make(chan struct{})
	seen := map[int64][]string{}
	b := setup(t, options{secondTarget: true, afterStage: func(b *bundle, ctx context.Context, runID int64, stage lifeboat.StageName) error {
		if stage != lifeboat.StageRestore {
			return nil
		}
		mu.Lock()
		arrived[runID] = true
		if len(arrived) == 2 {
			close(both)
		}
		mu.Unlock()
		select { // wait until the other run has restored too
		case <-both:
		case <-time.After(2 * time.Minute):
			return fmt.Errorf("the other run never restored")
		}
		dirs, err := filepath.Glob(filepath.Join(b.sandboxDir, "w-*", "r*-*"))
		mu.Lock()
		seen[runID] = dirs
		mu.Unlock()
		return err
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	r1, err := b.runner.StartRun(ctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	r2, err := b.runner.StartRun(ctx, "app2", lifeboat.TriggerAPI)
	require.NoError(t, err)
	for _, id := range []int64{r1.ID, r2.ID} {
		run, err := b.runner.WaitRun(ctx, id)
		require.NoError(t, err)
		require.Equal(t, lifeboat.RunSucceeded, run.Status, "run %d: %s\nlogs:\n%s", id, run.Error, b.logText(t, id))
		b.requireScratchGone(t, id)
	}
	for _, id := range []int64{r1.ID, r2.ID} {
		var mine []string
		for _, d := range seen[id] {
			if strings.Contains(filepath.Base(d), fmt.Sprintf("r%d-", r1.ID)) || strings.Contains(filepath.Base(d), fmt.Sprintf("r%d-", r2.ID)) {
				mine = append(mine, d)
			}
		}
		require.Len(t, mine, 2, "run %d saw both runs' sandboxes at once: %v", id, seen[id])
	}
}

// TestTrustedExtensionRestoresInTheSandbox: a trusted extension (pgcrypto)
// is created by the restore role, which owns the scratch database, so a
// dump that uses one restores and verifies.
func TestTrustedExtensionRestoresInTheSandbox(t *testing.T) {
	t.Parallel()
	src := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, src, testenv.SeedSQL+`
CREATE EXTENSION pgcrypto;
CREATE TABLE tokens (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), digest bytea NOT NULL);
INSERT INTO tokens (digest) SELECT digest('t' || g, 'sha256') FROM generate_series(1, 20) g;`)
	b := setup(t, options{sourceURL: src, checks: `      - {name: digests, sql: "SELECT count(*) FROM tokens WHERE digest = digest('t1', 'sha256')", expect: "= 1"}`})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nlogs:\n%s", run.Error, b.logText(t, run.ID))
}
