package main

import (
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// `lifeboat restore` takes the database's URL from the environment or a
// file, so its password need not be in argv; a password given in argv is
// warned about. --help names both ways.
func TestRestoreIntoKeepsThePasswordOutOfArgv(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)
	f.mustRun(t, "run", "--config", cfg, "--target", "app")
	keys := f.objectKeys(t)
	require.Len(t, keys, 1)
	key := keys[0]

	help := f.run(t, "restore", "--help")
	require.Contains(t, help.stderr, "-into-env")
	require.Contains(t, help.stderr, "-into-file")

	fromEnv := testenv.CreateDB(t, "lbinto_")
	u, err := url.Parse(fromEnv)
	require.NoError(t, err)
	pass, ok := u.User.Password()
	require.True(t, ok, "the test's database URLs carry a password")
	f.env["RESTORE_TARGET_URL"] = fromEnv
	r := f.run(t, "restore", "--config", cfg, "--object", key, "--into-env", "RESTORE_TARGET_URL")
	require.NoError(t, r.err, r.stderr)
	require.Contains(t, r.stdout, "restored "+key)
	require.NotContains(t, r.stderr, "warning")
	require.NotContains(t, r.stdout+r.stderr, pass)
	require.EqualValues(t, 500, testenv.QueryInt(t, fromEnv, "SELECT count(*) FROM customers"))

	fromFile := testenv.CreateDB(t, "lbinto_")
	file := filepath.Join(t.TempDir(), "into.url")
	require.NoError(t, os.WriteFile(file, []byte(fromFile+"\n"), 0o600))
	r = f.run(t, "restore", "--config", cfg, "--object", key, "--into-file", file)
	require.NoError(t, r.err, r.stderr)
	require.NotContains(t, r.stderr, "warning")
	require.EqualValues(t, 500, testenv.QueryInt(t, fromFile, "SELECT count(*) FROM customers"))

	// Still accepted in argv, with a warning that names the alternatives.
	inArgv := testenv.CreateDB(t, "lbinto_")
	r = f.run(t, "restore", "--config", cfg, "--object", key, "--into", inArgv)
	require.NoError(t, r.err, r.stderr)
	require.Contains(t, r.stderr, "warning: --into carries a password in argv")
	require.Contains(t, r.stderr, "--into-env")

	r = f.run(t, "restore", "--config", cfg, "--object", key, "--into-env", "NO_SUCH_VARIABLE")
	require.EqualError(t, r.err, "--into-env: environment variable NO_SUCH_VARIABLE is not set or empty")
	r = f.run(t, "restore", "--config", cfg, "--object", key, "--into-env", "RESTORE_TARGET_URL", "--into-file", file)
	require.EqualError(t, r.err, "--into, --into-env and --into-file: give only one")
}

func TestHasPassword(t *testing.T) {
	t.Parallel()
	for conn, want := range map[string]bool{
		"postgres://u:secret@h/db":           true,
		"postgresql://u@h/db?password=x":     true,
		"postgres://u@h/db":                  false,
		"postgres://h/db?sslmode=require":    false,
		"host=h dbname=db password=secret":   true,
		"host=h dbname=db user=u":            false,
		"postgres://u:@h/db":                 true, // empty, but still given
		"postgres:///db?host=/run/pg&user=u": false,
	} {
		require.Equal(t, want, hasPassword(conn), conn)
	}
}
