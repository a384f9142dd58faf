package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// RestoreCreate records a queued disaster-recovery restore of backup into
// the database at redactedURL (which must hold no password); sealed is the
// whole URL, encrypted, for the worker alone.
func (t *Tx) RestoreCreate(ctx context.Context, backup lifeboat.Backup, redactedURL string, sealed []byte, clean bool) (int64, error) {
	var id int64
	err := t.tx.QueryRow(ctx, `INSERT INTO restores (run_id, target, database_url, database_url_sealed, clean)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`, backup.ID, backup.Target, redactedURL, sealed, clean).Scan(&id)
	if err != nil {
		return 0, fmt.Errorf("create restore of backup %d: %w", backup.ID, err)
	}
	return id, nil
}

// RestoreGet returns a restore without its log lines.
func (s *Store) RestoreGet(ctx context.Context, id int64) (lifeboat.Restore, error) {
	var (
		r              lifeboat.Restore
		metrics, check []byte
	)
	err := s.pool.QueryRow(ctx, `SELECT id, run_id, target, database_url, clean, status, attempt, error,
		metrics, checks, created_at, started_at, finished_at FROM restores WHERE id = $1`, id).Scan(
		&r.ID, &r.BackupID, &r.Target, &r.DatabaseURL, &r.Clean, &r.Status, &r.Attempt, &r.Error,
		&metrics, &check, &r.CreatedAt, &r.StartedAt, &r.FinishedAt)
	if err != nil {
		return r, fmt.Errorf("restore %d: %w", id, interpretError(err))
	}
	r.Metrics = metrics
	r.Checks = []lifeboat.CheckResult{}
	if check != nil {
		if err := json.Unmarshal(check, &r.Checks); err != nil {
			return r, fmt.Errorf("restore %d checks: %w", id, err)
		}
	}
	return r, nil
}

// RestoreSealedURL returns the encrypted database URL of a restore; nil
// once the restore has ended (it is erased then).
func (s *Store) RestoreSealedURL(ctx context.Context, id int64) ([]byte, error) {
	var sealed []byte
	if err := s.pool.QueryRow(ctx, "SELECT database_url_sealed FROM restores WHERE id = $1", id).Scan(&sealed); err != nil {
		return nil, fmt.Errorf("restore %d: %w", id, interpretError(err))
	}
	return sealed, nil
}

// RestoreStart marks an unfinished restore running (attempt n).
func (s *Store) RestoreStart(ctx context.Context, id int64, attempt int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE restores SET status = 'running', attempt = $2,
		started_at = coalesce(started_at, now()), error = '' WHERE id = $1 AND status IN ('queued', 'running')`, id, attempt)
	if err != nil {
		return fmt.Errorf("start restore %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return lifeboat.Errorf(lifeboat.ECONFLICT, "restore %d has already ended", id)
	}
	return nil
}

// RestoreFinish ends a restore (succeeded or failed) with its figures and
// checks, and erases its encrypted URL: the credential is kept no longer
// than the restore needs it. Only an unfinished restore ends.
func (t *Tx) RestoreFinish(ctx context.Context, id int64, status lifeboat.RestoreStatus, reason string, metrics any, checks []lifeboat.CheckResult) error {
	var m, c []byte
	var err error
	if metrics != nil {
		if m, err = json.Marshal(metrics); err != nil {
			return fmt.Errorf("restore metrics: %w", err)
		}
	}
	if checks != nil {
		if c, err = json.Marshal(checks); err != nil {
			return fmt.Errorf("restore checks: %w", err)
		}
	}
	tag, err := t.tx.Exec(ctx, `UPDATE restores SET status = $2, error = $3, metrics = $4, checks = $5,
		finished_at = now(), started_at = coalesce(started_at, now()), database_url_sealed = NULL
		WHERE id = $1 AND status IN ('queued', 'running')`, id, string(status), reason, m, c)
	if err != nil {
		return fmt.Errorf("finish restore %d: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return lifeboat.Errorf(lifeboat.ECONFLICT, "restore %d has already ended", id)
	}
	return nil
}

// RestoreLogAppend persists one log line of a restore.
func (s *Store) RestoreLogAppend(ctx context.Context, id int64, ts time.Time, level, message string) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO restore_logs (restore_id, ts, level, message) VALUES ($1, $2, $3, $4)",
		id, ts, level, message)
	if err != nil {
		return fmt.Errorf("append log of restore %d: %w", id, err)
	}
	return nil
}

// RestoreLogTail returns the last n log lines of a restore, oldest first.
func (s *Store) RestoreLogTail(ctx context.Context, id int64, n int) ([]lifeboat.LogLine, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, '', ts, level, message FROM (
		SELECT id, ts, level, message FROM restore_logs WHERE restore_id = $1 ORDER BY id DESC LIMIT $2) l
		ORDER BY id`, id, n)
	if err != nil {
		return nil, fmt.Errorf("logs of restore %d: %w", id, err)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowToStructByPos[lifeboat.LogLine])
	if err != nil {
		return nil, fmt.Errorf("logs of restore %d: %w", id, err)
	}
	return lines, nil
}

// RestoreList returns restores newest first, of target only when it is not
// empty, before beforeID when it is positive (keyset on id), at most limit,
// and whether more follow; without their log lines (RestoreLogTail).
func (s *Store) RestoreList(ctx context.Context, target string, beforeID int64, limit int) ([]lifeboat.Restore, bool, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, run_id, target, database_url, clean, status, attempt, error,
		metrics, checks, created_at, started_at, finished_at FROM restores
		WHERE ($1 = '' OR target = $1) AND ($2 <= 0 OR id < $2) ORDER BY id DESC LIMIT $3`, target, beforeID, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list restores: %w", err)
	}
	defer rows.Close()
	var out []lifeboat.Restore
	for rows.Next() {
		var (
			r              lifeboat.Restore
			metrics, check []byte
		)
		if err := rows.Scan(&r.ID, &r.BackupID, &r.Target, &r.DatabaseURL, &r.Clean, &r.Status, &r.Attempt, &r.Error,
			&metrics, &check, &r.CreatedAt, &r.StartedAt, &r.FinishedAt); err != nil {
			return nil, false, fmt.Errorf("list restores: %w", err)
		}
		r.Metrics, r.Checks, r.Logs = metrics, []lifeboat.CheckResult{}, []lifeboat.LogLine{}
		if check != nil {
			if err := json.Unmarshal(check, &r.Checks); err != nil {
				return nil, false, fmt.Errorf("restore %d checks: %w", r.ID, err)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("list restores: %w", err)
	}
	more := len(out) > limit
	if more {
		out = out[:limit]
	}
	return out, more, nil
}
