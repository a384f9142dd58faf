package store

import (
	"context"
	"fmt"
	"time"
)

// WorkerStale is how long a worker may go without beating before its
// stages count as abandoned.
const WorkerStale = 60 * time.Second

// WorkerBeat records that worker id (River client id) is alive, and which
// sandbox queue it serves ("" for none).
func (s *Store) WorkerBeat(ctx context.Context, id, host string, pid int, queue string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO workers (id, host, pid, queue) VALUES ($1, $2, $3, nullif($4, ''))
		ON CONFLICT (id) DO UPDATE SET beat_at = now()`, id, host, pid, queue)
	if err != nil {
		return fmt.Errorf("worker beat: %w", err)
	}
	return nil
}

// WorkerGone removes worker id's row (a clean stop), and rows of workers
// silent for a day.
func (s *Store) WorkerGone(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM workers WHERE id = $1 OR beat_at < now() - interval '1 day'`, id)
	if err != nil {
		return fmt.Errorf("worker gone: %w", err)
	}
	return nil
}

// WorkerPIDsOnHost returns the pid of each worker row of host, by id.
func (s *Store) WorkerPIDsOnHost(ctx context.Context, host string) (map[string]int, error) {
	rows, err := s.pool.Query(ctx, "SELECT id, pid FROM workers WHERE host = $1", host)
	if err != nil {
		return nil, fmt.Errorf("workers: %w", err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var pid int
		if err := rows.Scan(&id, &pid); err != nil {
			return nil, fmt.Errorf("workers: %w", err)
		}
		out[id] = pid
	}
	return out, rows.Err()
}

// InstallationID is this installation's short random id.
func (s *Store) InstallationID(ctx context.Context) (string, error) {
	var id string
	if err := s.pool.QueryRow(ctx, "SELECT id FROM installation").Scan(&id); err != nil {
		return "", fmt.Errorf("installation id: %w", interpretError(err))
	}
	return id, nil
}

// JobAbandon ends a job whose worker is gone: River would otherwise keep it
// "running" until its rescuer's much later pass, and a job marked running
// blocks a new job of the same unique args.
func (t *Tx) JobAbandon(ctx context.Context, jobID int64, reason string) error {
	_, err := t.tx.Exec(ctx, `UPDATE river_job SET state = 'cancelled', finalized_at = now(),
		errors = coalesce(errors, '{}') || jsonb_build_object('at', now(), 'attempt', attempt, 'error', $2::text, 'trace', '')
		WHERE id = $1 AND state = 'running'`, jobID, reason)
	if err != nil {
		return fmt.Errorf("abandon job %d: %w", jobID, err)
	}
	return nil
}
