package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

const (
	// CancelReason is the error of a run canceled through the API.
	CancelReason = "canceled by api"
	// cancelGrace is how long a canceled run's report waits for the
	// interrupted stage's worker to return (killing pg_dump or pg_restore,
	// aborting its upload, removing what it wrote) before it goes ahead,
	// presuming the worker's process gone.
	cancelGrace = 2 * time.Minute
	// cancelPoll is how often the waiting report looks again.
	cancelPoll = time.Second
)

// errRunCanceled ends the job of a stage whose run was canceled.
var errRunCanceled = errors.New("run canceled")

// workKinds are the stage job kinds before report.
var workKinds = []string{BackupArgs{}.Kind(), RestoreArgs{}.Kind(), VerifyArgs{}.Kind()}

// CancelRun cancels a queued or running run, in one transaction under its
// stage rows' lock (which a worker finishing a stage takes first, so a
// hand-over is seen whole or not at all): the run becomes canceled, its
// running stage fails as "canceled" and the stages before report are
// skipped, its stage jobs are cancelled (a running one is signalled through
// River, in whichever process works it, and its context canceled: that kills
// pg_dump or pg_restore and aborts the multipart upload), and report is
// enqueued to drop the scratch database and notify run.canceled.
//
// A run that has finished, or whose outcome is decided and is being
// reported, is a conflict.
func (r *Runner) CancelRun(ctx context.Context, id int64) (lifeboat.Run, error) {
	var run lifeboat.Run
	err := r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		a, err := tx.ActiveRunLock(ctx, id, stageKinds)
		if errors.Is(err, lifeboat.ErrNotFound) {
			run, err := tx.RunGet(ctx, id)
			if errors.Is(err, lifeboat.ErrNotFound) {
				return &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("run %d not found", id)}
			}
			if err != nil {
				return err
			}
			return lifeboat.Errorf(lifeboat.ECONFLICT, "run %d has already finished (%s): only a queued or running run can be canceled",
				id, run.Status)
		}
		if err != nil {
			return err
		}
		if a.Stage == lifeboat.StageReport || a.Stage == "" {
			return lifeboat.Errorf(lifeboat.ECONFLICT, "run %d is being reported: its outcome is decided and it can no longer be canceled", id)
		}
		for _, j := range a.Jobs {
			if j.Kind == (ReportArgs{}).Kind() {
				continue
			}
			if _, err := r.client.JobCancelTx(ctx, tx.PgxTx(), j.ID); err != nil && !errors.Is(err, river.ErrNotFound) {
				return fmt.Errorf("cancel job %d (%s): %w", j.ID, j.Kind, err)
			}
		}
		if err := tx.RunCancel(ctx, id, CancelReason); err != nil {
			return err
		}
		if _, err := r.client.InsertTx(ctx, tx.PgxTx(), ReportArgs{stageRef{RunID: id, Target: a.Target}}, nil); err != nil {
			return fmt.Errorf("enqueue report of run %d: %w", id, err)
		}
		run, err = tx.RunGet(ctx, id)
		return err
	})
	if err != nil {
		return run, err
	}
	stage := lifeboat.StageBackup
	for _, s := range run.Stages {
		if s.Status == lifeboat.StageFailed && s.Error == store.StageCanceled {
			stage = s.Name
		}
	}
	newRunLogger(r.deps.Store, r.deps.Logger.Handler(), id, stage).Warn("run canceled: " + CancelReason)
	return run, nil
}

// stopCanceled ends a stage's job, after its work and before its result is
// written, when its run was canceled meanwhile (or River cancelled the job
// itself): the cancel decided the stage, so the stage's outcome neither
// fails nor succeeds the run and starts no next stage. A stage the worker
// started just after the cancel is ended as canceled here. What finished
// work produced is still recorded (out.apply): a backup stored just before
// the cancel stays known, as an unverified artifact retention will prune.
func (r *Runner) stopCanceled(ctx context.Context, runID int64, stage lifeboat.StageName, out outcome, workErr error, log *slog.Logger) (bool, error) {
	remote := errors.Is(context.Cause(ctx), river.ErrJobCancelledRemotely)
	ctx = context.WithoutCancel(ctx)
	status, err := r.deps.Store.RunStatus(ctx, runID)
	if err != nil || status != lifeboat.RunCanceled {
		if !remote {
			return false, nil
		}
		log.Warn(fmt.Sprintf("the %s job was cancelled; its result is discarded", stage))
		return true, river.JobCancel(fmt.Errorf("%s job cancelled", stage))
	}
	if err := r.deps.Store.StageCancel(ctx, runID, stage); err != nil {
		log.Error(err.Error())
	}
	if workErr == nil && out.apply != nil {
		if err := r.deps.Store.InTx(ctx, func(tx *store.Tx) error { return out.apply(ctx, tx) }); err != nil {
			log.Error(fmt.Sprintf("could not record what the %s stage produced before the cancel: %v", stage, err))
		} else {
			log.Warn(fmt.Sprintf("run canceled after the %s stage's work was done: its result is recorded, the run goes no further", stage))
			return true, river.JobCancel(errRunCanceled)
		}
	}
	log.Warn(fmt.Sprintf("run canceled: the %s stage stopped and its result is discarded", stage))
	return true, river.JobCancel(errRunCanceled)
}

// reportWaits says whether a canceled run's report should wait: a stage
// job the cancel interrupted is still returning (see cancelGrace).
func (r *Runner) reportWaits(ctx context.Context, runID int64) (bool, error) {
	return r.deps.Store.RunJobsRunning(ctx, runID, workKinds, cancelGrace)
}
