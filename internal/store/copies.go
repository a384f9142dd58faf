package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

const copyColumns = `run_id, storage, key, stored_bytes, sha256, status, error, verified_at, proven_by_run, proven_at,
	lock_mode, locked_until, pruned_at, pruned_reason`

func scanCopy(row pgx.Row) (int64, lifeboat.Copy, error) {
	var (
		runID  int64
		c      lifeboat.Copy
		proven *int64
	)
	err := row.Scan(&runID, &c.Storage, &c.Key, &c.StoredBytes, &c.SHA256, &c.Status, &c.Error, &c.VerifiedAt,
		&proven, &c.ProvenAt, &c.LockMode, &c.LockedUntil, &c.PrunedAt, &c.PrunedReason)
	c.ProvenByRun = derefInt(proven)
	return runID, c, err
}

// copiesOf returns the copies of each of runIDs' backups, primary first.
func copiesOf(ctx context.Context, q querier, runIDs []int64) (map[int64][]lifeboat.Copy, error) {
	out := map[int64][]lifeboat.Copy{}
	if len(runIDs) == 0 {
		return out, nil
	}
	rows, err := q.Query(ctx, `SELECT `+copyColumns+` FROM backup_copies WHERE run_id = ANY($1::bigint[])
		ORDER BY run_id, position`, runIDs)
	if err != nil {
		return nil, fmt.Errorf("backup copies: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		id, c, err := scanCopy(rows)
		if err != nil {
			return nil, fmt.Errorf("backup copies: %w", err)
		}
		out[id] = append(out[id], c)
	}
	return out, rows.Err()
}

// CopiesOf returns the copies of each of runIDs' backups, primary first.
func (s *Store) CopiesOf(ctx context.Context, runIDs []int64) (map[int64][]lifeboat.Copy, error) {
	return copiesOf(ctx, s.pool, runIDs)
}

// withCopies fills the Copies of backups.
func (s *Store) withCopies(ctx context.Context, backups []lifeboat.Backup) error {
	ids := make([]int64, len(backups))
	for i, b := range backups {
		ids[i] = b.ID
	}
	m, err := copiesOf(ctx, s.pool, ids)
	if err != nil {
		return err
	}
	for i := range backups {
		backups[i].Copies = m[backups[i].ID]
	}
	return nil
}

// copiesSave records a backup's copies and recipients (the backup stage's
// result). Without copies, the primary is recorded as stored.
func copiesSave(ctx context.Context, tx pgx.Tx, runID int64, a lifeboat.Artifact) error {
	copies := a.Copies
	if len(copies) == 0 {
		copies = []lifeboat.Copy{{Storage: a.Storage, Key: a.Key, StoredBytes: a.StoredBytes, SHA256: a.SHA256, Status: lifeboat.CopyStored}}
	}
	if _, err := tx.Exec(ctx, "DELETE FROM backup_copies WHERE run_id = $1", runID); err != nil {
		return fmt.Errorf("copies of run %d: %w", runID, err)
	}
	for i, c := range copies {
		if c.Status == "" {
			c.Status = lifeboat.CopyStored
		}
		if _, err := tx.Exec(ctx, `INSERT INTO backup_copies (run_id, storage, position, key, stored_bytes, sha256, status, error,
			verified_at, lock_mode, locked_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			runID, c.Storage, i, c.Key, c.StoredBytes, c.SHA256, c.Status, c.Error, c.VerifiedAt, c.LockMode, c.LockedUntil); err != nil {
			return fmt.Errorf("copies of run %d: %w", runID, err)
		}
	}
	if len(a.Recipients) > 0 {
		if _, err := tx.Exec(ctx, "UPDATE runs SET recipients = $2 WHERE id = $1", runID, a.Recipients); err != nil {
			return fmt.Errorf("recipients of run %d: %w", runID, err)
		}
	}
	return nil
}

// CopyProven records that run provenBy restored the copy of backupRun's
// backup on storage and the restore passed: its bytes were read and matched
// (verified), and it is proven by that run.
func (t *Tx) CopyProven(ctx context.Context, backupRun int64, storage string, provenBy int64, at time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE backup_copies SET status = 'verified', error = '',
		verified_at = coalesce(verified_at, $4), proven_by_run = $3, proven_at = $4
		WHERE run_id = $1 AND storage = $2`, backupRun, storage, provenBy, at)
	if err != nil {
		return fmt.Errorf("copy %s of run %d: %w", storage, backupRun, err)
	}
	return nil
}

// CopyPrune marks the copy of run's backup on storage deleted by retention.
func (s *Store) CopyPrune(ctx context.Context, runID int64, storage, reason string) error {
	_, err := s.pool.Exec(ctx, `UPDATE backup_copies SET pruned_at = coalesce(pruned_at, now()), pruned_reason = $3
		WHERE run_id = $1 AND storage = $2`, runID, storage, reason)
	if err != nil {
		return fmt.Errorf("prune copy %s of run %d: %w", storage, runID, err)
	}
	return nil
}

// UndecryptableBackups returns the ids of target's retained backups (not
// pruned) whose recipients include none of have: no loaded identity can
// restore them. Backups recorded before recipients were (NULL) are not
// judged.
func (s *Store) UndecryptableBackups(ctx context.Context, target string, have []string) ([]int64, []string, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, recipients FROM runs
		WHERE target = $1 AND artifact_key IS NOT NULL AND artifact_from_run IS NULL AND pruned_at IS NULL
		AND recipients IS NOT NULL AND NOT (recipients && $2::text[]) ORDER BY id DESC`, target, have)
	if err != nil {
		return nil, nil, fmt.Errorf("undecryptable backups of %s: %w", target, err)
	}
	defer rows.Close()
	var ids []int64
	seen := map[string]bool{}
	var recipients []string
	for rows.Next() {
		var id int64
		var rs []string
		if err := rows.Scan(&id, &rs); err != nil {
			return nil, nil, fmt.Errorf("undecryptable backups of %s: %w", target, err)
		}
		ids = append(ids, id)
		for _, r := range rs {
			if !seen[r] {
				seen[r] = true
				recipients = append(recipients, r)
			}
		}
	}
	return ids, recipients, rows.Err()
}

// ProofStorage chooses which of storages this run's restore proves: the
// one whose copies of target's backups were proven longest ago (never
// first, then in the order given). Each run proves one copy, so with every
// run passing each storage is proven within len(storages) runs.
func (s *Store) ProofStorage(ctx context.Context, target string, storages []string) (string, error) {
	if len(storages) <= 1 {
		if len(storages) == 0 {
			return "", nil
		}
		return storages[0], nil
	}
	var name string
	err := s.pool.QueryRow(ctx, `SELECT s.name FROM unnest($2::text[]) WITH ORDINALITY AS s(name, pos)
		LEFT JOIN LATERAL (SELECT max(c.proven_at) AS last FROM backup_copies c JOIN runs r ON r.id = c.run_id
			WHERE r.target = $1 AND c.storage = s.name) p ON true
		ORDER BY p.last ASC NULLS FIRST, s.pos LIMIT 1`, target, storages).Scan(&name)
	if err != nil {
		return "", fmt.Errorf("proof rotation of %s: %w", target, err)
	}
	return name, nil
}
