package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// RunStartLock locks the target's state row until the transaction ends,
// creating it on first sight with created_at = now (the injected clock, as
// the watchdog does). Run requests hold it like the scheduler's tick, so the
// active-run check, the idempotency key and the new run are one decision
// however many requests race.
func (t *Tx) RunStartLock(ctx context.Context, target string, now time.Time) error {
	if _, err := t.tx.Exec(ctx, "INSERT INTO target_state (target, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING",
		target, now); err != nil {
		return fmt.Errorf("target %s state: %w", target, err)
	}
	_, err := t.TargetStateLock(ctx, target)
	return err
}

// IdempotencyKeyRun returns the run the target's key created at or after
// notBefore. Older keys of the target have expired and are deleted first.
func (t *Tx) IdempotencyKeyRun(ctx context.Context, target, key string, notBefore time.Time) (int64, bool, error) {
	if _, err := t.tx.Exec(ctx, "DELETE FROM run_idempotency_keys WHERE target = $1 AND created_at < $2",
		target, notBefore); err != nil {
		return 0, false, fmt.Errorf("expire idempotency keys of %s: %w", target, err)
	}
	var id int64
	err := t.tx.QueryRow(ctx, "SELECT run_id FROM run_idempotency_keys WHERE target = $1 AND key = $2",
		target, key).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("idempotency key of %s: %w", target, err)
	}
	return id, true, nil
}

// IdempotencyKeySave remembers that the target's key created run runID at now.
func (t *Tx) IdempotencyKeySave(ctx context.Context, target, key string, runID int64, now time.Time) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO run_idempotency_keys (target, key, run_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (target, key) DO UPDATE SET run_id = EXCLUDED.run_id, created_at = EXCLUDED.created_at`,
		target, key, runID, now)
	if err != nil {
		return fmt.Errorf("save idempotency key of %s: %w", target, err)
	}
	return nil
}

// StageCanceled is the error of the stage a cancel interrupted.
const StageCanceled = "canceled"

// RunCancel marks an active run canceled with reason: its running stage
// (other than report) fails as "canceled", its pending stages before
// report are skipped. Report stays pending: it still runs, and RunFinish
// keeps the status. The caller holds the run's stage rows (ActiveRunLock).
func (t *Tx) RunCancel(ctx context.Context, runID int64, reason string) error {
	if _, err := t.tx.Exec(ctx, `UPDATE run_stages SET status = 'failed', error = $2, finished_at = now()
		WHERE run_id = $1 AND status = 'running' AND stage <> 'report'`, runID, StageCanceled); err != nil {
		return fmt.Errorf("cancel run %d: %w", runID, err)
	}
	if _, err := t.tx.Exec(ctx, `UPDATE run_stages SET status = 'skipped'
		WHERE run_id = $1 AND status = 'pending' AND stage <> 'report'`, runID); err != nil {
		return fmt.Errorf("cancel run %d: %w", runID, err)
	}
	tag, err := t.tx.Exec(ctx, `UPDATE runs SET status = 'canceled', error = $2
		WHERE id = $1 AND status IN ('queued', 'running')`, runID, reason)
	if err != nil {
		return fmt.Errorf("cancel run %d: %w", runID, err)
	}
	if tag.RowsAffected() == 0 {
		return lifeboat.Errorf(lifeboat.ECONFLICT, "run %d is no longer active", runID)
	}
	return nil
}

// StageCancel fails the stage as canceled if it is still running: a worker
// that started it just after the run was canceled ends it so.
func (s *Store) StageCancel(ctx context.Context, runID int64, stage lifeboat.StageName) error {
	_, err := s.pool.Exec(ctx, `UPDATE run_stages SET status = 'failed', error = $3, finished_at = now()
		WHERE run_id = $1 AND stage = $2 AND status = 'running'`, runID, string(stage), StageCanceled)
	if err != nil {
		return fmt.Errorf("cancel stage %s of run %d: %w", stage, runID, err)
	}
	return nil
}

// RunStatus returns a run's status.
func (s *Store) RunStatus(ctx context.Context, id int64) (lifeboat.RunStatus, error) {
	var st lifeboat.RunStatus
	if err := s.pool.QueryRow(ctx, "SELECT status FROM runs WHERE id = $1", id).Scan(&st); err != nil {
		return st, fmt.Errorf("run %d: %w", id, interpretError(err))
	}
	return st, nil
}

// RunJobsRunning reports whether one of the run's River jobs of the given
// kinds is running, not counting one whose cancellation was requested more
// than grace ago: its process is presumed gone.
func (s *Store) RunJobsRunning(ctx context.Context, runID int64, kinds []string, grace time.Duration) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM river_job
		WHERE state = 'running' AND kind = ANY($2::text[]) AND (args->>'run_id')::bigint = $1
		AND coalesce((metadata->>'cancel_attempted_at')::timestamptz, now()) > now() - make_interval(secs => $3))`,
		runID, kinds, grace.Seconds()).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("running jobs of run %d: %w", runID, err)
	}
	return ok, nil
}
