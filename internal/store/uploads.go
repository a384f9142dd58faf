package store

import (
	"context"
	"fmt"
	"time"
)

// BackupAttempt is the state of a run's backup stage, for deciding whether
// an open multipart upload of its object can still be written to.
type BackupAttempt struct {
	Running   bool       // an attempt is running (or was, in a process that died)
	StartedAt *time.Time // when the current attempt started
}

// BackupAttempts returns the backup stage of each run of ids that exists.
func (s *Store) BackupAttempts(ctx context.Context, ids []int64) (map[int64]BackupAttempt, error) {
	out := make(map[int64]BackupAttempt, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT run_id, status = 'running', started_at FROM run_stages
		WHERE stage = 'backup' AND run_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("backup attempts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var a BackupAttempt
		if err := rows.Scan(&id, &a.Running, &a.StartedAt); err != nil {
			return nil, fmt.Errorf("backup attempts: %w", err)
		}
		out[id] = a
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backup attempts: %w", err)
	}
	return out, nil
}
