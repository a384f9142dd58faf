package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// stageRef is every stage job's payload.
type stageRef struct {
	RunID  int64  `json:"run_id"`
	Target string `json:"target"`
}

func (s stageRef) ref() stageRef { return s }

// One Args type per stage: River routes jobs by kind.
type (
	BackupArgs  struct{ stageRef }
	RestoreArgs struct{ stageRef }
	VerifyArgs  struct{ stageRef }
	ReportArgs  struct{ stageRef }
)

func (BackupArgs) Kind() string  { return "lifeboat.backup" }
func (RestoreArgs) Kind() string { return "lifeboat.restore" }
func (VerifyArgs) Kind() string  { return "lifeboat.verify" }
func (ReportArgs) Kind() string  { return "lifeboat.report" }

func insertOpts() river.InsertOpts {
	// Unique by args: a hand-over repeated after a crash can't enqueue a stage twice.
	return river.InsertOpts{MaxAttempts: MaxAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

func (BackupArgs) InsertOpts() river.InsertOpts  { return insertOpts() }
func (RestoreArgs) InsertOpts() river.InsertOpts { return insertOpts() }
func (VerifyArgs) InsertOpts() river.InsertOpts  { return insertOpts() }
func (ReportArgs) InsertOpts() river.InsertOpts  { return insertOpts() }

// argsFor builds the job args of stage.
func argsFor(stage lifeboat.StageName, ref stageRef) river.JobArgs {
	switch stage {
	case lifeboat.StageBackup:
		return BackupArgs{ref}
	case lifeboat.StageRestore:
		return RestoreArgs{ref}
	case lifeboat.StageVerify:
		return VerifyArgs{ref}
	default:
		return ReportArgs{ref}
	}
}

type stageArgs interface {
	river.JobArgs
	ref() stageRef
}

// outcome is what a stage hands back to be committed with its status.
type outcome struct {
	metrics any
	// apply writes stage-specific results (artifact, checks) in the same
	// transaction as the stage's status and the next job.
	apply func(ctx context.Context, tx *store.Tx) error
	// nextQueue, when set, is the queue of the next stage's job: verify
	// waits in the sandbox queue of the process holding the run's sandbox.
	nextQueue string
}

// stageFunc does one stage's work for a run.
type stageFunc func(ctx context.Context, run lifeboat.Run, target *config.Target, log *slog.Logger) (outcome, error)

type stageWorker[T stageArgs] struct {
	river.WorkerDefaults[T]
	r     *Runner
	stage lifeboat.StageName
	do    stageFunc
}

func (w *stageWorker[T]) Timeout(job *river.Job[T]) time.Duration {
	if t, ok := w.r.conf().Target(job.Args.ref().Target); ok && t.StageTimeout > 0 {
		return t.StageTimeout
	}
	return 6 * time.Hour
}

func (w *stageWorker[T]) NextRetry(job *river.Job[T]) time.Time {
	return time.Now().Add(w.r.deps.Backoff(job.Attempt))
}

func (w *stageWorker[T]) Work(ctx context.Context, job *river.Job[T]) error {
	ref := job.Args.ref()
	st := w.r.deps.Store
	// A run's sandbox lives from its restore to the end of its verify: it
	// is removed on every way out of those stages except a restore handing
	// over to verify and a verify that will be retried here.
	keepSandbox := false
	if w.stage == lifeboat.StageRestore || w.stage == lifeboat.StageVerify {
		defer func() {
			if !keepSandbox {
				w.r.releaseSandbox(ref.RunID)
			}
		}()
	}
	run, err := st.RunGet(ctx, ref.RunID)
	if errors.Is(err, lifeboat.ErrNotFound) {
		return river.JobCancel(err)
	}
	if err != nil {
		return err
	}
	if run.Status.Finished() && (run.Status != lifeboat.RunCanceled || w.stage != lifeboat.StageReport) {
		return nil // canceled while queued; a canceled run's report still runs
	}
	if stage, ok := run.StageByName(w.stage); ok && stage.Status != lifeboat.StagePending && stage.Status != lifeboat.StageRunning {
		// Already decided, e.g. failed by the janitor after this job hung:
		// a late attempt must not overwrite that or enqueue a second report.
		return nil
	}
	if run.Status == lifeboat.RunCanceled && w.stage == lifeboat.StageReport {
		// Report after the interrupted stage's worker has returned: it
		// removes what it wrote and stops using the scratch database.
		if wait, err := w.r.reportWaits(ctx, run.ID); err != nil || wait {
			return cmp.Or(err, river.JobSnooze(cancelPoll))
		}
	}
	if err := w.r.stageStart(ctx, run, w.stage, job.Attempt); err != nil {
		return err
	}
	log := newRunLogger(st, w.r.deps.Logger.Handler(), run.ID, w.stage)
	if job.Attempt > 1 {
		log.Info(fmt.Sprintf("attempt %d of %d", job.Attempt, job.MaxAttempts))
	}
	// Heartbeat "run started" signal (healthchecks /start, cronitor
	// state=run) on the backup stage's first attempt: see watchdog.go.
	w.r.signalRunStarted(ctx, run, w.stage, job.Attempt, log)

	var out outcome
	// The target as it was when the run was created (run_target.go).
	target, ok, err := w.r.runTarget(ctx, run, w.stage == lifeboat.StageBackup)
	if err != nil {
		return err
	}
	if !ok {
		err = lifeboat.Permanent(fmt.Errorf("target %q is no longer configured", run.Target))
	} else {
		out, err = w.do(ctx, run, target, log)
	}
	if err == nil && w.r.deps.AfterStage != nil {
		err = w.r.deps.AfterStage(ctx, run.ID, w.stage)
	}
	if w.stage != lifeboat.StageReport {
		if stop, err := w.r.stopCanceled(ctx, run.ID, w.stage, out, err, log); stop {
			return err
		}
	}
	if errors.Is(ctx.Err(), context.Canceled) && w.stage == lifeboat.StageVerify && w.r.sandboxes != nil {
		// The sandbox goes with this process: no other can take verify
		// over, so the run ends here with the reason.
		err = lifeboat.Permanent(errors.New("lifeboat stopped during verify, and the run's sandbox with it; retry the run"))
	} else if errors.Is(ctx.Err(), context.Canceled) {
		// The process is shutting down: River retries the job after restart
		// (a stage is idempotent), so the run is not failed for it.
		// A snooze is not an attempt, so even a last attempt is not
		// discarded (which would leave the run with no job to move it).
		log.Warn(fmt.Sprintf("stopped by shutdown; the %s stage will run again", w.stage))
		return river.JobSnooze(5 * time.Second)
	}
	if err != nil && w.stage != lifeboat.StageReport {
		if !lifeboat.IsPermanent(err) && job.Attempt < job.MaxAttempts && ctx.Err() == nil {
			log.Warn(fmt.Sprintf("attempt %d of %d failed, will retry: %v", job.Attempt, job.MaxAttempts, err))
			keepSandbox = w.stage == lifeboat.StageVerify // the retry comes back to this process's queue
			return err
		}
		log.Error(fmt.Sprintf("%s failed: %v", w.stage, err))
	}
	stageErr := err
	if w.stage == lifeboat.StageVerify || (w.stage == lifeboat.StageRestore && err != nil) {
		// Gone before the result commits: report may run at once, and
		// the run must not end with its sandbox still up.
		w.r.releaseSandbox(ref.RunID)
	}
	if err := w.finish(context.WithoutCancel(ctx), job, ref, out, err); err != nil {
		if w.stage != lifeboat.StageReport {
			if stop, cerr := w.r.stopCanceled(ctx, run.ID, w.stage, out, nil, log); stop {
				return cerr // canceled while the result was being written
			}
		}
		return err
	}
	keepSandbox = w.stage == lifeboat.StageRestore && stageErr == nil
	return nil
}

// finish records the stage's result, enqueues what comes next and completes
// the job, all in one transaction.
func (w *stageWorker[T]) finish(ctx context.Context, job *river.Job[T], ref stageRef, out outcome, stageErr error) error {
	return w.r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		next, hasNext := w.stage.Next()
		switch {
		case w.stage == lifeboat.StageReport:
			// Report always completes; its own trouble is in its log and metrics.
			if err := tx.StageSucceed(ctx, ref.RunID, w.stage, out.metrics); err != nil {
				return err
			}
			run, err := tx.RunFinish(ctx, ref.RunID)
			if err != nil {
				return err
			}
			// Retention: a verified run may let older backups go. The prune
			// is enqueued with the run's result so it cannot be lost, and is
			// unique per target so a burst of runs makes one prune.
			if err := w.r.enqueuePruneTx(ctx, tx, run); err != nil {
				return err
			}
			// Webhooks hear how the run ended from delivery jobs queued
			// with its result (deliveries.go).
			if err := w.r.enqueueRunEndTx(ctx, tx, run); err != nil {
				return err
			}
			hasNext = false
		case stageErr != nil:
			if err := tx.StageFail(ctx, ref.RunID, w.stage, publicReason(stageErr), out.metrics); err != nil {
				return err
			}
			next = lifeboat.StageReport
		default:
			if err := tx.StageSucceed(ctx, ref.RunID, w.stage, out.metrics); err != nil {
				return err
			}
		}
		if out.apply != nil {
			if err := out.apply(ctx, tx); err != nil {
				return err
			}
		}
		if hasNext {
			var opts *river.InsertOpts
			if out.nextQueue != "" && stageErr == nil {
				opts = &river.InsertOpts{Queue: out.nextQueue}
			}
			if _, err := w.r.client.InsertTx(ctx, tx.PgxTx(), argsFor(next, ref), opts); err != nil {
				return fmt.Errorf("enqueue %s of run %d: %w", next, ref.RunID, err)
			}
		}
		_, err := river.JobCompleteTx[*riverpgxv5.Driver, pgx.Tx](ctx, tx.PgxTx(), job)
		return err
	})
}

// publicReason is the error text stored on the run; a context error gets a
// readable word.
func publicReason(err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out: " + err.Error()
	case errors.Is(err, context.Canceled):
		return "canceled: " + err.Error()
	}
	return err.Error()
}
