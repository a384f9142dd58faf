package app_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	lbapp "github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

func outboundCatalog(t *testing.T, outbound string) *lbapp.Catalog {
	t.Helper()
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
` + outbound + `
targets:
  - {name: app, database_url: "postgres://u@h/app", storage: main}
`
	env := map[string]string{"STATE_URL": stateURL, "SANDBOX_DIR": testenv.SandboxDir(t)}
	w := lbtest.Wire(t, stateURL, doc, dir, env, &testenv.SyncBuffer{})
	runner, err := jobs.New(w.Deps, jobs.Options{})
	require.NoError(t, err)
	cat := lbapp.NewCatalog(w.Config, w.Store, runner, w.Deps)
	require.NoError(t, cat.Load(context.Background()))
	return cat
}

func requireInvalid(t *testing.T, err error, contains string) {
	t.Helper()
	require.Error(t, err)
	require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err), "%v", err)
	require.Contains(t, err.Error(), contains)
}

// fs storages made through the API live only under outbound.fs_roots; by
// default there are none, and /etc is never written to.
func TestAPIFSStoragesStayUnderRoots(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	none := outboundCatalog(t, "")
	err := none.Put(ctx, config.KindStorage, "etc", []byte(`{"kind": "fs", "path": "/etc"}`), false)
	requireInvalid(t, err, "body.path: fs storages come from the config file only")
	err = none.Put(ctx, config.KindStorage, "tmp", []byte(`{"kind": "fs", "path": "`+t.TempDir()+`"}`), false)
	requireInvalid(t, err, "body.path")
	_, err = none.TestStorage(ctx, "etc")
	require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err))
	_, err = os.Stat("/etc/lifeboat-probe")
	require.True(t, os.IsNotExist(err), "nothing written under /etc")

	root := t.TempDir()
	require.NoError(t, os.Symlink("/etc", filepath.Join(root, "etc-link")))
	cat := outboundCatalog(t, "outbound:\n  fs_roots: ["+root+"]")
	for _, path := range []string{"/etc", root + "/../outside", root + "/etc-link", root + "/etc-link/sub"} {
		err := cat.Put(ctx, config.KindStorage, "bad", []byte(`{"kind": "fs", "path": "`+path+`"}`), false)
		requireInvalid(t, err, "is not inside a folder of outbound.fs_roots")
	}
	require.NoError(t, cat.Put(ctx, config.KindStorage, "inside", []byte(`{"kind": "fs", "path": "`+root+`/backups"}`), false))
	res, err := cat.TestStorage(ctx, "inside")
	require.NoError(t, err)
	require.True(t, res.OK, res.Error)
}

// An S3 storage made through the API with an endpoint on an internal
// address is never called: the storages' client goes through the outbound
// guard notifiers use.
func TestAPIS3StorageIsGuarded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var calls atomic.Int64
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(internal.Close)
	cat := outboundCatalog(t, "")
	require.NoError(t, cat.Put(ctx, config.KindStorage, "sneaky", []byte(`{"kind": "s3", "bucket": "b", "endpoint": "`+
		internal.URL+`", "access_key_id": "id", "secret_access_key": "secret"}`), false))
	res, err := cat.TestStorage(ctx, "sneaky")
	require.NoError(t, err)
	require.False(t, res.OK)
	require.Contains(t, res.Error, "refused: loopback")
	require.Zero(t, calls.Load(), "the internal endpoint was called")

	// outbound.allow opens it, as it does for notifiers.
	open := outboundCatalog(t, "outbound:\n  allow: [127.0.0.0/8]")
	require.NoError(t, open.Put(ctx, config.KindStorage, "allowed", []byte(`{"kind": "s3", "bucket": "b", "endpoint": "`+
		internal.URL+`", "access_key_id": "id", "secret_access_key": "secret"}`), false))
	_, err = open.TestStorage(ctx, "allowed")
	require.NoError(t, err)
	require.NotZero(t, calls.Load())
}
