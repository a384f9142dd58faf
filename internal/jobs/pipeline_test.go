package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
	"github.com/lifeboat-dev/lifeboat/internal/pipeline"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

func TestRunSucceeds(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]storageKind{"fs": storageFS, "s3": storageS3, "s3-tls": storageS3TLS} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, options{storage: kind})
			run := b.runToEnd(t)
			logs := b.logText(t, run.ID)
			require.Equal(t, lifeboat.RunSucceeded, run.Status, "error: %s\nlogs:\n%s", run.Error, logs)
			for _, s := range run.Stages {
				require.Equal(t, lifeboat.StageSucceeded, s.Status, "stage %s", s.Name)
				require.NotNil(t, s.StartedAt)
				require.NotNil(t, s.FinishedAt)
			}
			require.NotNil(t, run.FinishedAt)

			// The artifact and its manifest exist and agree.
			require.NotNil(t, run.Artifact)
			ctx := context.Background()
			info, err := b.blobs.Stat(ctx, run.Artifact.Key)
			require.NoError(t, err)
			require.Equal(t, run.Artifact.StoredBytes, info.Size)
			ids, err := b.cfg.Identities()
			require.NoError(t, err)
			m, err := pipeline.ReadManifest(ctx, b.blobs, run.Artifact.Key, ids)
			require.NoError(t, err)
			require.Equal(t, run.Artifact.SHA256, m.SHA256)
			require.Equal(t, run.ID, m.RunID)
			require.Len(t, m.Source.Tables, 2)

			// Stored bytes are encrypted: no table names, no e-mail addresses.
			body, err := b.blobs.Get(ctx, run.Artifact.Key)
			require.NoError(t, err)
			raw, err := io.ReadAll(body)
			require.NoError(t, body.Close())
			require.NoError(t, err)
			require.True(t, bytes.HasPrefix(raw, []byte("age-encryption.org/v1")))
			for _, plain := range []string{"customers", "orders", "example.com", "PGDMP"} {
				require.False(t, bytes.Contains(raw, []byte(plain)), "stored object contains %q", plain)
			}

			// Every check passed and was recorded, built-in ones included.
			require.NotEmpty(t, run.Checks)
			names := map[string]bool{}
			for _, c := range run.Checks {
				require.True(t, c.Passed, "check %s: expected %s observed %s", c.Name, c.Expected, c.Observed)
				names[c.Name] = true
			}
			for _, want := range []string{"restore without errors", "rows public.customers", "rows public.orders", "schema objects", "customers exist", "orders reference customers"} {
				require.True(t, names[want], "missing check %q in %v", want, names)
			}

			chat := b.chat.received()
			require.Len(t, chat, 1, "one chat message")
			require.Contains(t, chat[0], "app")
			require.Contains(t, chat[0], fmt.Sprintf("http://lifeboat.test/runs/%d", run.ID))
			require.Len(t, b.heartbeat.received(), 1, "exactly one heartbeat ping")
			b.requireScratchGone(t, run.ID)
			require.Contains(t, logs, "pg_restore finished without errors")
		})
	}
}

func TestFailingSQLCheck(t *testing.T) {
	t.Parallel()
	b := setup(t, options{checks: `      - {name: enough customers, sql: "SELECT count(*) FROM customers", expect: ">= 100000"}
      - {name: customers exist, sql: "SELECT count(*) > 0 FROM customers", expect: "true"}`})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	st := stageStatus(run)
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageBackup])
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageVerify])
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageReport])
	require.Contains(t, run.Error, "verify: ")
	require.Contains(t, run.Error, "enough customers")

	var failed, passed int
	for _, c := range run.Checks {
		if c.Name == "enough customers" {
			require.False(t, c.Passed)
			require.Equal(t, ">= 100000", c.Expected)
			require.Equal(t, "500", c.Observed)
			failed++
		}
		if c.Name == "customers exist" {
			require.True(t, c.Passed)
			require.Equal(t, "true", c.Observed)
			passed++
		}
	}
	require.Equal(t, 1, failed)
	require.Equal(t, 1, passed)

	chat := b.chat.received()
	require.Len(t, chat, 1)
	require.Contains(t, chat[0], "enough customers")
	require.Contains(t, chat[0], "100000")
	require.Contains(t, chat[0], "500")
	require.Empty(t, b.heartbeat.received(), "no heartbeat for a failed run")
	b.requireScratchGone(t, run.ID)
	report, _ := run.StageByName(lifeboat.StageReport)
	require.JSONEq(t, `{"event":"run.failed","scratch_dropped":true,"delivered":["chat"],"failed":[],"not_sent":["snitch"],"queued":["chat"]}`, string(report.Metrics))
}

// flipByte corrupts one byte in the middle of a stored object.
func flipByte(ctx context.Context, store blob.Store, key string) error {
	body, err := store.Get(ctx, key)
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(body)
	body.Close()
	if err != nil {
		return err
	}
	raw[len(raw)/2] ^= 0x01
	_, err = store.Put(ctx, key, bytes.NewReader(raw))
	return err
}

func TestCorruptedObjectFailsRestore(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]storageKind{"fs": storageFS, "s3": storageS3} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, options{storage: kind, afterStage: func(b *bundle, ctx context.Context, runID int64, stage lifeboat.StageName) error {
				if stage != lifeboat.StageBackup {
					return nil
				}
				return flipByte(ctx, b.blobs, blob.ObjectKey("app", runID, mustRun(ctx, b, runID).CreatedAt))
			}})
			run := b.runToEnd(t)
			require.Equal(t, lifeboat.RunFailed, run.Status)
			st := stageStatus(run)
			require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageRestore])
			require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageVerify])
			require.Contains(t, run.Error, "checksum mismatch: expected "+run.Artifact.SHA256+" got ")
			// A permanent error: no retries.
			restore, _ := run.StageByName(lifeboat.StageRestore)
			require.Equal(t, 1, restore.Attempt)
			require.Empty(t, b.heartbeat.received())
			require.Len(t, b.chat.received(), 1)
			b.requireScratchGone(t, run.ID)
		})
	}
}

func mustRun(ctx context.Context, b *bundle, id int64) lifeboat.Run {
	run, err := b.store.RunGet(ctx, id)
	if err != nil {
		panic(err)
	}
	return run
}

func TestWrongPasswordFailsBackup(t *testing.T) {
	t.Parallel()
	src := testenv.CreateDB(t, "lbsrc_")
	u, err := url.Parse(src)
	require.NoError(t, err)
	const secret = "Sup3rSecretWrongPassw0rd"
	u.User = url.UserPassword("postgres", secret)
	b := setup(t, options{storage: storageS3, sourceURL: u.String()})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	st := stageStatus(run)
	require.Equal(t, lifeboat.StageFailed, st[lifeboat.StageBackup])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageRestore])
	require.Equal(t, lifeboat.StageSkipped, st[lifeboat.StageVerify])
	require.Equal(t, lifeboat.StageSucceeded, st[lifeboat.StageReport])
	require.Contains(t, run.Error, "password authentication failed")
	backup, _ := run.StageByName(lifeboat.StageBackup)
	require.Equal(t, 1, backup.Attempt, "bad credentials are not retried")
	require.Nil(t, run.Artifact)

	objs, err := b.blobs.List(context.Background(), "")
	require.NoError(t, err)
	require.Empty(t, objs, "no object and no manifest left behind")
	require.Len(t, b.chat.received(), 1, "report still sent")
	require.Empty(t, b.heartbeat.received())

	logs := b.logText(t, run.ID)
	for _, where := range []string{run.Error, logs, b.logs.String(), strings.Join(b.chat.received(), "")} {
		require.NotContains(t, where, secret)
	}
}

func TestUnreachableSourceRetriesThenFails(t *testing.T) {
	t.Parallel()
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	b := setup(t, options{sourceURL: "postgres://postgres:pw@" + addr + "/app?sslmode=disable&connect_timeout=2"})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	backup, _ := run.StageByName(lifeboat.StageBackup)
	require.Equal(t, lifeboat.StageFailed, backup.Status)
	require.Equal(t, 4, backup.Attempt, "a transient fault is retried up to the limit")
	require.Contains(t, strings.ToLower(run.Error), "connect")
	require.Len(t, b.chat.received(), 1)
	require.Empty(t, b.heartbeat.received())
	require.Contains(t, b.logText(t, run.ID), "will retry")
}

func TestRestoreErrorFailsRun(t *testing.T) {
	t.Parallel()
	// The source uses an extension a non-superuser cannot create on the
	// restore server: pg_restore hits an error, and that must fail the run.
	src := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, src, testenv.SeedSQL+"CREATE EXTENSION pg_stat_statements;")
	role := testenv.RandomName("lbrestore_")
	base := testenv.PGURL(t)
	testenv.Exec(t, base, fmt.Sprintf("CREATE ROLE %s LOGIN CREATEDB PASSWORD 'restorepw'", role))
	t.Cleanup(func() { dropRole(t, base, role) })
	u, err := url.Parse(base)
	require.NoError(t, err)
	u.User = url.UserPassword(role, "restorepw")
	b := setup(t, options{sourceURL: src, restoreURL: u.String()})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	require.Equal(t, lifeboat.StageFailed, stageStatus(run)[lifeboat.StageRestore], "logs:\n%s", b.logText(t, run.ID))
	require.Contains(t, run.Error, "pg_restore")
	require.Contains(t, run.Error, "pg_stat_statements")
	require.Contains(t, b.logText(t, run.ID), "pg_restore: error:")
	require.Empty(t, b.heartbeat.received())
	b.requireScratchGone(t, run.ID)
}

func dropRole(t *testing.T, base, role string) {
	ctx := context.Background()
	conn, err := pgtool.Connect(ctx, base)
	if err != nil {
		t.Errorf("drop role: %v", err)
		return
	}
	defer conn.Close(ctx)
	// The scratch database may still be owned by the role if a test failed.
	_, _ = conn.Exec(ctx, "DROP OWNED BY "+role)
	if _, err := conn.Exec(ctx, "DROP ROLE IF EXISTS "+role); err != nil {
		t.Errorf("drop role %s: %v", role, err)
	}
}

func TestRowCountMismatchFailsVerify(t *testing.T) {
	t.Parallel()
	// Server mode: the test reaches the scratch database to tamper with it.
	b := setup(t, options{serverMode: true, afterStage: func(b *bundle, ctx context.Context, runID int64, stage lifeboat.StageName) error {
		if stage != lifeboat.StageRestore {
			return nil
		}
		scratch, err := pgtool.WithDatabase(b.pgURL, b.scratchName(t, runID))
		if err != nil {
			return err
		}
		conn, err := pgtool.Connect(ctx, scratch)
		if err != nil {
			return err
		}
		defer conn.Close(ctx)
		tag, err := conn.Exec(ctx, "DELETE FROM orders WHERE id % 10 = 0")
		if err == nil && tag.RowsAffected() != 300 {
			err = errors.New("expected to delete 300 orders")
		}
		return err
	}})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunFailed, run.Status)
	require.Equal(t, lifeboat.StageFailed, stageStatus(run)[lifeboat.StageVerify])
	require.Contains(t, run.Error, "rows public.orders")
	for _, c := range run.Checks {
		switch c.Name {
		case "rows public.orders":
			require.False(t, c.Passed)
			require.Equal(t, "3000", c.Expected)
			require.Equal(t, "2700", c.Observed)
		case "rows public.customers":
			require.True(t, c.Passed)
		}
	}
	require.Empty(t, b.heartbeat.received())
	b.requireScratchGone(t, run.ID)
}

func TestEstimatedRowCounts(t *testing.T) {
	t.Parallel()
	src := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, src, testenv.SeedSQL+"ANALYZE;")
	b := setup(t, options{sourceURL: src, rowCounts: "estimate"})
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)
	for _, c := range run.Checks {
		if c.Name == "rows public.orders" {
			require.Contains(t, c.Expected, "estimate")
			require.Equal(t, "3000", c.Observed)
		}
	}
}
