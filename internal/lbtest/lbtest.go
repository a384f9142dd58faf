// Package lbtest wires a real lifeboat for tests: a config parsed from YAML,
// a migrated state database with a run-id range of its own, and the stage
// workers' dependencies built the way cmd/server builds them. It is only
// imported by _test files.
package lbtest

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// Wired is a lifeboat's parts, ready for jobs.New.
type Wired struct {
	Config *config.Config
	Pool   *pgxpool.Pool
	Store  *store.Store
	Deps   jobs.Deps
	Log    *slog.Logger
}

// Wire parses doc (relative paths resolve against dir, ${VAR} from env),
// migrates the state database at stateURL, gives it a distinct run-id range
// (tests share one restore server, and scratch databases are named
// lifeboat_scratch_<run id>), and builds the workers' dependencies with a
// 50 ms retry backoff. Logs go to logs.
func Wire(t testing.TB, stateURL, doc, dir string, env map[string]string, logs io.Writer) Wired {
	t.Helper()
	ctx := context.Background()
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Parse([]byte(doc), dir, getenv)
	require.NoError(t, err)

	pool, err := pgxpool.New(ctx, stateURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st := store.New(pool)
	_, err = st.Migrate(ctx)
	require.NoError(t, err)
	testenv.DistinctRunIDs(t, stateURL)

	log := slog.New(slog.NewTextHandler(logs, nil))
	deps, err := app.Deps(ctx, cfg, st, getenv, log)
	require.NoError(t, err)
	deps.Backoff = func(int) time.Duration { return 50 * time.Millisecond }
	return Wired{Config: cfg, Pool: pool, Store: st, Deps: deps, Log: log}
}
