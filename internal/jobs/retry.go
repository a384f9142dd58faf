package jobs

import (
	"context"
	"errors"
	"fmt"

	"github.com/riverqueue/river"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/blob"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// RetryRun creates a new run (trigger retry, RetryOf id) of a failed or
// canceled run that has finished. When only restore or verify went wrong
// and the old run's backup is still valid — recorded with its sha256 and
// source snapshot, not pruned, its object (of the recorded size) and its
// manifest (with the recorded sha256) in storage — the new run shares that
// artifact, its backup stage is skipped (metrics name the run that wrote
// it) and it starts at restore. Otherwise it is a whole new run. Its log
// says which, and why.
//
// An unknown run is ENOTFOUND; a run that is not a finished failure, or a
// target with an active run, is ECONFLICT (one active run per target, as
// RequestRun).
func (r *Runner) RetryRun(ctx context.Context, id int64) (lifeboat.Run, error) {
	old, err := r.deps.Store.RunGet(ctx, id)
	if errors.Is(err, lifeboat.ErrNotFound) {
		return lifeboat.Run{}, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("run %d not found", id)}
	}
	if err != nil {
		return lifeboat.Run{}, err
	}
	switch {
	case old.Status != lifeboat.RunFailed && old.Status != lifeboat.RunCanceled:
		return lifeboat.Run{}, lifeboat.Errorf(lifeboat.ECONFLICT,
			"run %d is %s: only a failed or canceled run can be retried", id, old.Status)
	case old.FinishedAt == nil:
		return lifeboat.Run{}, lifeboat.Errorf(lifeboat.ECONFLICT,
			"run %d is canceled but still being reported: retry it once it has finished", id)
	}
	target, ok := r.conf().Target(old.Target)
	if !ok {
		return lifeboat.Run{}, lifeboat.Errorf(lifeboat.ECONFLICT, "run %d's target %q is no longer configured", id, old.Target)
	}
	// Storage is asked before the transaction (no lock is held across the
	// network); retention cannot start deleting meanwhile unnoticed, as
	// ArtifactReusable reads its mark under the lock.
	reuse, why := r.backupReusable(ctx, old)

	var run lifeboat.Run
	err = r.deps.Store.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.RunStartLock(ctx, old.Target, r.deps.Now()); err != nil {
			return err
		}
		active, busy, err := tx.RunActive(ctx, old.Target)
		if err != nil {
			return err
		}
		if busy {
			return lifeboat.Errorf(lifeboat.ECONFLICT, "target %q already has an active run %d", old.Target, active)
		}
		if reuse {
			if reuse, why, err = tx.ArtifactReusable(ctx, old.ID); err != nil {
				return err
			}
		}
		newID, err := tx.RunCreateRetry(ctx, store.RetryCreate{Target: old.Target, RetryOf: old.ID, Reuse: reuse})
		if err != nil {
			return err
		}
		if err := pinTargetTx(ctx, tx, newID, target); err != nil {
			return err
		}
		ref := stageRef{RunID: newID, Target: old.Target}
		var args river.JobArgs = BackupArgs{ref}
		msg := fmt.Sprintf("retry of run %d: a full run, as %s", old.ID, why)
		stage, level := lifeboat.StageBackup, "info"
		if backup, _ := old.StageByName(lifeboat.StageBackup); old.Artifact != nil && backup.Status != lifeboat.StageFailed {
			level = "warn" // a backup was there to reuse, and is not usable
		}
		if reuse {
			args, stage, level = RestoreArgs{ref}, lifeboat.StageRestore, "info"
			from := old.ID
			if old.Artifact.ReusedFromRun != 0 {
				from = old.Artifact.ReusedFromRun
			}
			msg = fmt.Sprintf("retry of run %d: backup skipped, reusing run %d's backup %s (sha256 %s); starting at restore",
				old.ID, from, old.Artifact.Key, old.Artifact.SHA256)
		}
		if _, err := r.client.InsertTx(ctx, tx.PgxTx(), args, nil); err != nil {
			return fmt.Errorf("enqueue %s of run %d: %w", stage, newID, err)
		}
		if err := tx.LogAppend(ctx, newID, stage, level, msg); err != nil {
			return err
		}
		run, err = tx.RunGet(ctx, newID)
		return err
	})
	if err != nil {
		return lifeboat.Run{}, err
	}
	r.deps.Logger.Info("retry created", "run_id", run.ID, "retry_of", old.ID, "target", old.Target, "reused_backup", reuse)
	return run, nil
}

// backupReusable says whether old's backup can be restored again instead
// of dumping anew, or why not. A storage error is a reason, not a failure:
// a full run is always a correct retry.
func (r *Runner) backupReusable(ctx context.Context, old lifeboat.Run) (bool, string) {
	backup, _ := old.StageByName(lifeboat.StageBackup)
	a := old.Artifact
	switch {
	case backup.Status == lifeboat.StageFailed:
		return false, fmt.Sprintf("run %d failed at backup", old.ID)
	case a == nil:
		return false, fmt.Sprintf("run %d stored no backup", old.ID)
	case backup.Status != lifeboat.StageSucceeded && !(backup.Status == lifeboat.StageSkipped && a.ReusedFromRun != 0):
		return false, fmt.Sprintf("run %d's backup stage did not succeed (%s)", old.ID, backup.Status)
	case a.PrunedAt != nil:
		return false, fmt.Sprintf("retention deleted run %d's backup (%s)", old.ID, a.PrunedReason)
	case a.SHA256 == "":
		return false, fmt.Sprintf("run %d's backup has no recorded sha256", old.ID)
	}
	st, ok := r.catalog().Stores[a.Storage]
	if !ok {
		return false, fmt.Sprintf("storage %q of run %d's backup is not configured", a.Storage, old.ID)
	}
	info, err := st.Stat(ctx, a.Key)
	switch {
	case errors.Is(err, lifeboat.ErrNotFound):
		return false, fmt.Sprintf("run %d's backup %s is no longer in storage %s", old.ID, a.Key, a.Storage)
	case err != nil:
		return false, fmt.Sprintf("run %d's backup %s could not be checked in storage %s: %v", old.ID, a.Key, a.Storage, err)
	case info.Size != a.StoredBytes:
		return false, fmt.Sprintf("run %d's backup %s has %d bytes in storage, %d recorded", old.ID, a.Key, info.Size, a.StoredBytes)
	}
	m, err := blob.GetManifest(ctx, st, a.Key)
	switch {
	case errors.Is(err, lifeboat.ErrNotFound):
		return false, fmt.Sprintf("run %d's backup %s has lost its manifest", old.ID, a.Key)
	case err != nil:
		return false, fmt.Sprintf("the manifest of run %d's backup %s could not be read: %v", old.ID, a.Key, err)
	case m.SHA256 != a.SHA256:
		return false, fmt.Sprintf("the manifest of run %d's backup %s has sha256 %s, %s recorded", old.ID, a.Key, m.SHA256, a.SHA256)
	}
	return true, ""
}
