package store

import (
	"context"
	"fmt"
	"time"
)

// HookClaim records a signed trigger's message id; false means the id was
// seen before (a replay). Ids older than forgetBefore are forgotten first:
// their signatures have expired anyway.
func (s *Store) HookClaim(ctx context.Context, target, messageID string, now, forgetBefore time.Time) (bool, error) {
	if _, err := s.pool.Exec(ctx, "DELETE FROM inbound_hooks WHERE received_at < $1", forgetBefore); err != nil {
		return false, fmt.Errorf("forget old hook ids: %w", err)
	}
	tag, err := s.pool.Exec(ctx, `INSERT INTO inbound_hooks (target, message_id, received_at) VALUES ($1, $2, $3)
		ON CONFLICT DO NOTHING`, target, messageID, now)
	if err != nil {
		return false, fmt.Errorf("record hook id: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// HookRelease forgets a claimed id whose trigger started no run, so the
// sender's retry of the same message is not taken for a replay.
func (s *Store) HookRelease(ctx context.Context, target, messageID string) error {
	_, err := s.pool.Exec(ctx, "DELETE FROM inbound_hooks WHERE target = $1 AND message_id = $2 AND run_id IS NULL", target, messageID)
	return err
}

// HookRun links a claimed id to the run it started.
func (s *Store) HookRun(ctx context.Context, target, messageID string, runID int64) error {
	_, err := s.pool.Exec(ctx, "UPDATE inbound_hooks SET run_id = $3 WHERE target = $1 AND message_id = $2", target, messageID, runID)
	return err
}
