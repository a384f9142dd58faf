package jobs_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

// A chat that refuses the report is recorded with why, in the report
// stage's metrics (what the run and target pages show), never its URL;
// the run's outcome does not change.
func TestReportRecordsWhyANotifierFailed(t *testing.T) {
	t.Parallel()
	b := setup(t, options{noStart: true})
	down := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "maintenance", http.StatusServiceUnavailable)
	}))
	t.Cleanup(down.Close)
	const token = "T0KEN-in-the-chat-url"
	chat, err := notify.NewSlack("chat", down.URL+"/services/"+token, loopback())
	require.NoError(t, err)
	deps := b.deps
	deps.Senders = maps.Clone(b.deps.Senders)
	deps.Senders["chat"] = chat
	r, err := jobs.New(deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	startRunner(t, r)

	run, err := r.StartRun(t.Context(), "app", lifeboat.TriggerAPI)
	require.NoError(t, err)
	run = waitEnd(t, r, run.ID)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "a notifier never changes the outcome")
	report, ok := run.StageByName(lifeboat.StageReport)
	require.True(t, ok)
	var m struct {
		Failed []string          `json:"failed"`
		Errors map[string]string `json:"errors"`
	}
	require.NoError(t, json.Unmarshal(report.Metrics, &m), "%s", report.Metrics)
	require.Equal(t, []string{"chat"}, m.Failed)
	require.Contains(t, m.Errors["chat"], "503")
	require.NotContains(t, string(report.Metrics), token)
}
