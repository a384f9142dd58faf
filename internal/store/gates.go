package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// GateBaseline is what a run's anomaly gates compare with.
type GateBaseline struct {
	RunID       int64
	Snapshot    lifeboat.SourceSnapshot
	StoredBytes int64
	Accepted    bool
}

// GateBaseline returns the baseline of run's gates: the target's newest
// other run, no newer than run's backup (backupOf: the run that took it, run
// itself unless it is a retry reusing an older backup), that either
// succeeded (a verified backup) or whose snapshot a user accepted. Nil when
// the target has none.
func (s *Store) GateBaseline(ctx context.Context, target string, runID, backupOf int64) (*GateBaseline, error) {
	var (
		b   GateBaseline
		raw []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT id, source_snapshot, coalesce(stored_bytes, 0), baseline_accepted_at IS NOT NULL
		FROM runs
		WHERE target = $1 AND id <> $2 AND coalesce(artifact_from_run, id) <= $3 AND source_snapshot IS NOT NULL
		  AND (status = 'succeeded' OR baseline_accepted_at IS NOT NULL)
		ORDER BY id DESC LIMIT 1`, target, runID, backupOf).Scan(&b.RunID, &raw, &b.StoredBytes, &b.Accepted)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("gate baseline of run %d: %w", runID, err)
	}
	if err := json.Unmarshal(raw, &b.Snapshot); err != nil {
		return nil, fmt.Errorf("gate baseline of run %d: snapshot of run %d: %w", runID, b.RunID, err)
	}
	return &b, nil
}

// BaselineAccept records that by accepted run's snapshot and stored size as
// its target's baseline: the target's next runs compare with it. Only a
// finished run whose gates tripped can be accepted (409 otherwise, saying
// why); accepting twice keeps the first acceptance.
func (s *Store) BaselineAccept(ctx context.Context, runID int64, by string, now time.Time) (lifeboat.Run, error) {
	var run lifeboat.Run
	err := s.InTx(ctx, func(tx *Tx) error {
		var (
			status   lifeboat.RunStatus
			hasSnap  bool
			accepted *time.Time
			tripped  bool
		)
		err := tx.tx.QueryRow(ctx, `SELECT status, source_snapshot IS NOT NULL, baseline_accepted_at,
				EXISTS (SELECT 1 FROM check_results c WHERE c.run_id = r.id AND NOT c.passed AND c.name LIKE 'gate: %')
			FROM runs r WHERE id = $1 FOR UPDATE`, runID).Scan(&status, &hasSnap, &accepted, &tripped)
		if errors.Is(err, pgx.ErrNoRows) {
			return &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("no run #%d", runID)}
		}
		if err != nil {
			return fmt.Errorf("accept baseline of run %d: %w", runID, err)
		}
		switch {
		case accepted != nil:
			// Already accepted: the first acceptance stands.
		case !status.Finished():
			return lifeboat.Errorf(lifeboat.ECONFLICT, "run #%d is %s: accept its baseline once it has finished", runID, status)
		case !hasSnap:
			return lifeboat.Errorf(lifeboat.ECONFLICT, "run #%d has no source snapshot to accept (its backup did not finish)", runID)
		case !tripped:
			return lifeboat.Errorf(lifeboat.ECONFLICT, "no anomaly gate tripped in run #%d: there is no drop to accept", runID)
		default:
			if _, err := tx.tx.Exec(ctx, `UPDATE runs SET baseline_accepted_at = $2, baseline_accepted_by = $3 WHERE id = $1`,
				runID, now, by); err != nil {
				return fmt.Errorf("accept baseline of run %d: %w", runID, err)
			}
		}
		run, err = runGet(ctx, tx.tx, runID)
		return err
	})
	return run, err
}
