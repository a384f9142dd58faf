package main

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
)

// TestServeWatching boots `lifeboat serve` as main does and watches a run
// the ways an operator would: /readyz, a live log tail to its end, /metrics;
// then shuts down with a tail still open, which must not hold the shutdown.
func TestServeWatching(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)

	srv := startServe(t, f, cfg)
	base, stderr, cancel, done := srv.base, srv.stderr, srv.cancel, srv.done
	ctx := t.Context()
	client := &http.Client{Transport: srv.client.Transport}

	resp, err := client.Get(base + "/readyz")
	require.NoError(t, err)
	var ready map[string]string
	require.NoError(t, json.Unmarshal(readAll(t, resp), &ready))
	require.Equal(t, http.StatusOK, resp.StatusCode, "%v", ready)
	require.Equal(t, "ok", ready["river"], "serve runs workers")

	startRun := func() string {
		t.Helper()
		resp, err := client.Post(base+"/api/v1/targets/app/runs?queue=true", "application/json", nil)
		require.NoError(t, err)
		body := readAll(t, resp)
		require.Equal(t, http.StatusAccepted, resp.StatusCode, "body: %s", body)
		return resp.Header.Get("Location")
	}
	// tail opens the live tail of a run and returns its lines as they come.
	tail := func(ctx context.Context, location string) <-chan string {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+location+"/logs", nil)
		require.NoError(t, err)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := client.Do(req)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		lines := make(chan string, 4096)
		go func() {
			defer close(lines)
			defer resp.Body.Close()
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		return lines
	}

	// A live tail of a run from its start to its end.
	var stream strings.Builder
	for line := range tail(ctx, startRun()) {
		stream.WriteString(line + "\n")
	}
	text := stream.String()
	require.Contains(t, text, "pg_restore finished without errors", "the tail carried the restore stage")
	require.Contains(t, text, "event: end\ndata: {", "the tail ended with end")
	end := text[strings.LastIndex(text, "data: ")+len("data: "):]
	var e struct{ Status lifeboat.RunStatus }
	require.NoError(t, json.Unmarshal([]byte(strings.TrimSpace(end)), &e), "end data: %s", end)
	require.Equal(t, lifeboat.RunSucceeded, e.Status)

	resp, err = client.Get(base + "/metrics")
	require.NoError(t, err)
	metrics := string(readAll(t, resp))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, metrics, `lifeboat_runs_total{status="succeeded",target="app"} 1`+"\n")
	require.Contains(t, metrics, `lifeboat_last_verified_backup_timestamp_seconds{target="app"} `)
	require.Contains(t, metrics, `lifeboat_stage_duration_seconds_count{stage="restore",target="app"} 1`+"\n")

	// Shutdown with a tail open: the tail ends and serve returns cleanly.
	lines := tail(context.Background(), startRun())
	require.Eventually(t, func() bool { return len(lines) > 0 }, 30*time.Second, 10*time.Millisecond, "the second tail started")
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		require.NoError(t, err, "stderr:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not return within 30s of cancellation")
	}
	t.Logf("serve returned %s after cancellation, with a live tail open", time.Since(start))
	closed := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-lines:
			if !ok {
				return
			}
		case <-closed:
			t.Fatal("the open tail was not closed by the shutdown")
		}
	}
}
