package jobs_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// copiesBundle is a lifeboat whose target "app" writes to several storages.
type copiesBundle struct {
	*bundle
	stores map[string]blob.Store
}

// s3StorageYAML is one storage on a test S3 endpoint, in a fresh bucket.
func s3StorageYAML(name string, s3 testenv.S3, extra string) string {
	return fmt.Sprintf("{name: %s, kind: s3, bucket: %s, prefix: lb/, endpoint: %q, region: %s, access_key_id: %q, secret_access_key: \"${S3_SECRET}\", part_size_mb: 5, ca_file: %q%s}",
		name, testenv.RandomName("lb-"), s3.Endpoint, s3.Region, s3.AccessKey, s3.CAFile, extra)
}

// setupCopies wires a lifeboat with the given storages (YAML flow maps) and
// a target writing to all of them; wrap may replace a storage's client.
func setupCopies(t *testing.T, storages []string, targetExtra string, wrap map[string]func(blob.Store) blob.Store) *copiesBundle {
	t.Helper()
	b := &bundle{pgURL: testenv.PGURL(t), chat: newRecorder(t), heartbeat: newRecorder(t), logs: &testenv.SyncBuffer{}}
	b.stateURL = testenv.CreateDB(t, "lbstate_")
	b.sourceURL = testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, b.sourceURL, testenv.SeedSQL)
	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	var names []string
	for _, s := range storages {
		names = append(names, strings.TrimSuffix(strings.Fields(s)[1], ","))
	}
	yaml := fmt.Sprintf(`database_url: ${STATE_URL}
restore:
  mode: server
  database_url: ${RESTORE_URL}
  allow_superuser: true
encryption:
  age_identity_file: ./age.key
storages:
  - %s
outbound:
  allow: [127.0.0.0/8]
notifiers:
  - {name: snitch, kind: heartbeat, url: %q}
targets:
  - name: app
    database_url: ${SOURCE_URL}
    storages: [%s]
    notify: [snitch]
%s    checks:
      - {name: customers exist, sql: "SELECT count(*) FROM customers", expect: ">= 500"}
`, strings.Join(storages, "\n  - "), b.heartbeat.URL+"/ping", strings.Join(names, ", "), targetExtra)
	env := map[string]string{"STATE_URL": b.stateURL, "RESTORE_URL": b.pgURL, "SOURCE_URL": b.sourceURL,
		"S3_SECRET": os.Getenv("LIFEBOAT_TEST_S3_SECRET_KEY"), "PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	w := lbtest.Wire(t, b.stateURL, yaml, dir, env, b.logs)
	b.cfg, b.store, b.deps = w.Config, w.Store, w.Deps
	for name, fn := range wrap {
		b.deps.Stores[name] = fn(b.deps.Stores[name])
	}
	b.blobs = b.deps.Stores[names[0]]
	var err error
	b.runner, err = jobs.New(b.deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	require.NoError(t, b.runner.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.runner.Stop(ctx)
	})
	return &copiesBundle{bundle: b, stores: b.deps.Stores}
}

func copyByStorage(cs []lifeboat.Copy) map[string]lifeboat.Copy {
	out := map[string]lifeboat.Copy{}
	for _, c := range cs {
		out[c.Storage] = c
	}
	return out
}

func checkNamed(run lifeboat.Run, name string) (lifeboat.CheckResult, bool) {
	for _, c := range run.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return lifeboat.CheckResult{}, false
}

// TestCopies: one run writes every copy from one dump (two S3 servers
// standing in for two sites, plus a folder); each copy is read back or
// proven by the restore, which rotates so that three runs prove all three;
// the backups list says so per copy.
func TestCopies(t *testing.T) {
	t.Parallel()
	b := setupCopies(t, []string{
		s3StorageYAML("main", testenv.S3HTTP(t), ""),
		s3StorageYAML("offsite", testenv.S3TLS(t), ""),
		"{name: local, kind: fs, path: ./backups}",
	}, "", nil)
	ctx := context.Background()
	proofs := map[string]int64{}
	var runs []lifeboat.Run
	for i := 0; i < 3; i++ {
		run := b.runToEnd(t)
		require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nlogs:\n%s", run.Error, b.logText(t, run.ID))
		require.Equal(t, 1, strings.Count(b.logText(t, run.ID), "streaming pg_dump"), "the dump runs once")
		c, ok := checkNamed(run, jobs.CheckCopies)
		require.True(t, ok)
		require.True(t, c.Passed)
		runs = append(runs, run)
		copies := copyByStorage(run.Artifact.Copies)
		require.Len(t, copies, 3)
		var proven []string
		for name, c := range copies {
			require.Equal(t, lifeboat.CopyVerified, c.Status, "run %d copy %s", run.ID, name)
			require.NotNil(t, c.VerifiedAt)
			require.Equal(t, run.Artifact.SHA256, c.SHA256)
			// Every copy's object and manifest are in its storage, byte for byte the same.
			m, err := blob.GetManifest(ctx, b.stores[name], c.Key)
			require.NoError(t, err)
			require.Equal(t, run.Artifact.SHA256, m.SHA256)
			if c.ProvenByRun == run.ID {
				proven = append(proven, name)
			}
		}
		require.Len(t, proven, 1, "each run's restore proves one copy")
		proofs[proven[0]] = run.ID
		require.Contains(t, b.logText(t, run.ID), "restoring the copy on "+proven[0])
	}
	require.Len(t, proofs, 3, "three runs proved all three copies: %v", proofs)
	require.Equal(t, runs[0].ID, proofs["main"], "the primary first")

	// The backups list carries each copy's state.
	list, _, err := b.runner.BackupList(ctx, lifeboat.BackupFilter{Target: "app", Limit: 10})
	require.NoError(t, err)
	require.Len(t, list, 3)
	for _, bk := range list {
		require.Len(t, bk.Copies, 3, "backup %d", bk.ID)
		require.Equal(t, "main", bk.Copies[0].Storage, "primary first")
		for _, c := range bk.Copies {
			require.Equal(t, lifeboat.CopyVerified, c.Status)
			if c.ProvenByRun != 0 {
				require.Equal(t, bk.ID, c.ProvenByRun)
			}
		}
	}
	require.Len(t, b.heartbeat.received(), 3, "a heartbeat per good run")
}

// corruptingStore stores every object with one byte flipped: a storage
// that silently damages what it keeps (the bytes really go to versitygw).
type corruptingStore struct{ blob.Store }

func (c corruptingStore) Put(ctx context.Context, key string, r io.Reader) (int64, error) {
	if strings.HasSuffix(key, blob.ManifestSuffix) {
		return c.Store.Put(ctx, key, r)
	}
	raw, err := io.ReadAll(r)
	if err != nil {
		return 0, err
	}
	raw[len(raw)/2] ^= 0x01
	return c.Store.Put(ctx, key, bytes.NewReader(raw))
}

// TestCopyFailures: a copy whose stored bytes do not match, or that cannot
// be written at all, is caught by the read-back; the run still restores and
// proves the primary, but fails on the copies check, so the heartbeat stays
// silent; the failed copy's leftovers are deleted.
func TestCopyFailures(t *testing.T) {
	t.Parallel()
	for name, wrap := range map[string]func(blob.Store) blob.Store{
		"corrupted": func(s blob.Store) blob.Store { return corruptingStore{s} },
		"missing":   nil,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			offsite := s3StorageYAML("offsite", testenv.S3TLS(t), "")
			wraps := map[string]func(blob.Store) blob.Store{"offsite": wrap}
			if wrap == nil {
				// Nothing listens there: every request fails.
				offsite = `{name: offsite, kind: s3, bucket: lb-nowhere, endpoint: "http://127.0.0.1:9", access_key_id: x, secret_access_key: y}`
				wraps = nil
			}
			b := setupCopies(t, []string{"{name: main, kind: fs, path: ./backups}", offsite}, "", wraps)
			run := b.runToEnd(t)
			logs := b.logText(t, run.ID)
			require.Equal(t, lifeboat.RunFailed, run.Status, logs)
			st := stageStatus(run)
			require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageBackup])
			require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageRestore], "the primary is still restored")
			require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageVerify])
			c, ok := checkNamed(run, jobs.CheckCopies)
			require.True(t, ok)
			require.False(t, c.Passed)
			require.Contains(t, c.Observed, "1 good; offsite: ")
			require.Contains(t, run.Error, "a copy is not good")
			copies := copyByStorage(run.Artifact.Copies)
			require.Equal(t, lifeboat.CopyFailed, copies["offsite"].Status)
			require.Equal(t, lifeboat.CopyVerified, copies["main"].Status)
			require.Equal(t, run.ID, copies["main"].ProvenByRun)
			if name == "corrupted" {
				require.Contains(t, copies["offsite"].Error, "checksum mismatch")
				_, err := b.stores["offsite"].Stat(context.Background(), run.Artifact.Key)
				require.ErrorIs(t, err, lifeboat.ErrNotFound, "the bad copy is deleted")
			}
			require.Empty(t, b.heartbeat.received(), "no heartbeat while a copy is bad")
		})
	}
}

// TestRetentionWithCopiesAndLocks: GFS holds on each storage; a copy under
// Object Lock is kept until its retain-until date (retention never asks
// the server to delete it), while the same backup's unlocked copy on the
// other storage goes; the backup stays listed, with each copy's state.
func TestRetentionWithCopiesAndLocks(t *testing.T) {
	t.Parallel()
	b := setupCopies(t, []string{
		s3StorageYAML("main", testenv.S3HTTP(t), ", object_lock: {mode: governance, days: 1}"),
		"{name: offsite, kind: fs, path: ./offsite}",
	}, "    retention: {keep_last: 1}\n", nil)
	ctx := context.Background()
	first := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, first.Status, "error: %s\nlogs:\n%s", first.Error, b.logText(t, first.ID))
	main := copyByStorage(first.Artifact.Copies)["main"]
	require.Equal(t, "governance", main.LockMode)
	require.NotNil(t, main.LockedUntil)
	require.WithinDuration(t, time.Now().Add(24*time.Hour), *main.LockedUntil, 5*time.Minute)
	second := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, second.Status, "error: %s", second.Error)

	decisions, err := b.runner.Prune(ctx, "app", false)
	require.NoError(t, err)
	got := map[string]string{}
	for _, d := range decisions {
		verdict := "drop"
		if d.Keep {
			verdict = "keep"
		}
		got[fmt.Sprintf("%d/%s", d.RunID, d.Storage)] = verdict + ": " + strings.Join(d.Reasons, "; ")
	}
	require.Contains(t, got[fmt.Sprintf("%d/main", first.ID)], "keep: ")
	require.Contains(t, got[fmt.Sprintf("%d/main", first.ID)], "locked until "+main.LockedUntil.UTC().Format(time.RFC3339))
	// The verified run's own prune job may have dropped it already.
	if v, ok := got[fmt.Sprintf("%d/offsite", first.ID)]; ok {
		require.True(t, strings.HasPrefix(v, "drop: "), v)
	}
	require.True(t, strings.HasPrefix(got[fmt.Sprintf("%d/main", second.ID)], "keep: "))
	require.True(t, strings.HasPrefix(got[fmt.Sprintf("%d/offsite", second.ID)], "keep: "))

	_, err = b.stores["offsite"].Stat(ctx, first.Artifact.Key)
	require.ErrorIs(t, err, lifeboat.ErrNotFound, "the unlocked copy is gone")
	_, err = b.stores["main"].Stat(ctx, first.Artifact.Key)
	require.NoError(t, err, "the locked copy stays")

	bk, err := b.runner.BackupGet(ctx, first.ID)
	require.NoError(t, err)
	require.Nil(t, bk.PrunedAt, "a backup with a copy left is not pruned")
	cs := copyByStorage(bk.Copies)
	require.NotNil(t, cs["offsite"].PrunedAt)
	require.Nil(t, cs["main"].PrunedAt)
	require.NotNil(t, cs["main"].LockedUntil)

	// A second prune changes nothing and errs nowhere.
	_, err = b.runner.Prune(ctx, "app", false)
	require.NoError(t, err)
}

// TestUndecryptableBackupsWarned: once the identity a retained backup was
// encrypted to is no longer loaded, the target page's warning names the
// backup and its recipient; with it loaded there is none.
func TestUndecryptableBackupsWarned(t *testing.T) {
	t.Parallel()
	b := setupCopies(t, []string{"{name: main, kind: fs, path: ./backups}"}, "", nil)
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s", run.Error)
	ctx := context.Background()
	msg, err := b.runner.BackupsUndecryptable(ctx, "app")
	require.NoError(t, err)
	require.Empty(t, msg)

	newID, err := age.GenerateX25519Identity()
	require.NoError(t, err)
	deps := b.deps
	deps.Identities = []age.Identity{newID}
	rotated, err := jobs.New(deps, jobs.Options{Workers: 1})
	require.NoError(t, err)
	msg, err = rotated.BackupsUndecryptable(ctx, "app")
	require.NoError(t, err)
	_, old, err := b.cfg.Recipients()
	require.NoError(t, err)
	require.Contains(t, msg, fmt.Sprintf("1 retained backup(s) (#%d) were encrypted to %s; no loaded identity matches",
		run.ID, old[0]))
}
