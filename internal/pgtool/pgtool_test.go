package pgtool_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

func TestConnArgsKeepsPasswordOutOfArgv(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"postgres://app:s3cr3t-pw@db.example:5433/shop?sslmode=require",
		"postgresql://app@db.example/shop?password=s3cr3t-pw&sslmode=disable",
	} {
		dbname, env, err := pgtool.ConnArgs(in)
		require.NoError(t, err)
		require.NotContains(t, dbname, "s3cr3t-pw")
		require.Contains(t, dbname, "db.example")
		require.Contains(t, dbname, "/shop")
		require.Contains(t, env, "PGPASSWORD=s3cr3t-pw")
	}
	_, _, err := pgtool.ConnArgs("host=db password=s3cr3t-pw")
	require.Error(t, err)
	require.NotContains(t, err.Error(), "s3cr3t-pw")
}

func TestRedact(t *testing.T) {
	t.Parallel()
	got := pgtool.Redact("postgres://app:s3cr3t-pw@db/shop?password=other-secret")
	require.NotContains(t, got, "s3cr3t-pw")
	require.NotContains(t, got, "other-secret")
	require.Contains(t, got, "db/shop")
}

func TestFindRefusesOlderTools(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string { return os.Getenv(k) }
	b, err := pgtool.Find(context.Background(), "pg_dump", 10, getenv)
	require.NoError(t, err)
	require.GreaterOrEqual(t, b.Major, 10)

	// No installed pg_dump is new enough for a (future) PostgreSQL 99 server:
	// the error names both versions.
	_, err = pgtool.Find(context.Background(), "pg_dump", 99, getenv)
	require.Error(t, err)
	require.Contains(t, err.Error(), "major version 99")
	require.Contains(t, err.Error(), b.Version)
}

func TestFindPrefersPGBinDir(t *testing.T) {
	t.Parallel()
	// A PG_BIN_DIR tool wins when new enough; here a wrapper reporting a
	// version, as a distribution's newer client would.
	dir := t.TempDir()
	script := "#!/bin/sh\necho 'pg_dump (PostgreSQL) 42.1'\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "pg_dump"), []byte(script), 0o755))
	b, err := pgtool.Find(context.Background(), "pg_dump", 15, func(k string) string {
		if k == "PG_BIN_DIR" {
			return dir
		}
		return ""
	})
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "pg_dump"), b.Path)
	require.Equal(t, "42.1", b.Version)
}

func TestRunCapturesStderrAndFailsOnError(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	ctx := context.Background()
	bin, err := pgtool.Find(ctx, "pg_dump", 10, os.Getenv)
	require.NoError(t, err)
	url := testenv.WithDatabase(t, testenv.PGURL(t), "no_such_database_here")
	err = pgtool.Dump(ctx, pgtool.DumpOptions{Bin: bin, URL: url, Out: &bytes.Buffer{}, Log: log})
	require.Error(t, err)
	require.Contains(t, err.Error(), "pg_dump exited with status 1")
	require.Contains(t, err.Error(), "no_such_database_here")
	require.Contains(t, logs.String(), "no_such_database_here", "stderr lines reach the log")
}

func TestConnectMarksBadPasswordPermanent(t *testing.T) {
	t.Parallel()
	u, err := url.Parse(testenv.PGURL(t))
	require.NoError(t, err)
	u.User = url.UserPassword(u.User.Username(), "definitely-wrong")
	_, err = pgtool.Connect(context.Background(), u.String())
	require.Error(t, err)
	require.True(t, lifeboat.IsPermanent(err), "bad credentials are not retried: %v", err)
}

func TestScratchDatabaseLifecycle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	base := testenv.PGURL(t)
	name := testenv.RandomName("lifeboat_scratch_t")
	require.NoError(t, pgtool.CreateDatabase(ctx, base, name))
	require.NoError(t, pgtool.CreateDatabase(ctx, base, name), "recreating a leftover works")
	ok, err := pgtool.DatabaseExists(ctx, base, name)
	require.NoError(t, err)
	require.True(t, ok)
	// Dropping terminates open sessions.
	conn, err := pgtool.Connect(ctx, testenv.WithDatabase(t, base, name))
	require.NoError(t, err)
	defer conn.Close(ctx)
	require.NoError(t, pgtool.DropDatabase(ctx, base, name))
	ok, err = pgtool.DatabaseExists(ctx, base, name)
	require.NoError(t, err)
	require.False(t, ok)
	require.NoError(t, pgtool.DropDatabase(ctx, base, name), "dropping a missing database is fine")
}
