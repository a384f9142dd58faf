package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
)

// scrape GETs /metrics and parses the text format.
func scrape(t *testing.T, srv *httptest.Server) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/plain")
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(resp.Body)
	require.NoError(t, err)
	return families
}

// series finds the metric of family name with exactly these labels.
func series(t *testing.T, families map[string]*dto.MetricFamily, name string, labels map[string]string) *dto.Metric {
	t.Helper()
	f, ok := families[name]
	require.True(t, ok, "no family %s", name)
	var seen []string
	for _, m := range f.GetMetric() {
		got := map[string]string{}
		for _, l := range m.GetLabel() {
			got[l.GetName()] = l.GetValue()
		}
		if len(got) == len(labels) {
			match := true
			for k, v := range labels {
				match = match && got[k] == v
			}
			if match {
				return m
			}
		}
		seen = append(seen, m.String())
	}
	sort.Strings(seen)
	t.Fatalf("%s%v not found; have %v", name, labels, seen)
	return nil
}

func TestMetricsAfterRuns(t *testing.T) {
	t.Parallel()
	b := setupLive(t, liveOptions{})
	b.start(t)

	// Before any run: the configured targets and notifiers are there at 0.
	f := scrape(t, b.srv)
	require.Zero(t, series(t, f, "lifeboat_runs_total", map[string]string{"target": "app", "status": "succeeded"}).GetCounter().GetValue())
	require.Zero(t, series(t, f, "lifeboat_last_verified_backup_timestamp_seconds", map[string]string{"target": "app"}).GetGauge().GetValue())
	require.Zero(t, series(t, f, "lifeboat_notifier_delivery_failures_total", map[string]string{"notifier": "chat"}).GetCounter().GetValue())
	require.NotContains(t, f, "lifeboat_backup_stored_bytes", "no verified backup, no size")

	ok := b.waitRun(t, b.createRun(t, "app"))
	require.Equal(t, lifeboat.RunSucceeded, ok.Status, ok.Error)
	bad := b.waitRun(t, b.createRun(t, "broken"))
	require.Equal(t, lifeboat.RunFailed, bad.Status)
	// The report's chat message is a delivery, retried until given up: a
	// failure once it is.
	require.Eventually(t, func() bool {
		ds, err := b.runner.DeliveryList(context.Background(), bad.ID)
		require.NoError(t, err)
		return len(ds) == 1 && ds[0].Status == lifeboat.DeliveryFailed
	}, time.Minute, 20*time.Millisecond, "broken's chat message is given up")

	start := time.Now()
	f = scrape(t, b.srv)
	t.Logf("scrape took %s", time.Since(start))

	counter := func(name string, labels map[string]string) float64 {
		return series(t, f, name, labels).GetCounter().GetValue()
	}
	gauge := func(name string, labels map[string]string) float64 {
		return series(t, f, name, labels).GetGauge().GetValue()
	}
	require.EqualValues(t, 1, counter("lifeboat_runs_total", map[string]string{"target": "app", "status": "succeeded"}))
	require.EqualValues(t, 0, counter("lifeboat_runs_total", map[string]string{"target": "app", "status": "failed"}))
	require.EqualValues(t, 1, counter("lifeboat_runs_total", map[string]string{"target": "broken", "status": "failed"}))
	require.EqualValues(t, 0, counter("lifeboat_runs_total", map[string]string{"target": "broken", "status": "succeeded"}))
	require.EqualValues(t, 0, gauge("lifeboat_runs_in_progress", map[string]string{"target": "app", "status": "running"}))

	// When the verified backup was taken: its backup stage's end.
	backup, found := ok.StageByName(lifeboat.StageBackup)
	require.True(t, found)
	require.NotNil(t, backup.FinishedAt)
	require.InDelta(t, float64(backup.FinishedAt.UnixNano())/1e9,
		gauge("lifeboat_last_verified_backup_timestamp_seconds", map[string]string{"target": "app"}), 0.001)
	require.Zero(t, gauge("lifeboat_last_verified_backup_timestamp_seconds", map[string]string{"target": "broken"}),
		"a target without a verified backup reports 0: an alert on its age fires")
	require.EqualValues(t, ok.Artifact.StoredBytes, gauge("lifeboat_backup_stored_bytes", map[string]string{"target": "app"}))
	require.NotContains(t, f["lifeboat_backup_stored_bytes"].String(), `value:"broken"`)

	for _, target := range []string{"app", "broken"} {
		for _, stage := range lifeboat.Stages {
			h := series(t, f, "lifeboat_stage_duration_seconds", map[string]string{"target": target, "stage": string(stage)}).GetHistogram()
			require.EqualValues(t, 1, h.GetSampleCount(), "%s/%s: each stage ended once", target, stage)
			require.Positive(t, h.GetSampleSum(), "%s/%s", target, stage)
			last := h.GetBucket()[len(h.GetBucket())-1]
			require.EqualValues(t, 1, last.GetCumulativeCount(), "%s/%s took under %gs", target, stage, last.GetUpperBound())
		}
	}
	require.Len(t, f["lifeboat_stage_duration_seconds"].GetMetric(), 8)

	require.EqualValues(t, 1, counter("lifeboat_notifier_delivery_failures_total", map[string]string{"notifier": "chat"}),
		"broken's report could not reach chat")

	// Go and process collectors ride along.
	require.Contains(t, f, "go_goroutines")
	require.Contains(t, f, "process_resident_memory_bytes")
}

// TestMetricsWhenTheDatabaseFails: the scrape fails (up == 0 for
// Prometheus) rather than reporting made-up zeros.
func TestMetricsWhenTheDatabaseFails(t *testing.T) {
	t.Parallel()
	log := slog.New(slog.DiscardHandler)
	s := &api.Server{Spec: lifeboat.OpenAPI, Logger: log, Metrics: api.NewMetrics(failingStats{}, func() ([]string, []string) { return []string{"app"}, nil }, log)}
	srv := httptest.NewServer(s.Routes())
	t.Cleanup(srv.Close)
	resp, err := srv.Client().Get(srv.URL + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusInternalServerError, resp.StatusCode)

	// Not wired: a 404 problem.
	s.Metrics = nil
	resp, err = srv.Client().Get(srv.URL + "/metrics")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode)
}

type failingStats struct{}

func (failingStats) Stats(context.Context, []string) (lifeboat.Stats, error) {
	return lifeboat.Stats{}, context.DeadlineExceeded
}
