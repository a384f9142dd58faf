package jobs_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// fakeBackup inserts a run of app with an artifact that was never stored
// (for paging, and for refusals that happen before the object is read).
func (b *bundle) fakeBackup(t *testing.T) int64 {
	t.Helper()
	id := testenv.QueryInt(t, b.stateURL, `INSERT INTO runs (target, trigger, status, storage, artifact_key, stored_bytes, raw_bytes, sha256)
		VALUES ('app', 'api', 'succeeded', 'main', 'pending', 10, 20, repeat('a', 64)) RETURNING id`)
	testenv.Exec(t, b.stateURL, fmt.Sprintf(`UPDATE runs SET artifact_key = 'app/2026/01/01/%d.dump.zst.age' WHERE id = %d`, id, id))
	return id
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func TestBackupsListGetDownload(t *testing.T) {
	t.Parallel()
	for name, kind := range map[string]storageKind{"fs": storageFS, "s3": storageS3} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, options{storage: kind})
			ctx := context.Background()
			older := b.runToEnd(t)
			require.Equal(t, lifeboat.RunSucceeded, older.Status, older.Error)
			fakes := []int64{b.fakeBackup(t), b.fakeBackup(t), b.fakeBackup(t)}
			newer := b.runToEnd(t)
			require.Equal(t, lifeboat.RunSucceeded, newer.Status, newer.Error)

			// Pages of two, newest first, until the end.
			var ids []int64
			f := lifeboat.BackupFilter{Target: "app", Limit: 2}
			for pages := 1; ; pages++ {
				page, more, err := b.runner.BackupList(ctx, f)
				require.NoError(t, err)
				for _, bk := range page {
					ids = append(ids, bk.ID)
				}
				if !more {
					require.Equal(t, 3, pages)
					break
				}
				f.BeforeID = page[len(page)-1].ID
			}
			require.Equal(t, []int64{newer.ID, fakes[2], fakes[1], fakes[0], older.ID}, ids)

			for _, lim := range []int{0, 201} {
				_, _, err := b.runner.BackupList(ctx, lifeboat.BackupFilter{Target: "app", Limit: lim})
				require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err))
			}
			_, _, err := b.runner.BackupList(ctx, lifeboat.BackupFilter{Target: "nope", Limit: 10})
			require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err))

			// One backup with its manifest.
			bk, err := b.runner.BackupGet(ctx, newer.ID)
			require.NoError(t, err)
			require.Equal(t, newer.ID, bk.RunID)
			require.Equal(t, newer.Artifact.Key, bk.Key)
			require.Equal(t, newer.Artifact.SHA256, bk.SHA256)
			require.Equal(t, newer.Artifact.StoredBytes, bk.StoredBytes)
			require.True(t, bk.Verified)
			require.Empty(t, bk.ManifestError)
			var m blob.Manifest
			require.NoError(t, json.Unmarshal(bk.Manifest, &m))
			require.Equal(t, newer.ID, m.RunID)
			require.Equal(t, bk.SHA256, m.SHA256)
			counts := map[string]int64{}
			for _, tc := range m.Source.Tables {
				counts[tc.Schema+"."+tc.Name] = tc.Rows
			}
			require.Equal(t, map[string]int64{"public.customers": 500, "public.orders": 3000}, counts)
			fake, err := b.runner.BackupGet(ctx, fakes[0])
			require.NoError(t, err)
			require.False(t, fake.Verified)
			require.Contains(t, fake.ManifestError, "missing", "a backup whose manifest is gone still reads")
			_, err = b.runner.BackupGet(ctx, newer.ID+100000)
			require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err))

			// A download URL, then the stored bytes through it.
			stored := storedBytes(t, b, bk.Key)
			d, err := b.runner.BackupDownload(ctx, bk.ID, 0)
			require.NoError(t, err)
			require.WithinDuration(t, time.Now().Add(lifeboat.MaxDownloadTTL), d.ExpiresAt, 5*time.Second)
			require.Equal(t, fmt.Sprintf("app-%d.dump.zst.age", bk.ID), d.Filename)
			require.Equal(t, bk.SHA256, d.SHA256)
			require.Contains(t, d.Decrypt, "lifeboat restore")
			require.Contains(t, d.Decrypt, "age --decrypt")
			var got []byte
			if kind == storageFS {
				token, ok := strings.CutPrefix(d.URL, "http://lifeboat.test/downloads/")
				require.True(t, ok, d.URL)
				o, err := b.runner.DownloadOpen(ctx, token)
				require.NoError(t, err)
				got, err = io.ReadAll(o.Body)
				require.NoError(t, err)
				require.NoError(t, o.Body.Close())
				require.Equal(t, int64(len(got)), o.Size)
				require.Equal(t, d.Filename, o.Filename)

				// Altered, expired, or for a backup that is not there.
				flip := byte('A')
				if token[10] == flip {
					flip = 'B'
				}
				_, err = b.runner.DownloadOpen(ctx, token[:10]+string(flip)+token[11:])
				require.Equal(t, lifeboat.EFORBIDDEN, lifeboat.ErrorCode(err))
				_, err = b.runner.DownloadOpen(ctx, "x"+token)
				require.Equal(t, lifeboat.EFORBIDDEN, lifeboat.ErrorCode(err))
				key, err := b.store.ServerKey(ctx, "download")
				require.NoError(t, err)
				_, err = b.runner.DownloadOpen(ctx, blob.SignDownload(key, bk.ID, time.Now().Add(-time.Second)))
				require.Equal(t, lifeboat.EGONE, lifeboat.ErrorCode(err))
				_, err = b.runner.DownloadOpen(ctx, blob.SignDownload(key, bk.ID+100000, time.Now().Add(time.Minute)))
				require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err))

				// Once pruned, the token that worked is gone.
				require.NoError(t, b.store.ArtifactPrune(ctx, bk.ID, "test"))
				_, err = b.runner.DownloadOpen(ctx, token)
				require.Equal(t, lifeboat.EGONE, lifeboat.ErrorCode(err))
			} else {
				status, body := httpGet(t, d.URL)
				require.Equal(t, http.StatusOK, status)
				got = body
				u, err := url.Parse(d.URL)
				require.NoError(t, err)
				require.Equal(t, "900", u.Query().Get("X-Amz-Expires"))
				require.NoError(t, b.store.ArtifactPrune(ctx, bk.ID, "test"))
			}
			require.True(t, bytes.Equal(stored, got), "the download is the stored object, still encrypted")
			require.Equal(t, bk.SHA256, sha256Hex(got))
			require.True(t, bytes.HasPrefix(got, []byte("age-encryption.org/v1")))

			// Pruned: not listed by default, gone for downloads.
			_, err = b.runner.BackupDownload(ctx, bk.ID, time.Minute)
			require.Equal(t, lifeboat.EGONE, lifeboat.ErrorCode(err))
			page, _, err := b.runner.BackupList(ctx, lifeboat.BackupFilter{Target: "app", Limit: 1})
			require.NoError(t, err)
			require.Equal(t, fakes[2], page[0].ID)
			page, _, err = b.runner.BackupList(ctx, lifeboat.BackupFilter{Target: "app", Limit: 1, IncludePruned: true})
			require.NoError(t, err)
			require.Equal(t, bk.ID, page[0].ID)
			require.NotNil(t, page[0].PrunedAt)
			require.Equal(t, "test", page[0].PrunedReason)
			pruned, err := b.runner.BackupGet(ctx, bk.ID)
			require.NoError(t, err)
			require.Contains(t, pruned.ManifestError, "pruned")

			for _, ttl := range []time.Duration{-time.Second, time.Millisecond, lifeboat.MaxDownloadTTL + time.Second} {
				_, err := b.runner.BackupDownload(ctx, older.ID, ttl)
				require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err), "ttl %s", ttl)
			}
			d, err = b.runner.BackupDownload(ctx, older.ID, 90*time.Second)
			require.NoError(t, err)
			require.WithinDuration(t, time.Now().Add(90*time.Second), d.ExpiresAt, 5*time.Second)
		})
	}
}

func storedBytes(t *testing.T, b *bundle, key string) []byte {
	t.Helper()
	rc, err := b.blobs.Get(context.Background(), key)
	require.NoError(t, err)
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	require.NoError(t, err)
	return raw
}

func httpGet(t *testing.T, u string) (int, []byte) {
	t.Helper()
	resp, err := (&http.Client{Timeout: time.Minute}).Get(u)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

// waitRestore waits until a restore has ended.
func (b *bundle) waitRestore(t *testing.T, id int64) lifeboat.Restore {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		rs, err := b.runner.RestoreGet(context.Background(), id)
		require.NoError(t, err)
		if rs.Status.Finished() {
			return rs
		}
		require.True(t, time.Now().Before(deadline), "restore %d still %s after 3 minutes", id, rs.Status)
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRestoreBackup(t *testing.T) {
	t.Parallel()
	b := setup(t, options{storage: storageFS})
	ctx := context.Background()
	run := b.runToEnd(t)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)

	into := testenv.CreateDB(t, "lbdr_")
	u, err := url.Parse(into)
	require.NoError(t, err)
	password, ok := u.User.Password()
	require.True(t, ok && len(password) >= 8, "the test cluster's URL carries a password")

	// Into an empty database: restored, and checked against the manifest.
	rs, err := b.runner.RestoreBackup(ctx, lifeboat.RestoreRequest{BackupID: run.ID, DatabaseURL: into})
	require.NoError(t, err)
	// Read back after the commit: a worker may already have taken it.
	require.Contains(t, []lifeboat.RestoreStatus{lifeboat.RestoreQueued, lifeboat.RestoreRunning}, rs.Status)
	require.Equal(t, run.ID, rs.BackupID)
	require.Equal(t, "app", rs.Target)
	require.NotContains(t, rs.DatabaseURL, password)
	require.Contains(t, rs.DatabaseURL, "postgres@")
	rs = b.waitRestore(t, rs.ID)
	require.Equal(t, lifeboat.RestoreSucceeded, rs.Status, "error: %s\nlogs: %v", rs.Error, rs.Logs)
	require.NotEmpty(t, rs.Checks)
	for _, c := range rs.Checks {
		require.True(t, c.Passed, "%s: expected %s observed %s", c.Name, c.Expected, c.Observed)
	}
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customers"))
	require.EqualValues(t, 3000, testenv.QueryInt(t, into, "SELECT count(*) FROM orders"))
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customer_totals"))
	require.NotEmpty(t, rs.Logs)
	require.Contains(t, logText(rs.Logs), "pg_restore finished without errors")
	require.JSONEq(t, `"`+string(lifeboat.RestoreSucceeded)+`"`, mustJSON(t, rs.Status))
	var metrics struct {
		StoredBytes int64 `json:"stored_bytes"`
	}
	require.NoError(t, json.Unmarshal(rs.Metrics, &metrics))
	require.Equal(t, run.Artifact.StoredBytes, metrics.StoredBytes)

	// Not empty any more: refused at once without clean.
	_, err = b.runner.RestoreBackup(ctx, lifeboat.RestoreRequest{BackupID: run.ID, DatabaseURL: into})
	require.Equal(t, lifeboat.ECONFLICT, lifeboat.ErrorCode(err))
	require.Contains(t, err.Error(), "database_url: database is not empty")

	// With clean: the backup's objects are dropped and recreated, data and
	// all; objects that are not in the backup stay.
	testenv.Exec(t, into, `DELETE FROM orders WHERE id > 10; INSERT INTO customers (email) VALUES ('late@example.com');
		CREATE TABLE keep_me (x int); INSERT INTO keep_me VALUES (1);`)
	rs, err = b.runner.RestoreBackup(ctx, lifeboat.RestoreRequest{BackupID: run.ID, DatabaseURL: into, Clean: true})
	require.NoError(t, err)
	require.True(t, rs.Clean)
	rs = b.waitRestore(t, rs.ID)
	require.Equal(t, lifeboat.RestoreSucceeded, rs.Status, "error: %s\nlogs: %v", rs.Error, rs.Logs)
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customers"))
	require.EqualValues(t, 3000, testenv.QueryInt(t, into, "SELECT count(*) FROM orders"))
	require.EqualValues(t, 1, testenv.QueryInt(t, into, "SELECT count(*) FROM keep_me"))

	// Refused requests.
	for _, tc := range []struct {
		req  lifeboat.RestoreRequest
		code string
	}{
		{lifeboat.RestoreRequest{BackupID: run.ID, DatabaseURL: "mysql://x@y/z"}, lifeboat.EINVALID},
		{lifeboat.RestoreRequest{BackupID: run.ID, DatabaseURL: "not a url"}, lifeboat.EINVALID},
		{lifeboat.RestoreRequest{BackupID: run.ID, DatabaseURL: strings.Replace(into, u.Host, "127.0.0.1:1", 1)}, lifeboat.EINVALID},
		{lifeboat.RestoreRequest{BackupID: run.ID + 100000, DatabaseURL: into}, lifeboat.ENOTFOUND},
	} {
		_, err := b.runner.RestoreBackup(ctx, tc.req)
		require.Equal(t, tc.code, lifeboat.ErrorCode(err), "%+v: %v", tc.req.DatabaseURL, err)
		require.NotContains(t, err.Error(), password)
	}
	wrong := *u
	wrong.User = url.UserPassword("postgres", "Wr0ngPassw0rdForDR")
	_, err = b.runner.RestoreBackup(ctx, lifeboat.RestoreRequest{BackupID: run.ID, DatabaseURL: wrong.String()})
	require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err))
	require.Contains(t, err.Error(), "password authentication failed")
	require.NotContains(t, err.Error(), "Wr0ngPassw0rdForDR")

	// The password is nowhere lifeboat keeps or shows things: not in the
	// restores rows (whose sealed URL is erased once they end), their
	// logs, River's job args, the process log, or what RestoreGet returns.
	for _, q := range []string{
		"SELECT coalesce(string_agg(row_to_json(r)::text, ' '), '') FROM restores r",
		"SELECT coalesce(string_agg(row_to_json(l)::text, ' '), '') FROM restore_logs l",
		"SELECT coalesce(string_agg(args::text || coalesce(errors::text, ''), ' '), '') FROM river_job WHERE kind = 'lifeboat.restore_into'",
	} {
		text := queryText(t, b.stateURL, q)
		require.NotEmpty(t, text, q)
		require.NotContains(t, text, password, q)
	}
	require.EqualValues(t, 0, testenv.QueryInt(t, b.stateURL, "SELECT count(*) FROM restores WHERE database_url_sealed IS NOT NULL"))
	require.NotContains(t, b.logs.String(), password)
	got, err := b.runner.RestoreGet(ctx, rs.ID)
	require.NoError(t, err)
	require.NotContains(t, mustJSON(t, got), password)
	_, err = b.runner.RestoreGet(ctx, rs.ID+1000)
	require.Equal(t, lifeboat.ENOTFOUND, lifeboat.ErrorCode(err))
}

// TestRestoreRefusedAtWork: the worker checks the database again, since it
// may have filled between the request and the job.
func TestRestoreRefusedAtWork(t *testing.T) {
	t.Parallel()
	b := setup(t, options{storage: storageFS, noStart: true})
	ctx := context.Background()
	id := b.fakeBackup(t)
	into := testenv.CreateDB(t, "lbdr_")
	rs, err := b.runner.RestoreBackup(ctx, lifeboat.RestoreRequest{BackupID: id, DatabaseURL: into})
	require.NoError(t, err)
	testenv.Exec(t, into, "CREATE TABLE arrived_meanwhile (x int)")
	require.NoError(t, b.runner.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.runner.Stop(sctx)
	})
	rs = b.waitRestore(t, rs.ID)
	require.Equal(t, lifeboat.RestoreFailed, rs.Status)
	require.Contains(t, rs.Error, "database_url: database is not empty (1 relations)")
	require.Equal(t, 1, rs.Attempt, "a refusal is final, not retried")
	require.Contains(t, logText(rs.Logs), "restore failed")
	require.EqualValues(t, 1, testenv.QueryInt(t, into, "SELECT count(*) FROM pg_class WHERE relname = 'arrived_meanwhile'"))
}

func logText(lines []lifeboat.LogLine) string {
	var sb strings.Builder
	for _, l := range lines {
		sb.WriteString(l.Level + " " + l.Message + "\n")
	}
	return sb.String()
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

func queryText(t *testing.T, u, sql string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	defer conn.Close(ctx)
	var s string
	require.NoError(t, conn.QueryRow(ctx, sql).Scan(&s))
	return s
}
