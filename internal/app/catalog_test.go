package app_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	lbapp "github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// Two processes share a state database: what one creates through the API,
// the other's runner sees after its next poll, with the secret decrypted.
func TestCatalogReachesEveryProcess(t *testing.T) {
	t.Parallel()
	stateURL := testenv.CreateDB(t, "lbstate_")
	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	doc := `database_url: ${STATE_URL}
restore:
  sandbox_dir: ${SANDBOX_DIR}
encryption:
  age_identity_file: ./age.key
storages:
  - {name: main, kind: fs, path: ./backups}
targets:
  - {name: app, database_url: "postgres://u@h/app", storage: main}
`
	env := map[string]string{"STATE_URL": stateURL, "SANDBOX_DIR": testenv.SandboxDir(t)}
	ctx := context.Background()
	open := func() (*lbapp.Catalog, *jobs.Runner) {
		w := lbtest.Wire(t, stateURL, doc, dir, env, &testenv.SyncBuffer{})
		runner, err := jobs.New(w.Deps, jobs.Options{})
		require.NoError(t, err)
		cat := lbapp.NewCatalog(w.Config, w.Store, runner, w.Deps)
		require.NoError(t, cat.Load(ctx))
		return cat, runner
	}
	a, _ := open()
	b, runnerB := open()
	wctx, stop := context.WithCancel(ctx)
	defer stop()
	go b.Watch(wctx, 50*time.Millisecond)

	err := a.Put(ctx, config.KindTarget, "billing", []byte(`{"database_url": "postgres://billing:s3cret@db/billing",
		"storage": "main", "schedule": "0 3 * * *", "timezone": "Europe/Berlin"}`), false)
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, ok := runnerB.Catalog().Config.Target("billing")
		return ok
	}, 10*time.Second, 20*time.Millisecond, "the other process sees the new target")
	tb, _ := runnerB.Catalog().Config.Target("billing")
	require.Equal(t, "postgres://billing:s3cret@db/billing", tb.DatabaseURL, "the secret is decrypted there")
	require.Equal(t, "Europe/Berlin", tb.Timezone)
	require.True(t, b.Managed(config.KindTarget, "billing"))
	require.False(t, b.Managed(config.KindTarget, "app"))

	// A name clash across processes is refused; two creates cannot both win.
	err = b.Put(ctx, config.KindTarget, "billing", []byte(`{"database_url": "postgres://x@h/db", "storage": "main"}`), false)
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err), "%v", err)

	require.NoError(t, a.Delete(ctx, config.KindTarget, "billing"))
	require.Eventually(t, func() bool {
		_, ok := runnerB.Catalog().Config.Target("billing")
		return !ok
	}, 10*time.Second, 20*time.Millisecond, "the other process drops it")
}
