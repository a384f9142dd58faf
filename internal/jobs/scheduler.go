package jobs

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/riverqueue/river"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/schedule"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// TickArgs is the periodic schedule tick.
type TickArgs struct{}

func (TickArgs) Kind() string { return "lifeboat.tick" }

type tickWorker struct {
	river.WorkerDefaults[TickArgs]
	r *Runner
}

func (w *tickWorker) Work(ctx context.Context, _ *river.Job[TickArgs]) error {
	_, err := w.r.Tick(ctx)
	return err
}

func (w *tickWorker) Timeout(*river.Job[TickArgs]) time.Duration { return time.Minute }

// schedulerJobs registers the schedule tick, on every process.
func (r *Runner) schedulerJobs(workers *river.Workers, opts Options) []*river.PeriodicJob {
	river.AddWorker(workers, &tickWorker{r: r})
	return []*river.PeriodicJob{every(opts.TickInterval, TickArgs{})}
}

// TickResult says what one tick did.
type TickResult struct {
	Started []int64  // runs created for due slots
	Skipped []string // "target@slot" skipped because a run was active
}

// Tick starts the runs of every due slot. The next slot of each target lives
// in target_state; each target is handled in its own transaction holding
// that row's lock, so any number of processes ticking at once start one run
// per slot, and a restart neither loses nor repeats one. Slots missed while
// lifeboat was down become one catch-up run that records how many it
// stands for.
func (r *Runner) Tick(ctx context.Context) (TickResult, error) {
	var res TickResult
	now := r.deps.Now()
	var errs []error
	// One catalog for the whole pass: a reload meanwhile (a managed target
	// created or deleted) is seen by the next tick, never half of this one.
	conf := r.conf()
	for i := range conf.Targets {
		t := &conf.Targets[i]
		if t.Schedule == "" {
			continue
		}
		if err := r.tickTarget(ctx, t, now, &res); err != nil {
			errs = append(errs, fmt.Errorf("tick %s: %w", t.Name, err))
		}
	}
	return res, errors.Join(errs...)
}

func (r *Runner) tickTarget(ctx context.Context, t *config.Target, now time.Time, res *TickResult) error {
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return err
	}
	sched, err := schedule.Parse(t.Schedule, loc)
	if err != nil {
		return err
	}
	var started int64
	var skipped string
	err = r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		started, skipped = 0, ""
		st, err := tx.TargetStateLock(ctx, t.Name)
		if err != nil || st.Paused {
			return err
		}
		// First sight, after resume, or the schedule changed: start counting from now.
		if st.NextDue == nil || st.Schedule != t.Schedule || st.Timezone != t.Timezone {
			return tx.TargetStateSetNext(ctx, t.Name, t.Schedule, t.Timezone, sched.Next(now))
		}
		if st.NextDue.After(now) {
			return nil
		}
		slot, count := sched.Latest(st.NextDue.Add(-time.Nanosecond), now)
		if slot.IsZero() { // next_due no longer a slot of this schedule
			return tx.TargetStateSetNext(ctx, t.Name, t.Schedule, t.Timezone, sched.Next(now))
		}
		active, busy, err := tx.RunActive(ctx, t.Name)
		if err != nil {
			return err
		}
		if busy && t.Overlap != "queue" {
			reason := fmt.Sprintf("run %d was still active", active)
			if err := tx.ScheduleSkip(ctx, t.Name, slot, reason, active); err != nil {
				return err
			}
			skipped = t.Name + "@" + slot.UTC().Format(time.RFC3339)
		} else {
			id, created, err := tx.RunCreateScheduled(ctx, t.Name, slot, count-1, now)
			if err != nil {
				return err
			}
			if created {
				if err := pinTargetTx(ctx, tx, id, t); err != nil {
					return err
				}
				if _, err := r.client.InsertTx(ctx, tx.PgxTx(), BackupArgs{stageRef{RunID: id, Target: t.Name}}, nil); err != nil {
					return fmt.Errorf("enqueue backup of run %d: %w", id, err)
				}
				started = id
			}
		}
		return tx.TargetStateSetNext(ctx, t.Name, t.Schedule, t.Timezone, sched.Next(now))
	})
	if err != nil {
		return err
	}
	if started != 0 {
		res.Started = append(res.Started, started)
		r.deps.Logger.Info("scheduled run started", "target", t.Name, "run_id", started)
	}
	if skipped != "" {
		res.Skipped = append(res.Skipped, skipped)
		r.deps.Logger.Warn("scheduled slot skipped: previous run still active", "slot", skipped)
	}
	return nil
}

// Pause stops a target's schedule; Resume restarts it from now.
func (r *Runner) Pause(ctx context.Context, target string, paused bool) error {
	if _, ok := r.conf().Target(target); !ok {
		return &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("no target named %q", target)}
	}
	return r.deps.Store.TargetPause(ctx, target, paused, r.deps.Now())
}

// ScheduleInfo returns the target's schedule: paused or not, the next due
// slot, the five after now, and the most recent skipped slots.
func (r *Runner) ScheduleInfo(ctx context.Context, target string) (lifeboat.TargetSchedule, error) {
	t, ok := r.conf().Target(target)
	if !ok {
		return lifeboat.TargetSchedule{}, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("no target named %q", target)}
	}
	st, skips, err := r.deps.Store.TargetSchedule(ctx, target, 20)
	if err != nil {
		return lifeboat.TargetSchedule{}, err
	}
	out := lifeboat.TargetSchedule{Target: target, Schedule: t.Schedule, Timezone: t.Timezone, Paused: st.Paused,
		NextDue: st.NextDue, Upcoming: []time.Time{}, Skips: skips}
	if out.Skips == nil {
		out.Skips = []lifeboat.ScheduleSkip{}
	}
	if t.Schedule == "" || st.Paused {
		return out, nil
	}
	loc, err := time.LoadLocation(t.Timezone)
	if err != nil {
		return out, err
	}
	sched, err := schedule.Parse(t.Schedule, loc)
	if err != nil {
		return out, err
	}
	for next := r.deps.Now(); len(out.Upcoming) < 5; {
		if next = sched.Next(next); next.IsZero() {
			break
		}
		out.Upcoming = append(out.Upcoming, next.In(loc))
	}
	return out, nil
}
