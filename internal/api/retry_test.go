package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestRetryOverHTTP: POST /api/v1/runs/{id}/retry of a run that failed at
// verify answers 202 with a new run that reuses the backup; retrying what
// cannot be retried is a 404, 400 or 409 saying why.
func TestRetryOverHTTP(t *testing.T) {
	t.Parallel()
	var verifyFailed, holdBackups atomic.Bool
	release := make(chan struct{})
	b := setupRuns(t, runsOptions{afterStage: func(ctx context.Context, _ int64, stage lifeboat.StageName) error {
		switch {
		case stage == lifeboat.StageVerify && verifyFailed.CompareAndSwap(false, true):
			return lifeboat.Permanent(errors.New("injected verify failure"))
		case stage == lifeboat.StageBackup && holdBackups.Load():
			select { // the test looks at the run while it is active
			case <-release:
			case <-ctx.Done():
			}
		}
		return nil
	}})
	h := &testBundle{runner: b.runner}
	h.start(t)
	// The bundle's server has no Retrier; this one, beside it, needs a
	// token name of its own (tokens are named after the test).
	t.Run("with retries", func(t *testing.T) {
		s := &api.Server{Runs: b.runner, Retrier: b.runner, Reader: b.store, DB: b.store.Pool(), Spec: lifeboat.OpenAPI,
			Logger: testLogger(t)}
		h.srv, _ = serveAPI(t, s, b.store)
		retryOverHTTP(t, b, h, &holdBackups, release)
	})
}

// retryOverHTTP is TestRetryOverHTTP against h's server; while holdBackups
// is set, backup stages wait for release.
func retryOverHTTP(t *testing.T, b *runsBundle, h *testBundle, holdBackups *atomic.Bool, release chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	first, _ := b.postRun(t, "app", "", "", http.StatusAccepted)
	first, err := b.runner.WaitRun(ctx, first.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunFailed, first.Status)
	require.Contains(t, first.Error, "verify: injected verify failure")

	resp, body := h.do(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/retry", first.ID))
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "body: %s", body)
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var retry lifeboat.Run
	require.NoError(t, json.Unmarshal(body, &retry))
	require.Equal(t, fmt.Sprintf("/api/v1/runs/%d", retry.ID), resp.Header.Get("Location"))
	require.Equal(t, lifeboat.TriggerRetry, retry.Trigger)
	require.Equal(t, lifeboat.RunQueued, retry.Status)
	require.Equal(t, first.ID, *retry.RetryOf)
	require.Equal(t, lifeboat.StageSkipped, retry.Stages[0].Status)
	require.Equal(t, first.Artifact.Key, retry.Artifact.Key)
	require.Equal(t, first.ID, retry.Artifact.ReusedFromRun)

	retry, err = b.runner.WaitRun(ctx, retry.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunSucceeded, retry.Status, "error: %s", retry.Error)
	var got map[string]any
	h.getJSON(t, fmt.Sprintf("/api/v1/runs/%d", retry.ID), http.StatusOK, &got)
	require.Equal(t, "retry", got["trigger"])
	require.EqualValues(t, first.ID, got["retry_of"])
	artifact := got["artifact"].(map[string]any)
	require.EqualValues(t, first.ID, artifact["reused_from_run"])
	require.Equal(t, first.Artifact.SHA256, artifact["sha256"])
	backup := got["stages"].([]any)[0].(map[string]any)
	require.Equal(t, "skipped", backup["status"])
	require.EqualValues(t, first.ID, backup["metrics"].(map[string]any)["reused_from_run"])

	// What cannot be retried.
	p := h.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/retry", retry.ID), http.StatusConflict)
	require.Contains(t, p.Detail, fmt.Sprintf("run %d is succeeded: only a failed or canceled run can be retried", retry.ID))
	p = h.requireProblem(t, http.MethodPost, "/api/v1/runs/999999999/retry", http.StatusNotFound)
	require.Contains(t, p.Detail, "run 999999999 not found")
	p = h.requireProblem(t, http.MethodPost, "/api/v1/runs/0/retry", http.StatusBadRequest)
	require.Contains(t, p.Detail, "id: 0 is not a run id")
	p = h.requireProblem(t, http.MethodPost, "/api/v1/runs/abc/retry", http.StatusBadRequest)
	require.Contains(t, p.Detail, "id")
	p = h.requireProblem(t, http.MethodGet, fmt.Sprintf("/api/v1/runs/%d/retry", first.ID), http.StatusMethodNotAllowed)
	require.Contains(t, p.Detail, "GET is not allowed")

	// While the target has an active run, a retry is refused naming it.
	holdBackups.Store(true)
	active, _ := b.postRun(t, "app", "", "", http.StatusAccepted)
	p = h.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/retry", first.ID), http.StatusConflict)
	require.Contains(t, p.Detail, fmt.Sprintf(`target "app" already has an active run %d`, active.ID))
	p = h.requireProblem(t, http.MethodPost, fmt.Sprintf("/api/v1/runs/%d/retry", active.ID), http.StatusConflict)
	require.Contains(t, p.Detail, fmt.Sprintf("run %d is", active.ID))
	require.Contains(t, p.Detail, "only a failed or canceled run can be retried")
	close(release)
	active, err = b.runner.WaitRun(ctx, active.ID)
	require.NoError(t, err)
	require.Equal(t, lifeboat.RunSucceeded, active.Status)
	require.Equal(t, int64(3), testenv.QueryInt(t, b.stateURL, "SELECT count(*) FROM runs"), "refused retries created nothing")
}
