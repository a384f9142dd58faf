package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestRestoreVersion1Manifest: a backup whose manifest is format 1
// (inventory in plaintext, as lifeboat wrote before format 2) restores with
// `lifeboat restore`, and the restored database is compared with that
// plaintext inventory.
func TestRestoreVersion1Manifest(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfgPath := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfgPath)
	f.mustRun(t, "run", "--config", cfgPath, "--target", "app")
	keys := f.objectKeys(t)
	require.Len(t, keys, 1)
	key := keys[0]

	ctx := context.Background()
	cfg, err := config.Load(cfgPath, f.getenv)
	require.NoError(t, err)
	ids, err := cfg.Identities()
	require.NoError(t, err)
	store, err := blob.NewFS(filepath.Join(f.dir, "backups"))
	require.NoError(t, err)
	m, err := pipeline.ReadManifest(ctx, store, key, ids)
	require.NoError(t, err)
	require.Equal(t, blob.ManifestV2, m.FormatVersion)
	require.Len(t, m.Source.Tables, 2)

	// Rewrite it as format 1 wrote it.
	v1 := m
	v1.FormatVersion, v1.Inventory = blob.ManifestV1, nil
	require.NoError(t, blob.PutManifest(ctx, store, key, v1))
	rawBytes, err := os.ReadFile(filepath.Join(f.dir, "backups", filepath.FromSlash(blob.ManifestKey(key))))
	require.NoError(t, err)
	raw := string(rawBytes)
	require.Contains(t, raw, `"format_version": 1`)
	require.Contains(t, raw, `"name": "customers"`)

	into := testenv.CreateDB(t, "lbinto_")
	out := f.mustRun(t, "restore", "--config", cfgPath, "--object", key, "--into", into)
	require.Contains(t, out, "restored "+key)
	require.Contains(t, out, "2 tables hold their dump-time row counts")
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customers"))

	// The plaintext inventory is what the restored database is held to.
	for i, tc := range v1.Source.Tables {
		if tc.Name == "customers" {
			v1.Source.Tables[i].Rows = 499
		}
	}
	require.NoError(t, blob.PutManifest(ctx, store, key, v1))
	r := f.run(t, "restore", "--config", cfgPath, "--object", key, "--into", testenv.CreateDB(t, "lbinto_"))
	require.Error(t, r.err)
	require.Contains(t, r.err.Error(), "differs from the source at dump time")
	require.Contains(t, r.err.Error(), "rows public.customers: expected 499")
}
