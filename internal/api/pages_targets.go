package api

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

const (
	// targetHistoryRuns is how many runs the target page charts.
	targetHistoryRuns = 100
	// targetBackups is how many stored backups the target page lists.
	targetBackups = 20
)

// handleOverview answers "are my backups good?": each target's health,
// last run and sparkline. Two queries whatever the history's size: the
// targets' health and their last views.SparkRuns runs.
func (s *Server) handleOverview(w http.ResponseWriter, r *http.Request) {
	p := s.page(w, r)
	targets, err := s.pageTargets(r.Context())
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	rows, _, err := s.targetRows(r.Context(), targets, views.SparkRuns, p.Now)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	render(w, r, http.StatusOK, views.OverviewPage(views.OverviewView{Page: p, Targets: rows}))
}

// pageTargets are the configured targets by name; none in a process wired
// without them.
func (s *Server) pageTargets(ctx context.Context) ([]TargetConfig, error) {
	if s.TargetSource == nil {
		return nil, nil
	}
	return s.targetsSorted(ctx)
}

// targetRows reads the health and the newest n runs of targets, and
// returns their rows and those runs (newest first) by target.
func (s *Server) targetRows(ctx context.Context, targets []TargetConfig, n int, now time.Time) ([]views.TargetRow, map[string][]lifeboat.Run, error) {
	if len(targets) == 0 {
		return nil, nil, nil
	}
	if s.Pages == nil {
		return nil, nil, lifeboat.Errorf(lifeboat.EINTERNAL, "the dashboard's reader is not wired in this process")
	}
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.Name
	}
	health, err := s.Health.TargetHealth(ctx, names)
	if err != nil {
		return nil, nil, err
	}
	history, err := s.Pages.RunHistory(ctx, names, n)
	if err != nil {
		return nil, nil, err
	}
	rows := make([]views.TargetRow, len(targets))
	for i, t := range targets {
		h := health[t.Name]
		row := views.TargetRow{Name: t.Name, Schedule: t.Schedule, Timezone: t.Timezone, Paused: h.Paused, Overdue: h.Overdue, NextRunAt: h.NextDue}
		if t.Timezone != "" {
			if zone, err := time.LoadLocation(t.Timezone); err == nil {
				row.Zone = zone
			}
		}
		if v := h.LastVerified; v != nil {
			// The age that matters is the data's: when the verified backup
			// was taken (earlier than its verification for a retry).
			at := v.BackupAt
			row.LastVerifiedAt = &at
		}
		if row.NextRunAt == nil && !row.Paused && t.Schedule != "" {
			// The scheduler has not seen this target yet (just added):
			// its first slot still comes from its schedule.
			info, err := s.Sched.ScheduleInfo(ctx, t.Name)
			if err != nil {
				return nil, nil, err
			}
			if len(info.Upcoming) > 0 {
				row.NextRunAt = &info.Upcoming[0]
			}
		}
		if runs := history[t.Name]; len(runs) > 0 {
			last := views.Summarize(runs[0], now)
			row.LastRun = &last
			row.History = views.HistoryOf(runs)
		}
		rows[i] = row
	}
	return rows, history, nil
}

// targetNamed is the configured target called name, or ENOTFOUND.
func (s *Server) targetNamed(ctx context.Context, name string) (TargetConfig, error) {
	targets, err := s.pageTargets(ctx)
	if err != nil {
		return TargetConfig{}, err
	}
	i := slices.IndexFunc(targets, func(t TargetConfig) bool { return t.Name == name })
	if i < 0 {
		return TargetConfig{}, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("No target is named %q.", name)}
	}
	return targets[i], nil
}

// handleTarget shows one target: health, schedule, history, backups,
// notifications and its configuration with secrets masked.
func (s *Server) handleTarget(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := s.page(w, r)
	t, err := s.targetNamed(ctx, chi.URLParam(r, "name"))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v, err := s.targetView(ctx, t, p)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	render(w, r, http.StatusOK, views.TargetPage(v))
}

func (s *Server) targetView(ctx context.Context, t TargetConfig, p views.Page) (views.TargetView, error) {
	v := views.TargetView{Page: p}
	rows, history, err := s.targetRows(ctx, []TargetConfig{t}, targetHistoryRuns, p.Now)
	if err != nil {
		return v, err
	}
	v.Target = rows[0]
	if v.Schedule, err = s.Sched.ScheduleInfo(ctx, t.Name); err != nil {
		return v, err
	}
	if v.Schedule.Timezone != "" {
		if zone, err := time.LoadLocation(v.Schedule.Timezone); err == nil {
			v.ScheduleZone = zone
		}
	}
	if s.Dashboard == nil {
		return v, lifeboat.Errorf(lifeboat.EINTERNAL, "the dashboard's configuration is not wired in this process")
	}
	dbURL, err := s.Dashboard.TargetDatabaseURL(ctx, t.Name)
	if err != nil {
		return v, err
	}
	v.Config = targetSettings(t, dbURL)
	if v.Backups, err = s.backupRows(ctx, t.Name); err != nil {
		return v, err
	}
	if v.Restores, v.MoreRestores, err = s.targetRestoreRows(ctx, t.Name, p); err != nil {
		return v, err
	}
	v.IdentityFile = s.Dashboard.AgeIdentityFile(ctx)
	if s.Backups != nil {
		if v.Undecryptable, err = s.Backups.BackupsUndecryptable(ctx, t.Name); err != nil {
			return v, err
		}
	}
	v.Deliveries, err = s.targetDeliveries(ctx, t, history[t.Name])
	return v, err
}

// targetSettings is a target's configuration summary; dbURL is already
// masked and TargetConfig holds no other secret.
func targetSettings(t TargetConfig, dbURL views.Redacted) views.TargetConfig {
	c := views.TargetConfig{DatabaseURL: dbURL, Storage: t.Storage, Notify: t.Notify, RowCounts: t.RowCounts,
		StageTimeout: t.StageTimeout, MaxAge: t.MaxAge, Overlap: t.Overlap, TriggerSecretSet: t.TriggerSecretSet,
		Retention: views.RetentionConfig{KeepLast: t.Retention.KeepLast, KeepDaily: t.Retention.KeepDaily,
			KeepWeekly: t.Retention.KeepWeekly, KeepMonthly: t.Retention.KeepMonthly, KeepYearly: t.Retention.KeepYearly,
			MinVerified: t.Retention.MinVerified, UnverifiedGrace: t.Retention.UnverifiedGrace}}
	for _, ch := range t.Checks {
		c.Checks = append(c.Checks, views.CheckConfig{Name: ch.Name, SQL: ch.SQL, Expect: ch.Expect})
	}
	return c
}

// backupRows lists a target's newest stored backups with whether each was
// proven to restore.
func (s *Server) backupRows(ctx context.Context, target string) ([]views.BackupRow, error) {
	backups, _, err := s.Backups.BackupList(ctx, lifeboat.BackupFilter{Target: target, Limit: targetBackups})
	if lifeboat.ErrorCode(err) == lifeboat.ENOTFOUND {
		return nil, nil // configured but never run
	}
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(backups))
	for i, b := range backups {
		ids[i] = b.RunID
	}
	statuses, err := s.Pages.RunStatuses(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]views.BackupRow, len(backups))
	for i, b := range backups {
		status := statuses[b.RunID]
		if b.Verified {
			// A retry may have verified the backup of a run that failed.
			status = lifeboat.RunSucceeded
		}
		out[i] = views.BackupRow{RunID: b.RunID, CreatedAt: b.CreatedAt, Storage: b.Storage, Key: b.Key,
			SHA256: b.SHA256, StoredBytes: b.StoredBytes, Status: status, Copies: b.Copies}
	}
	return out, nil
}

// notifierKinds maps each configured notifier to its kind.
func (s *Server) notifierKinds(ctx context.Context) (map[string]string, error) {
	if s.Dashboard == nil {
		return nil, lifeboat.Errorf(lifeboat.EINTERNAL, "the dashboard's configuration is not wired in this process")
	}
	ns, err := s.Dashboard.Notifiers(ctx)
	if err != nil {
		return nil, err
	}
	kinds := make(map[string]string, len(ns))
	for _, n := range ns {
		kinds[n.Name] = n.Kind
	}
	return kinds, nil
}

// targetDeliveries is each of the target's notifiers' latest delivery: a
// webhook's newest recorded delivery about the recent runs, and for chat
// and heartbeats what the newest reported run's report stage did.
func (s *Server) targetDeliveries(ctx context.Context, t TargetConfig, runs []lifeboat.Run) ([]views.DeliveryRow, error) {
	if len(t.Notify) == 0 || len(runs) == 0 {
		return nil, nil
	}
	kinds, err := s.notifierKinds(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, len(runs))
	for i, r := range runs {
		ids[i] = r.ID
	}
	hooks, err := s.Pages.DeliveriesLatest(ctx, ids)
	if err != nil {
		return nil, err
	}
	byNotifier := map[string]views.DeliveryRow{}
	for _, d := range hooks {
		byNotifier[d.Notifier] = deliveryRow(d, kinds)
	}
	// The newest run that has been reported: its report stage's metrics
	// say which notifiers heard about it (RunHistory carries no metrics).
	for _, r := range runs {
		if r.Status.Finished() && r.FinishedAt != nil {
			full, err := s.Reader.RunGet(ctx, r.ID)
			if err != nil {
				return nil, err
			}
			for _, row := range reportRows(full, kinds) {
				if _, ok := byNotifier[row.Notifier]; !ok {
					byNotifier[row.Notifier] = row
				}
			}
			break
		}
	}
	var out []views.DeliveryRow
	for _, n := range t.Notify {
		if row, ok := byNotifier[n]; ok {
			out = append(out, row)
		}
	}
	return out, nil
}

// deliveryRow shows a recorded delivery (chat, heartbeat or webhook).
func deliveryRow(d lifeboat.Delivery, kinds map[string]string) views.DeliveryRow {
	kind := kinds[d.Notifier]
	if kind == "" {
		kind = "webhook" // a notifier no longer configured: before chat went through deliveries, only webhooks did
	}
	row := views.DeliveryRow{Notifier: d.Notifier, Kind: kind, Event: d.Event, RunID: d.RunID,
		Attempts: d.Attempts, LastError: d.LastError, At: d.CreatedAt}
	switch d.Status {
	case lifeboat.DeliveryDelivered:
		row.State = views.StatusDelivered
	case lifeboat.DeliveryFailed:
		row.State = views.StatusFailed
	default:
		row.State = views.StatusPending
	}
	if d.LastStatusCode != nil {
		row.ResponseCode = *d.LastStatusCode
	}
	if d.LastAttemptAt != nil {
		row.At = *d.LastAttemptAt
	}
	return row
}

// reportMetrics are the keys of the report stage's metrics the pages read
// (pipeline.ReportMetrics; api may not import pipeline).
type reportMetrics struct {
	Event     string            `json:"event"`
	Delivered []string          `json:"delivered"`
	Failed    []string          `json:"failed"`
	NotSent   []string          `json:"not_sent"`
	Errors    map[string]string `json:"errors"`
}

// reportRows is what run's report stage recorded for each notifier: those
// it did not tell (not_sent) and, for runs reported before chat and
// heartbeats went through deliveries, what it sent itself; none before the
// report has finished.
func reportRows(run lifeboat.Run, kinds map[string]string) []views.DeliveryRow {
	st, ok := run.StageByName(lifeboat.StageReport)
	if !ok || st.FinishedAt == nil || len(st.Metrics) == 0 {
		return nil
	}
	var m reportMetrics
	if json.Unmarshal(st.Metrics, &m) != nil {
		return nil
	}
	var out []views.DeliveryRow
	add := func(names []string, state views.Status, attempts int) {
		for _, n := range names {
			row := views.DeliveryRow{Notifier: n, Kind: kinds[n], Event: m.Event, RunID: run.ID,
				State: state, Attempts: attempts, At: *st.FinishedAt}
			if state == views.StatusFailed {
				row.LastError = m.Errors[n]
			}
			out = append(out, row)
		}
	}
	add(m.Delivered, views.StatusDelivered, 1)
	add(m.Failed, views.StatusFailed, 1)
	add(m.NotSent, views.StatusNotSent, 0)
	return out
}
