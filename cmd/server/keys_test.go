package main

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestKeyRotation: after a rotation (age_identity_files: [new, old]) new
// backups go to the new key only and a backup made with the old key still
// restores; once the old key is removed, restoring that backup fails before
// anything is written, naming the recipient it was encrypted to.
func TestKeyRotation(t *testing.T) {
	t.Parallel()
	f := newFixture(t) // writes age.key: the old identity
	oldID, err := age.ParseX25519Identity(strings.TrimSpace(string(mustRead(t, filepath.Join(f.dir, "age.key")))))
	require.NoError(t, err)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)
	f.mustRun(t, "run", "--config", cfg, "--target", "app")
	keys := f.objectKeys(t)
	require.Len(t, keys, 1)
	oldKey := keys[0]

	newID, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "new.key"), []byte(newID.String()+"\n"), 0o600))
	rotated := f.writeConfig(t, "rotated.yaml", strings.Replace(f.config(t, f.stateURL, defaultChecks),
		"age_identity_file: ./age.key", "age_identity_files: [./new.key, ./age.key]", 1))
	f.mustRun(t, "run", "--config", rotated, "--target", "app")
	keys = f.objectKeys(t)
	require.Len(t, keys, 2)
	store, err := blob.NewFS(filepath.Join(f.dir, "backups"))
	require.NoError(t, err)
	for _, k := range keys {
		m, err := blob.GetManifest(context.Background(), store, k)
		require.NoError(t, err)
		want := newID.Recipient().String()
		if k == oldKey {
			want = oldID.Recipient().String()
		}
		require.Equal(t, []string{want}, m.Recipients, "%s: new backups go to the current key only", k)
	}

	// The old backup restores with the rotated config (old key listed).
	into := testenv.CreateDB(t, "lbinto_")
	out := f.mustRun(t, "restore", "--config", rotated, "--object", oldKey, "--into", into)
	require.Contains(t, out, "restored "+oldKey)
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customers"))

	// The old key removed: refused before anything is restored.
	newOnly := f.writeConfig(t, "new-only.yaml", strings.Replace(f.config(t, f.stateURL, defaultChecks),
		"age_identity_file: ./age.key", "age_identity_file: ./new.key", 1))
	empty := testenv.CreateDB(t, "lbinto_")
	r := f.run(t, "restore", "--config", newOnly, "--object", oldKey, "--into", empty)
	require.Error(t, r.err)
	require.Contains(t, r.err.Error(), fmt.Sprintf("backup %d was encrypted to %s; no loaded identity matches",
		f.firstRunID, oldID.Recipient().String()))
	require.EqualValues(t, 0, userRelations(t, empty), "nothing restored")
	require.NotContains(t, r.stderr, "pg_restore", "pg_restore never started")
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}

// TestObjectLockMissingSaidAtStartup: a storage configured with
// object_lock whose bucket lacks Object Lock stops lifeboat at start-up with
// an error naming the field and the bucket.
func TestObjectLockMissingSaidAtStartup(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	s3 := testenv.S3HTTP(t)
	bucket := testenv.RandomName("lb-nolock-")
	plain, err := blob.NewS3(context.Background(), blob.S3Options{Endpoint: s3.Endpoint, Region: s3.Region, Bucket: bucket,
		AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey, Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}})
	require.NoError(t, err)
	require.NoError(t, plain.EnsureBucket(context.Background()))
	f.env["S3_SECRET"] = s3.SecretKey
	doc := strings.Replace(f.config(t, f.stateURL, defaultChecks), "  - {name: main, kind: fs, path: ./backups}",
		fmt.Sprintf("  - {name: main, kind: s3, bucket: %s, endpoint: %q, access_key_id: %q, secret_access_key: \"${S3_SECRET}\", object_lock: {mode: governance, days: 7}}",
			bucket, s3.Endpoint, s3.AccessKey), 1)
	doc = strings.Replace(doc, "targets:\n", "outbound:\n  allow: [127.0.0.0/8]\ntargets:\n", 1)
	cfg := f.writeConfig(t, "lifeboat.yaml", doc)
	f.migrate(t, cfg)
	r := f.run(t, "run", "--config", cfg, "--target", "app")
	require.Error(t, r.err)
	require.Contains(t, r.err.Error(), "storages[0].object_lock (main): bucket "+bucket+" does not have Object Lock enabled")
	require.NotContains(t, r.stdout, "started", "no run began")
}
