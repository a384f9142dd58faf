package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// backupBundle is a lifeboat with one verified backup of "app" on fs or S3
// storage, served with a real token (no base_url: download URLs are made
// from the request).
type backupBundle struct {
	srv      string
	client   *http.Client // adds the bearer token
	store    *store.Store
	blobs    blob.Store
	stateURL string
	run      lifeboat.Run
}

func backupSetup(t *testing.T, s3 bool) *backupBundle {
	t.Helper()
	stateURL := testenv.CreateDB(t, "lbstate_")
	sourceURL := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, sourceURL, testenv.SeedSQL)
	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	storage := "{name: main, kind: fs, path: ./backups}"
	if s3 {
		e := testenv.S3HTTP(t)
		storage = fmt.Sprintf(`{name: main, kind: s3, bucket: %s, prefix: lb/, endpoint: %q, region: %s, access_key_id: %q, secret_access_key: "${S3_SECRET}"}`,
			testenv.RandomName("lb-"), e.Endpoint, e.Region, e.AccessKey)
	}
	doc := `database_url: ${STATE_URL}
restore:
  sandbox_dir: ${SANDBOX_DIR}
encryption:
  age_identity_file: ./age.key
storages:
  - ` + storage + `
outbound:
  allow: [127.0.0.0/8]
targets:
  - name: app
    database_url: ${SOURCE_URL}
    storage: main
`
	env := map[string]string{"STATE_URL": stateURL, "SANDBOX_DIR": testenv.SandboxDir(t), "SOURCE_URL": sourceURL,
		"S3_SECRET": os.Getenv("LIFEBOAT_TEST_S3_SECRET_KEY"), "PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	w := lbtest.Wire(t, stateURL, doc, dir, env, &testenv.SyncBuffer{})
	runner, err := jobs.New(w.Deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	ctx := context.Background()
	require.NoError(t, runner.Start(ctx))
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = runner.Stop(sctx)
	})
	wctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	run, err := runner.StartRun(wctx, "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	run, err = runner.WaitRun(wctx, run.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, run.Error)

	s := &api.Server{Runs: runner, Sched: runner, Reader: w.Store, DB: w.Pool, Spec: lifeboat.OpenAPI, Logger: w.Log,
		Backups: runner}
	srv, _ := serveAPI(t, s, w.Store)
	return &backupBundle{srv: srv.URL, client: srv.Client(), store: w.Store, blobs: w.Deps.Stores["main"],
		stateURL: stateURL, run: run}
}

// call sends a request with the token; body "" sends none.
func (b *backupBundle) call(t *testing.T, method, path, body string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, b.srv+path, rd)
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := b.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, out
}

func (b *backupBundle) callJSON(t *testing.T, method, path, body string, want int, v any) *http.Response {
	t.Helper()
	resp, out := b.call(t, method, path, body)
	require.Equal(t, want, resp.StatusCode, "%s %s: %s", method, path, out)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	if v != nil {
		require.NoError(t, json.Unmarshal(out, v), "body: %s", out)
	}
	return resp
}

// requireProblem checks an RFC 9457 answer and returns its detail.
func (b *backupBundle) requireProblem(t *testing.T, method, path, body string, status int) string {
	t.Helper()
	resp, out := b.call(t, method, path, body)
	return checkProblem(t, resp, out, status)
}

func checkProblem(t *testing.T, resp *http.Response, body []byte, status int) string {
	t.Helper()
	require.Equal(t, status, resp.StatusCode, "%s", body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p problem
	require.NoError(t, json.Unmarshal(body, &p), "body: %s", body)
	require.Equal(t, status, p.Status)
	require.Equal(t, http.StatusText(status), p.Title)
	return p.Detail
}

// fakeBackups inserts n backups of app newer than the real one (their
// objects were never stored).
func (b *backupBundle) fakeBackups(t *testing.T, n int) []int64 {
	t.Helper()
	var ids []int64
	for i := 0; i < n; i++ {
		id := testenv.QueryInt(t, b.stateURL, `INSERT INTO runs (target, trigger, status, storage, artifact_key, stored_bytes, raw_bytes, sha256)
			VALUES ('app', 'api', 'succeeded', 'main', 'pending', 10, 20, repeat('b', 64)) RETURNING id`)
		testenv.Exec(t, b.stateURL, fmt.Sprintf(`UPDATE runs SET artifact_key = 'app/2026/01/01/%d.dump.zst.age' WHERE id = %d`, id, id))
		ids = append(ids, id)
	}
	return ids
}

type backupList struct {
	Backups    []lifeboat.Backup `json:"backups"`
	NextCursor *string           `json:"next_cursor"`
}

func TestBackupsOverHTTP(t *testing.T) {
	t.Parallel()
	b := backupSetup(t, false)
	ctx := context.Background()
	fakes := b.fakeBackups(t, 3)

	// Pages of two, newest first.
	var ids []int64
	path := "/api/v1/targets/app/backups?limit=2"
	for pages := 1; ; pages++ {
		var page backupList
		b.callJSON(t, http.MethodGet, path, "", http.StatusOK, &page)
		require.LessOrEqual(t, len(page.Backups), 2)
		for _, bk := range page.Backups {
			ids = append(ids, bk.ID)
			require.Nil(t, bk.Manifest, "lists carry no manifest")
		}
		if page.NextCursor == nil {
			require.Equal(t, 2, pages)
			break
		}
		path = "/api/v1/targets/app/backups?limit=2&cursor=" + url.QueryEscape(*page.NextCursor)
	}
	require.Equal(t, []int64{fakes[2], fakes[1], fakes[0], b.run.ID}, ids)
	for _, bad := range []string{"?limit=0", "?limit=201", "?cursor=nope", "?include_pruned=maybe", "?verified=true"} {
		detail := b.requireProblem(t, http.MethodGet, "/api/v1/targets/app/backups"+bad, "", http.StatusBadRequest)
		name, _, _ := strings.Cut(strings.TrimPrefix(bad, "?"), "=")
		require.Contains(t, detail, name, "the detail names the parameter")
	}
	b.requireProblem(t, http.MethodGet, "/api/v1/targets/nope/backups", "", http.StatusNotFound)
	resp, _ := send(t, http.MethodGet, b.srv+"/api/v1/targets/app/backups", "", "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)

	// One backup, with its manifest.
	var bk lifeboat.Backup
	b.callJSON(t, http.MethodGet, fmt.Sprintf("/api/v1/backups/%d", b.run.ID), "", http.StatusOK, &bk)
	require.Equal(t, b.run.ID, bk.ID)
	require.Equal(t, b.run.Artifact.Key, bk.Key)
	require.Equal(t, b.run.Artifact.SHA256, bk.SHA256)
	require.True(t, bk.Verified)
	var m struct {
		RunID  int64 `json:"run_id"`
		SHA256 string
		Source struct {
			Tables []struct {
				Name string
				Rows int64
			}
		}
	}
	require.NoError(t, json.Unmarshal(bk.Manifest, &m))
	require.Equal(t, b.run.ID, m.RunID)
	require.Equal(t, bk.SHA256, m.SHA256)
	rows := map[string]int64{}
	for _, tb := range m.Source.Tables {
		rows[tb.Name] = tb.Rows
	}
	require.Equal(t, map[string]int64{"customers": 500, "orders": 3000}, rows)
	b.requireProblem(t, http.MethodGet, fmt.Sprintf("/api/v1/backups/%d", b.run.ID+100000), "", http.StatusNotFound)
	b.requireProblem(t, http.MethodGet, "/api/v1/backups/0", "", http.StatusBadRequest)
	b.requireProblem(t, http.MethodGet, "/api/v1/backups/x", "", http.StatusBadRequest)

	// A download URL on this server; the token is the only authorization.
	var d lifeboat.BackupDownload
	b.callJSON(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/download", bk.ID), "", http.StatusOK, &d)
	require.True(t, strings.HasPrefix(d.URL, b.srv+"/downloads/"), d.URL)
	require.WithinDuration(t, time.Now().Add(15*time.Minute), d.ExpiresAt, 5*time.Second)
	require.Contains(t, d.Decrypt, "lifeboat restore")
	stored := readObject(t, b.blobs, bk.Key)
	resp, body := send(t, http.MethodGet, d.URL, "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.True(t, bytes.Equal(stored, body), "the stored, still encrypted object")
	require.Equal(t, "application/octet-stream", resp.Header.Get("Content-Type"))
	require.Equal(t, fmt.Sprintf(`attachment; filename=app-%d.dump.zst.age`, bk.ID), resp.Header.Get("Content-Disposition"))
	sum := sha256.Sum256(body)
	require.Equal(t, "sha-256=:"+base64.StdEncoding.EncodeToString(sum[:])+":", resp.Header.Get("Repr-Digest"))
	// A broken download resumes with a range.
	req, err := http.NewRequest(http.MethodGet, d.URL, nil)
	require.NoError(t, err)
	req.Header.Set("Range", "bytes=100-199")
	rresp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	part, err := io.ReadAll(rresp.Body)
	require.NoError(t, rresp.Body.Close())
	require.NoError(t, err)
	require.Equal(t, http.StatusPartialContent, rresp.StatusCode)
	require.Equal(t, stored[100:200], part)

	var short lifeboat.BackupDownload
	b.callJSON(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/download", bk.ID), `{"expires_in": 60}`, http.StatusOK, &short)
	require.WithinDuration(t, time.Now().Add(time.Minute), short.ExpiresAt, 5*time.Second)
	for _, bad := range []string{`{"expires_in": 901}`, `{"expires_in": 0}`, `{"expires_in": "soon"}`, `{"ttl": 60}`} {
		detail := b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/download", bk.ID), bad, http.StatusBadRequest)
		require.Contains(t, detail, "body.")
	}

	// Tampered, expired, or no token at all.
	token := strings.TrimPrefix(d.URL, b.srv+"/downloads/")
	flip := "A"
	if token[20:21] == flip {
		flip = "B"
	}
	resp, body = send(t, http.MethodGet, b.srv+"/downloads/"+token[:20]+flip+token[21:], "", "")
	checkProblem(t, resp, body, http.StatusForbidden)
	resp, body = send(t, http.MethodGet, b.srv+"/downloads/not-a-token", "", "")
	checkProblem(t, resp, body, http.StatusForbidden)
	key, err := b.store.ServerKey(ctx, "download")
	require.NoError(t, err)
	resp, body = send(t, http.MethodGet, b.srv+"/downloads/"+blob.SignDownload(key, bk.ID, time.Now().Add(-time.Second)), "", "")
	require.Contains(t, checkProblem(t, resp, body, http.StatusGone), "expired")
	resp, body = send(t, http.MethodGet, b.srv+"/downloads/", "", "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "%s", body)

	// Disaster recovery into an empty database, then over it with clean.
	into := testenv.CreateDB(t, "lbdr_")
	u, err := url.Parse(into)
	require.NoError(t, err)
	password, _ := u.User.Password()
	require.NotEmpty(t, password)
	reqBody := func(clean bool) string {
		raw, err := json.Marshal(map[string]any{"database_url": into, "clean": clean})
		require.NoError(t, err)
		return string(raw)
	}
	var rs lifeboat.Restore
	resp = b.callJSON(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/restore", bk.ID), reqBody(false), http.StatusAccepted, &rs)
	require.Equal(t, fmt.Sprintf("/api/v1/restores/%d", rs.ID), resp.Header.Get("Location"))
	// Read back after the commit: a worker may already have taken it.
	require.Contains(t, []lifeboat.RestoreStatus{lifeboat.RestoreQueued, lifeboat.RestoreRunning}, rs.Status)
	require.Equal(t, bk.ID, rs.BackupID)
	rs = b.waitRestore(t, rs.ID)
	require.Equal(t, lifeboat.RestoreSucceeded, rs.Status, "%s %v", rs.Error, rs.Logs)
	require.NotEmpty(t, rs.Checks)
	require.NotEmpty(t, rs.Logs)
	require.EqualValues(t, 500, testenv.QueryInt(t, into, "SELECT count(*) FROM customers"))
	require.EqualValues(t, 3000, testenv.QueryInt(t, into, "SELECT count(*) FROM orders"))

	detail := b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/restore", bk.ID), reqBody(false), http.StatusConflict)
	require.Contains(t, detail, "database_url: database is not empty")
	testenv.Exec(t, into, "TRUNCATE orders")
	b.callJSON(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/restore", bk.ID), reqBody(true), http.StatusAccepted, &rs)
	require.True(t, rs.Clean)
	rs = b.waitRestore(t, rs.ID)
	require.Equal(t, lifeboat.RestoreSucceeded, rs.Status, "%s %v", rs.Error, rs.Logs)
	require.EqualValues(t, 3000, testenv.QueryInt(t, into, "SELECT count(*) FROM orders"))

	for body, want := range map[string]int{
		`{}`:                            http.StatusBadRequest,
		`{"database_url": ""}`:          http.StatusBadRequest,
		`{"database_url": "mysql://x"}`: http.StatusBadRequest,
		`{"database_url": 5}`:           http.StatusBadRequest,
		`{"url": "postgres://x/y"}`:     http.StatusBadRequest,
		`{"database_url": "` + strings.Replace(into, u.Host, "127.0.0.1:1", 1) + `"}`: http.StatusBadRequest,
	} {
		detail := b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/restore", bk.ID), body, want)
		require.NotContains(t, detail, password)
	}
	b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/restore", b.run.ID+100000), reqBody(false), http.StatusNotFound)
	b.requireProblem(t, http.MethodGet, fmt.Sprintf("/api/v1/restores/%d", rs.ID+1000), "", http.StatusNotFound)
	b.requireProblem(t, http.MethodGet, "/api/v1/restores/0", "", http.StatusBadRequest)

	// Pruned: gone for downloads and restores, listed only on request.
	require.NoError(t, b.store.ArtifactPrune(ctx, bk.ID, "keep_last"))
	resp, body = send(t, http.MethodGet, d.URL, "", "")
	require.Contains(t, checkProblem(t, resp, body, http.StatusGone), "pruned")
	b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/download", bk.ID), "", http.StatusGone)
	b.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/restore", bk.ID), reqBody(true), http.StatusGone)
	var page backupList
	b.callJSON(t, http.MethodGet, "/api/v1/targets/app/backups", "", http.StatusOK, &page)
	require.Len(t, page.Backups, 3)
	b.callJSON(t, http.MethodGet, "/api/v1/targets/app/backups?include_pruned=true", "", http.StatusOK, &page)
	require.Len(t, page.Backups, 4)
	require.Equal(t, "keep_last", page.Backups[3].PrunedReason)
	require.Nil(t, page.NextCursor)
	// (serveAPI's clean-up checks that no response held the database password.)
}

func TestBackupDownloadS3OverHTTP(t *testing.T) {
	t.Parallel()
	b := backupSetup(t, true)
	var d lifeboat.BackupDownload
	b.callJSON(t, http.MethodPost, fmt.Sprintf("/api/v1/backups/%d/download", b.run.ID), `{"expires_in": 120}`, http.StatusOK, &d)
	u, err := url.Parse(d.URL)
	require.NoError(t, err)
	require.Equal(t, "120", u.Query().Get("X-Amz-Expires"), "a presigned GET of the bucket itself")
	resp, body := send(t, http.MethodGet, d.URL, "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.True(t, bytes.Equal(readObject(t, b.blobs, b.run.Artifact.Key), body))
	require.Equal(t, d.SHA256, fmt.Sprintf("%x", sha256.Sum256(body)))
}

func readObject(t *testing.T, st blob.Store, key string) []byte {
	t.Helper()
	rc, err := st.Get(context.Background(), key)
	require.NoError(t, err)
	defer rc.Close()
	raw, err := io.ReadAll(rc)
	require.NoError(t, err)
	return raw
}

// waitRestore polls GET /api/v1/restores/{id} until the restore has ended.
func (b *backupBundle) waitRestore(t *testing.T, id int64) lifeboat.Restore {
	t.Helper()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var rs lifeboat.Restore
		b.callJSON(t, http.MethodGet, fmt.Sprintf("/api/v1/restores/%d", id), "", http.StatusOK, &rs)
		if rs.Status.Finished() {
			return rs
		}
		require.True(t, time.Now().Before(deadline), "restore %d still %s after 3 minutes", id, rs.Status)
		time.Sleep(200 * time.Millisecond)
	}
}
