package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/lifeboat-dev/lifeboat"
)

// StatsReader reads lifeboat's figures from its database (store.Store).
type StatsReader interface {
	Stats(ctx context.Context, targets []string) (lifeboat.Stats, error)
}

// statsTimeout bounds the database read of one scrape.
const statsTimeout = 10 * time.Second

// NewMetrics returns the /metrics handler (Prometheus text format): the Go
// and process collectors, and lifeboat's figures read from its database at
// each scrape, so every process of a deployment reports the same values.
// names returns the configured targets and notifiers at each scrape (the
// catalog changes while lifeboat runs): their series exist (at 0) before
// anything happened to them, so rate() and alerts see the first increase. When the database cannot be read the scrape fails (HTTP 500),
// which Prometheus records as up == 0.
func NewMetrics(src StatsReader, names ConfiguredNames, log *slog.Logger) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		newStatsCollector(src, names),
	)
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:      promLogger{log},
		ErrorHandling: promhttp.HTTPErrorOnError,
	})
}

// GetMetrics serves the Prometheus scrape (its handler negotiates the format).
func (s *Server) GetMetrics(ctx context.Context, _ GetMetricsRequestObject) (GetMetricsResponseObject, error) {
	if s.Metrics == nil {
		return nil, lifeboat.Errorf(lifeboat.ENOTFOUND, "metrics are not served by this process")
	}
	return raw(ctx, s.Metrics.ServeHTTP), nil
}

// finishedStatuses are the statuses a run never leaves: counted by
// lifeboat_runs_total, which therefore only ever grows.
var finishedStatuses = []lifeboat.RunStatus{lifeboat.RunSucceeded, lifeboat.RunFailed, lifeboat.RunCanceled}

// activeStatuses come and go: lifeboat_runs_in_progress is a gauge.
var activeStatuses = []lifeboat.RunStatus{lifeboat.RunQueued, lifeboat.RunRunning}

// ConfiguredNames returns the configured targets and notifiers.
type ConfiguredNames func() (targets, notifiers []string)

type statsCollector struct {
	src                 StatsReader
	names               ConfiguredNames
	runs, active        *prometheus.Desc
	lastVerified, bytes *prometheus.Desc
	stageDuration       *prometheus.Desc
	notifierFailures    *prometheus.Desc
}

func newStatsCollector(src StatsReader, names ConfiguredNames) *statsCollector {
	return &statsCollector{
		src: src, names: names,
		runs: prometheus.NewDesc("lifeboat_runs_total",
			"Finished runs by target and final status (succeeded, failed, canceled), over lifeboat's whole history.",
			[]string{"target", "status"}, nil),
		active: prometheus.NewDesc("lifeboat_runs_in_progress",
			"Runs not yet finished, by target and status (queued, running).",
			[]string{"target", "status"}, nil),
		lastVerified: prometheus.NewDesc("lifeboat_last_verified_backup_timestamp_seconds",
			"When the target's newest verified backup was taken (its dump finished), as a Unix time; 0 if it has none.",
			[]string{"target"}, nil),
		bytes: prometheus.NewDesc("lifeboat_backup_stored_bytes",
			"Size in storage of the target's newest verified backup.",
			[]string{"target"}, nil),
		stageDuration: prometheus.NewDesc("lifeboat_stage_duration_seconds",
			"How long stages took, observed once as each stage ended.",
			[]string{"target", "stage"}, nil),
		notifierFailures: prometheus.NewDesc("lifeboat_notifier_delivery_failures_total",
			"Failed deliveries by notifier: run reports a notifier did not accept, and watchdog alerts given up after their retries.",
			[]string{"notifier"}, nil),
	}
}

func (c *statsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.runs, c.active, c.lastVerified, c.bytes, c.stageDuration, c.notifierFailures} {
		ch <- d
	}
}

func (c *statsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), statsTimeout)
	defer cancel()
	targets, notifiers := c.names()
	st, err := c.src.Stats(ctx, targets)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.runs, fmt.Errorf("read lifeboat's figures: %w", err))
		return
	}

	// Runs: configured targets at 0 first, then the history's counts.
	type key struct{ target, status string }
	counts := map[key]int64{}
	for _, t := range targets {
		for _, s := range append(append([]lifeboat.RunStatus{}, finishedStatuses...), activeStatuses...) {
			counts[key{t, string(s)}] = 0
		}
	}
	for _, rc := range st.Runs {
		counts[key{rc.Target, string(rc.Status)}] = rc.Count
	}
	for k, n := range counts {
		if lifeboat.RunStatus(k.status).Finished() {
			ch <- prometheus.MustNewConstMetric(c.runs, prometheus.CounterValue, float64(n), k.target, k.status)
		} else {
			ch <- prometheus.MustNewConstMetric(c.active, prometheus.GaugeValue, float64(n), k.target, k.status)
		}
	}

	for _, t := range st.Targets {
		ts := 0.0
		if t.LastVerifiedAt != nil {
			ts = float64(t.LastVerifiedAt.UnixNano()) / 1e9
			ch <- prometheus.MustNewConstMetric(c.bytes, prometheus.GaugeValue, float64(t.LastVerifiedStoredBytes), t.Target)
		}
		ch <- prometheus.MustNewConstMetric(c.lastVerified, prometheus.GaugeValue, ts, t.Target)
	}

	for _, h := range st.StageDurations {
		buckets := make(map[float64]uint64, len(h.Buckets))
		for _, b := range h.Buckets {
			buckets[b.UpperBound] = b.Count
		}
		ch <- prometheus.MustNewConstHistogram(c.stageDuration, h.Count, h.SumSeconds, buckets, h.Target, string(h.Stage))
	}

	failures := map[string]int64{}
	for _, n := range notifiers {
		failures[n] = 0
	}
	for n, v := range st.NotifierFailures {
		failures[n] = v
	}
	for n, v := range failures {
		ch <- prometheus.MustNewConstMetric(c.notifierFailures, prometheus.CounterValue, float64(v), n)
	}
}

// promLogger sends promhttp's errors (a failed scrape) to the process log.
type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) { l.log.Error("metrics: " + fmt.Sprint(v...)) }
