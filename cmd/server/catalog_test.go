package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// hookReceiver records signed webhook deliveries.
type hookReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newHookReceiver(t *testing.T, secret string) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.Verify([][]byte{[]byte(secret)}, r.Header, body, time.Now(), 5*time.Minute); err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		h.mu.Lock()
		h.bodies = append(h.bodies, string(body))
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookReceiver) types() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, b := range h.bodies {
		var p struct{ Type string }
		_ = json.Unmarshal([]byte(b), &p)
		out = append(out, p.Type)
	}
	return out
}

func TestTargetsStoragesNotifiersThroughTheAPI(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	// fs storages through the API only under outbound.fs_roots.
	doc := f.config(t, f.stateURL, defaultChecks) + fmt.Sprintf("outbound:\n  allow: [127.0.0.0/8]\n  fs_roots: [%q]\n", f.dir)
	cfg := f.writeConfig(t, "lifeboat.yaml", doc)
	f.migrate(t, cfg)
	srv := startServe(t, f, cfg)
	const hookSecret = "whsec_" + "c2VjcmV0LWZvci10aGUtdGVzdC1ob29r"
	hook := newHookReceiver(t, "secret-for-the-test-hook")

	var responses []string
	call := func(method, path, body string, want int) map[string]any {
		t.Helper()
		var rd io.Reader
		if body != "" {
			rd = strings.NewReader(body)
		}
		req, err := http.NewRequest(method, srv.base+path, rd)
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.client.Do(req)
		require.NoError(t, err)
		b := readAll(t, resp)
		responses = append(responses, string(b))
		require.Equal(t, want, resp.StatusCode, "%s %s: %s", method, path, b)
		var out map[string]any
		_ = json.Unmarshal(b, &out)
		return out
	}

	backups := filepath.Join(f.dir, "api-backups")
	st := call("POST", "/api/v1/storages", fmt.Sprintf(`{"name": "extra", "kind": "fs", "path": %q}`, backups), 201)
	require.Equal(t, "api", st["source"])
	n := call("POST", "/api/v1/notifiers", fmt.Sprintf(`{"name": "hook", "kind": "webhook", "url": %q, "secret": %q}`,
		hook.URL+"/in?token=hook-url-token", hookSecret), 201)
	require.Equal(t, map[string]any{"set": true}, n["url"])
	require.Equal(t, "127.0.0.1", n["host"])

	// Validation is the config file's, naming fields of the body.
	for body, want := range map[string]string{
		`{"name": "bad", "database_url": "postgres://x@h/db", "storage": "extra", "schedule": "* * *"}`:                  "body.schedule",
		`{"name": "bad", "database_url": "postgres://x@h/db", "storage": "nowhere"}`:                                     "body.storage",
		`{"name": "bad", "database_url": "postgres://x@h/db", "storage": "extra", "colour": "blue"}`:                     "body.colour: unknown field",
		`{"name": "bad", "database_url_file": "/etc/shadow", "storage": "extra"}`:                                        "body.database_url_file",
		`{"name": "Bad Name", "database_url": "postgres://x@h/db", "storage": "extra"}`:                                  "body.name",
		`{"name": "bad", "database_url": "postgres://x@h/db", "storage": "extra", "stage_timeout": "1y"}`:                "body.stage_timeout",
		`{"name": "bad", "database_url": "postgres://x@h/db", "storage": "extra", "gates": {"table_rows_drop": "150%"}}`: "body.gates.table_rows_drop",
	} {
		p := call("POST", "/api/v1/targets", body, 400)
		require.Contains(t, p["detail"], want, body)
	}
	call("POST", "/api/v1/targets", `{"name": "app", "database_url": "postgres://x@h/db", "storage": "main"}`, 409)

	tg := call("POST", "/api/v1/targets", fmt.Sprintf(`{"name": "app2", "database_url": %q, "storage": "extra",
		"notify": ["hook"], "stage_timeout": "30m", "gates": {"total_rows_drop": "30%%", "tables": [{"name": "public.sessions", "rows_drop": "off"}]},
		"checks": [{"name": "customers", "sql": "SELECT count(*) FROM customers", "expect": ">= 1"}]}`, f.sourceURL), 201)
	require.Equal(t, "api", tg["source"])
	require.Equal(t, map[string]any{"set": true}, tg["database_url"])
	require.EqualValues(t, 1800, tg["stage_timeout_seconds"])
	// /metrics knows the new target at once (its series start at 0).
	resp, err := http.Get(srv.base + "/metrics")
	require.NoError(t, err)
	require.Contains(t, string(readAll(t, resp)), `lifeboat_runs_total{status="failed",target="app2"} 0`)

	// The new target runs at once, into the new storage, notifying the new webhook.
	run := call("POST", "/api/v1/targets/app2/runs", "", 202)
	id := int64(run["id"].(float64))
	var got lifeboat.Run
	require.Eventually(t, func() bool {
		resp, err := srv.client.Get(fmt.Sprintf("%s/api/v1/runs/%d", srv.base, id))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(readAll(t, resp), &got))
		return got.Status.Finished()
	}, 2*time.Minute, 200*time.Millisecond)
	require.Equal(t, lifeboat.RunSucceeded, got.Status, got.Error)
	require.Equal(t, "extra", got.Artifact.Storage)
	require.FileExists(t, filepath.Join(backups, got.Artifact.Key))
	require.Eventually(t, func() bool { return len(hook.types()) >= 2 }, 30*time.Second, 100*time.Millisecond)
	require.Equal(t, []string{"run.started", "run.succeeded"}, hook.types())

	// Tests: a storage probe leaves nothing behind; a notifier gets a test event.
	probe := call("POST", "/api/v1/storages/extra/test", "", 200)
	require.Equal(t, true, probe["ok"], probe)
	require.Len(t, probe["steps"], 3)
	probe = call("POST", "/api/v1/notifiers/hook/test", "", 200)
	require.Equal(t, true, probe["ok"], probe)
	require.Contains(t, hook.types(), "lifeboat.test")

	// Replace keeps the secrets the body leaves out.
	call("PUT", "/api/v1/targets/app2", `{"database_url": "", "storage": "extra", "schedule": "0 3 * * *"}`, 200)
	run = call("POST", "/api/v1/targets/app2/runs", "", 202)
	require.Eventually(t, func() bool {
		resp, err := srv.client.Get(fmt.Sprintf("%s/api/v1/runs/%d", srv.base, int64(run["id"].(float64))))
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(readAll(t, resp), &got))
		return got.Status.Finished()
	}, 2*time.Minute, 200*time.Millisecond)
	require.Equal(t, lifeboat.RunSucceeded, got.Status, "the stored password still works: %s", got.Error)

	// Secrets are stored encrypted: neither the password, the S3-style key
	// nor the webhook URL's token is in the database in clear.
	conn, err := pgx.Connect(context.Background(), f.stateURL)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var dump []byte
	require.NoError(t, conn.QueryRow(context.Background(),
		`SELECT string_agg(kind || name || spec::text || coalesce(encode(secrets, 'escape'), ''), '|') FROM managed_items`).Scan(&dump))
	for _, secret := range []string{f.sourcePass, "hook-url-token", hookSecret} {
		require.False(t, bytes.Contains(dump, []byte(secret)), "a secret is stored in clear")
	}

	// Deletes: in use is a conflict naming the use; the file's are the file's.
	p := call("DELETE", "/api/v1/storages/extra", "", 409)
	require.Contains(t, p["detail"], "storage")
	call("DELETE", "/api/v1/storages/main", "", 409)
	call("PUT", "/api/v1/targets/app", `{"database_url": "postgres://x@h/db", "storage": "main"}`, 409)
	call("DELETE", "/api/v1/targets/app2", "", 200)
	call("GET", "/api/v1/targets/app2", "", 404)
	call("DELETE", "/api/v1/notifiers/hook", "", 200)
	call("DELETE", "/api/v1/storages/extra", "", 200)
	call("DELETE", "/api/v1/storages/extra", "", 404)

	for i, r := range responses {
		for _, secret := range []string{f.sourcePass, "hook-url-token", hookSecret, srv.token} {
			require.NotContains(t, r, secret, "response %d", i)
		}
	}
}
