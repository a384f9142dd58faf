package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/schedule"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// WatchdogArgs is the periodic watchdog pass: lifeboat's own dead man's
// switch for targets that have gone without a verified backup.
type WatchdogArgs struct{}

func (WatchdogArgs) Kind() string { return "lifeboat.watchdog" }

type watchdogWorker struct {
	river.WorkerDefaults[WatchdogArgs]
	r *Runner
}

func (w *watchdogWorker) Work(ctx context.Context, _ *river.Job[WatchdogArgs]) error {
	return w.r.Watchdog(ctx)
}

func (w *watchdogWorker) Timeout(*river.Job[WatchdogArgs]) time.Duration { return 5 * time.Minute }

// watchdogJobs registers the watchdog, on every process.
func (r *Runner) watchdogJobs(workers *river.Workers, opts Options) []*river.PeriodicJob {
	river.AddWorker(workers, &watchdogWorker{r: r})
	return []*river.PeriodicJob{every(opts.WatchdogInterval, WatchdogArgs{})}
}

// Delivery of the watchdog's alerts. Each alert is a row written in the
// transaction that changed the target's overdue state (an outbox), sent
// after commit by whichever process passes next. A failed send is retried
// on later passes up to alertMaxAttempts times (about five minutes at the
// default interval), then given up and logged at error level; a permanent
// failure (a 4xx, a refused address) is given up at once. An alert is
// never retried forever, and a crash between commit and send loses none.
const (
	alertMaxAttempts = 5
	alertLease       = 5 * time.Minute // a claimed alert is another process's after this
	alertSendTimeout = 30 * time.Second
	alertBatch       = 100
)

// graceFactor is the default window over the schedule's interval: one
// interval plus 50 %.
const graceFactor = 1.5

// Watchdog compares each watched target's last verified backup with its
// window and sends one alert when the target goes overdue and one when a
// verified backup puts it back inside its window, never one per pass.
//
// A target is watched when it has a schedule or a max_age, and is not
// paused. Its silence counts from its newest succeeded run's finished_at,
// or, never verified, from when lifeboat first saw it (target_state's
// created_at). Each target is checked and changed in its own transaction
// holding its target_state row lock, so watchdogs of several processes
// alert once between them; notifications go out after commit.
func (r *Runner) Watchdog(ctx context.Context) error {
	now := r.deps.Now()
	var errs []error
	conf := r.conf() // one catalog for the whole pass, as Tick
	for i := range conf.Targets {
		t := &conf.Targets[i]
		if t.Schedule == "" && t.MaxAge <= 0 {
			continue
		}
		if err := r.watchTarget(ctx, t, now); err != nil {
			errs = append(errs, fmt.Errorf("watchdog %s: %w", t.Name, err))
		}
	}
	if err := r.deliverAlerts(ctx); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (r *Runner) watchTarget(ctx context.Context, t *config.Target, now time.Time) error {
	var changed *store.Alert
	err := r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		changed = nil
		st, last, err := tx.WatchdogLock(ctx, t.Name, now)
		if err != nil || st.Paused {
			return err
		}
		since := st.CreatedAt
		if last != nil {
			since = last.BackupAt
		}
		if st.ResumedAt != nil && st.ResumedAt.After(since) {
			since = *st.ResumedAt // a paused target had no reason to be fresh
		}
		window, err := watchWindow(t, since)
		if err != nil {
			return err
		}
		overdue := now.Sub(since) > window
		a := store.Alert{Target: t.Name, WatchedSince: st.CreatedAt, Window: window, CreatedAt: now}
		if last != nil {
			a.LastVerifiedAt, a.LastVerifiedRunID = &last.BackupAt, &last.RunID
		}
		switch {
		case overdue && st.OverdueSince == nil:
			a.Kind, a.OverdueSince = store.AlertOverdue, now
			err = tx.OverdueSet(ctx, t.Name, now)
		case !overdue && st.OverdueSince != nil && last != nil:
			// A verified backup inside the window again. Freshness, rather
			// than "finished after overdue_since", is the test, so that
			// recovering and going overdue use one rule and cannot flap.
			a.Kind, a.OverdueSince = store.AlertRecovered, *st.OverdueSince
			err = tx.OverdueSet(ctx, t.Name, time.Time{})
		default:
			return nil
		}
		if err != nil {
			return err
		}
		changed = &a
		return tx.AlertsCreate(ctx, a, r.notifiersTaking(t, notify.Kind(a.Kind)))
	})
	if err != nil || changed == nil {
		return err
	}
	log := r.deps.Logger.With("target", t.Name, "window", changed.Window.String())
	if changed.Kind == store.AlertOverdue {
		log.Warn("target overdue: no verified backup within its window", "since", sinceText(changed))
	} else {
		log.Info("target recovered: verified backup inside its window again", "overdue_since", changed.OverdueSince)
	}
	return nil
}

func sinceText(a *store.Alert) string {
	if a.LastVerifiedAt == nil {
		return "never verified; first seen " + a.WatchedSince.UTC().Format(time.RFC3339)
	}
	return a.LastVerifiedAt.UTC().Format(time.RFC3339)
}

// watchWindow is how old t's last verified backup (or, never verified, its
// first sight) at since may get: max_age when set, else 1.5 × the gap
// between the schedule's slot at or before since and the next one. The gap
// around since, rather than the one after now, keeps a weekday schedule
// (0 3 * * 1-5) from going overdue every Saturday: Friday's backup is given
// 1.5 × 72 h. For an evenly spaced schedule both are one interval.
func watchWindow(t *config.Target, since time.Time) (time.Duration, error) {
	if t.MaxAge > 0 {
		return t.MaxAge, nil
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return 0, fmt.Errorf("timezone: %w", err)
	}
	sched, err := schedule.Parse(t.Schedule, loc)
	if err != nil {
		return 0, fmt.Errorf("schedule: %w", err)
	}
	gap := slotGap(sched, since)
	if gap <= 0 {
		return 0, fmt.Errorf("schedule %q has no next slot after %s", t.Schedule, since.Format(time.RFC3339))
	}
	return time.Duration(float64(gap) * graceFactor), nil
}

// slotGap returns the time between the last slot at or before t and the
// next slot after it, looking back in widening steps (a yearly schedule
// needs a long look, a minutely one a short one).
func slotGap(s *schedule.Schedule, t time.Time) time.Duration {
	next := s.Next(t)
	if next.IsZero() {
		return 0
	}
	for _, back := range []time.Duration{48 * time.Hour, 32 * 24 * time.Hour, 400 * 24 * time.Hour} {
		if prev, _ := s.Latest(t.Add(-back), t); !prev.IsZero() {
			return next.Sub(prev)
		}
	}
	return s.Interval(t)
}

// notifiersTaking returns the names of t's notifiers that take kind (for
// target events: chat and webhooks, not heartbeats).
func (r *Runner) notifiersTaking(t *config.Target, kind notify.Kind) []string {
	var out []string
	for _, name := range t.Notify {
		if s, ok := r.catalog().Senders[name]; ok && notify.Accepts(s, kind) {
			out = append(out, name)
		}
	}
	return out
}

// deliverAlerts sends one batch of pending alerts. One batch per pass: an
// alert whose send fails waits for the next pass rather than spinning.
func (r *Runner) deliverAlerts(ctx context.Context) error {
	alerts, err := r.deps.Store.AlertsClaim(ctx, r.deps.Now(), alertLease, alertBatch)
	if err != nil {
		return err
	}
	var errs []error
	for _, a := range alerts {
		if err := r.deliverAlert(ctx, a); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// deliverAlert sends a and records the outcome. A failed send is logged,
// not returned: the watchdog job itself did its work.
func (r *Runner) deliverAlert(ctx context.Context, a store.Alert) error {
	log := r.deps.Logger.With("target", a.Target, "alert", string(a.Kind), "notifier", a.Notifier, "attempt", a.Attempts)
	sender, ok := r.catalog().Senders[a.Notifier]
	if !ok {
		log.Error("watchdog alert lost: notifier is no longer configured")
		return r.deps.Store.AlertFailed(ctx, a.ID, "notifier is no longer configured", true, r.deps.Now())
	}
	status := notify.TargetStatus{Name: a.Target, LastVerifiedAt: a.LastVerifiedAt, WatchedSince: a.WatchedSince,
		Window: a.Window, OverdueSince: a.OverdueSince}
	var run lifeboat.Run
	var runURL string
	if a.LastVerifiedRunID != nil {
		status.LastVerifiedRunID = *a.LastVerifiedRunID
		if a.Kind == store.AlertRecovered {
			run = lifeboat.Run{ID: *a.LastVerifiedRunID, Target: a.Target, Status: lifeboat.RunSucceeded, FinishedAt: a.LastVerifiedAt}
			runURL = r.runURL(run.ID)
		}
	}
	ev := notify.NewTargetEvent(notify.Kind(a.Kind), status, run, runURL, a.CreatedAt)
	sctx, cancel := context.WithTimeout(ctx, alertSendTimeout)
	err := sender.Send(sctx, ev)
	cancel()
	now := r.deps.Now()
	if err == nil {
		return r.deps.Store.AlertDelivered(context.WithoutCancel(ctx), a.ID, now)
	}
	giveUp := lifeboat.IsPermanent(err) || a.Attempts >= alertMaxAttempts
	if giveUp {
		log.Error("watchdog alert lost: giving up", "err", err)
	} else {
		log.Warn("watchdog alert not delivered; will retry on the next pass", "err", err)
	}
	return r.deps.Store.AlertFailed(context.WithoutCancel(ctx), a.ID, err.Error(), giveUp, now)
}

// signalRunStarted tells the run's notifiers that take run.started
// (healthchecks and cronitor heartbeats) that it began. The run's first stage
// (firstStage) calls it before its work; only the first attempt signals, so a retry does
// not restart the service's timer. A failed signal is logged in the run's
// log and never fails the stage.
func (r *Runner) signalRunStarted(ctx context.Context, run lifeboat.Run, stage lifeboat.StageName, attempt int, log *slog.Logger) {
	if stage != firstStage(run) || attempt != 1 {
		return
	}
	t, ok, err := r.runTarget(ctx, run, false)
	if err != nil || !ok {
		return
	}
	ev := notify.NewStartedEvent(run, r.runURL(run.ID), r.deps.Now())
	for _, name := range r.notifiersTaking(t, notify.KindRunStarted) {
		if deliveredByJob(r.catalog().Senders[name]) {
			continue // queued with the stage's start (deliveries.go)
		}
		sctx, cancel := context.WithTimeout(ctx, alertSendTimeout)
		err := r.catalog().Senders[name].Send(sctx, ev)
		cancel()
		if err != nil {
			log.Warn(fmt.Sprintf("notifier %s failed to hear that the run started: %v", name, err))
		}
	}
}
