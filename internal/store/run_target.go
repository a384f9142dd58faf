package store

import (
	"context"
	"fmt"
)

// RunTargetSet records the target's settings a run works from (JSON, no
// secrets), in the transaction that creates the run.
func (t *Tx) RunTargetSet(ctx context.Context, runID int64, config []byte) error {
	if _, err := t.tx.Exec(ctx, "UPDATE runs SET target_config = $2 WHERE id = $1", runID, config); err != nil {
		return fmt.Errorf("record target settings of run %d: %w", runID, err)
	}
	return nil
}

// RunTarget returns the target settings recorded on a run; nil when the
// run predates them.
func (s *Store) RunTarget(ctx context.Context, runID int64) ([]byte, error) {
	var config []byte
	if err := s.pool.QueryRow(ctx, "SELECT target_config FROM runs WHERE id = $1", runID).Scan(&config); err != nil {
		return nil, fmt.Errorf("target settings of run %d: %w", runID, interpretError(err))
	}
	return config, nil
}

// RunTarget returns the target settings recorded on a run, in the
// transaction.
func (t *Tx) RunTarget(ctx context.Context, runID int64) ([]byte, error) {
	var config []byte
	if err := t.tx.QueryRow(ctx, "SELECT target_config FROM runs WHERE id = $1", runID).Scan(&config); err != nil {
		return nil, fmt.Errorf("target settings of run %d: %w", runID, interpretError(err))
	}
	return config, nil
}
