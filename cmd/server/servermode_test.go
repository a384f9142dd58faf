package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// serverModeConfig is the fixture's config restoring on the test cluster
// (restore.mode: server) as roleURL, with extra restore keys.
func serverModeConfig(t *testing.T, f *fixture, roleURL, extra string) string {
	t.Helper()
	doc := f.config(t, f.stateURL, defaultChecks)
	sandbox := fmt.Sprintf("restore:\n  sandbox_dir: %q\n", testenv.SandboxDir(t))
	require.Contains(t, doc, sandbox)
	return strings.Replace(doc, sandbox, fmt.Sprintf("restore:\n  database_url: %q\n%s", roleURL, extra), 1)
}

// A superuser restore role is refused before anything runs, with the
// reason and the SQL of a safe role; restore.allow_superuser accepts it
// and warns on the run.
func TestServerModeRefusesSuperuser(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", serverModeConfig(t, f, testenv.PGURL(t), ""))
	f.migrate(t, cfg)

	r := f.run(t, "run", "--config", cfg, "--target", "app")
	require.Error(t, r.err)
	require.Contains(t, r.err.Error(), `connects as "postgres", which has SUPERUSER`)
	require.Contains(t, r.err.Error(), "CREATE ROLE lifeboat_restore LOGIN CREATEDB")
	require.Contains(t, r.err.Error(), "restore.allow_superuser")
	require.Zero(t, testenv.QueryInt(t, f.stateURL, "SELECT count(*) FROM runs"), "no run started")

	srv := f.run(t, "serve", "--config", cfg, "--listen", "127.0.0.1:0")
	require.Error(t, srv.err, "serve refuses to start")
	require.Contains(t, srv.err.Error(), "which has SUPERUSER")

	allowed := f.writeConfig(t, "allowed.yaml", serverModeConfig(t, f, testenv.PGURL(t), "  allow_superuser: true\n"))
	out := f.mustRun(t, "run", "--config", allowed, "--target", "app")
	require.Contains(t, out, "succeeded")
	warn := "restore.allow_superuser: restoring as \"postgres\", which has SUPERUSER"
	require.EqualValues(t, 1, testenv.QueryInt(t, f.stateURL,
		"SELECT count(*) FROM run_logs WHERE stage = 'restore' AND level = 'warn' AND message LIKE $1", "%"+warn+"%"),
		"the run's own log warns")
}

// A CREATEDB role restores in server mode; its scratch database carries
// the installation's id and is dropped.
func TestServerModeWithDedicatedRole(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", serverModeConfig(t, f, testenv.RestoreRoleURL(t), ""))
	f.migrate(t, cfg)
	out := f.mustRun(t, "run", "--config", cfg, "--target", "app")
	require.Contains(t, out, "succeeded")
	inst := testenv.QueryString(t, f.stateURL, "SELECT id FROM installation")
	require.Len(t, inst, 8)
	require.EqualValues(t, 1, testenv.QueryInt(t, f.stateURL,
		"SELECT count(*) FROM run_logs WHERE message LIKE $1", "%dropped scratch database lifeboat_scratch_"+inst+"_%"))
	require.EqualValues(t, 1, testenv.QueryInt(t, f.stateURL,
		"SELECT count(*) FROM run_logs WHERE message LIKE 'restore.reader_url is not set%'"), "checks without a reader role warn")
}
