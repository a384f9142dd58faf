package store

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// A backup is a run with an artifact.
const backupColumns = `r.id, r.target, r.storage, r.artifact_key, r.created_at, r.raw_bytes, r.stored_bytes, r.sha256,
	r.pruned_at, r.pruned_reason`

func scanBackup(row pgx.Row) (lifeboat.Backup, error) {
	var (
		b                    lifeboat.Backup
		storage, sha, reason *string
		raw, stored          *int64
	)
	err := row.Scan(&b.ID, &b.Target, &storage, &b.Key, &b.CreatedAt, &raw, &stored, &sha, &b.PrunedAt, &reason)
	if err != nil {
		return b, interpretError(err)
	}
	b.RunID = b.ID
	b.Storage, b.SHA256, b.PrunedReason = deref(storage), deref(sha), deref(reason)
	b.RawBytes, b.StoredBytes = derefInt(raw), derefInt(stored)
	return b, nil
}

// BackupList returns up to f.Limit of a target's backups newest first, and
// whether more follow. Pruned backups are left out unless f.IncludePruned.
// It is a keyset query (id < f.BeforeID ORDER BY id DESC) served by a
// partial index of each shape (migration 011), so a deep page costs what
// the first does.
func (s *Store) BackupList(ctx context.Context, f lifeboat.BackupFilter) ([]lifeboat.Backup, bool, error) {
	if f.Limit <= 0 {
		return nil, false, lifeboat.Errorf(lifeboat.EINVALID, "limit: must be positive")
	}
	before := f.BeforeID
	if before <= 0 {
		before = 1<<63 - 1
	}
	rows, err := s.pool.Query(ctx, backupListSQL(f.IncludePruned), f.Target, before, f.Limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("list backups of %s: %w", f.Target, err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lifeboat.Backup, error) { return scanBackup(row) })
	if err != nil {
		return nil, false, fmt.Errorf("list backups of %s: %w", f.Target, err)
	}
	more := len(out) > f.Limit
	if more {
		out = out[:f.Limit]
	}
	if err := s.withCopies(ctx, out); err != nil {
		return nil, false, err
	}
	if err := s.verifiedOf(ctx, out); err != nil {
		return nil, false, err
	}
	return out, more, nil
}

// verifiedOf sets Verified on backups that a run verified: primary-key
// probes per backup, in a query of its own so that no plan can
// turn it into a scan of every run's stages.
func (s *Store) verifiedOf(ctx context.Context, backups []lifeboat.Backup) error {
	if len(backups) == 0 {
		return nil
	}
	ids := make([]int64, len(backups))
	for i, b := range backups {
		ids[i] = b.ID
	}
	// A backup is verified when its own run verified it, or a retry that
	// reused it did (runs.artifact_from_run).
	rows, err := s.pool.Query(ctx, `SELECT run_id FROM run_stages WHERE run_id = ANY($1::bigint[])
			AND stage = 'verify' AND status = 'succeeded'
		UNION
		SELECT r.artifact_from_run FROM runs r
			JOIN run_stages st ON st.run_id = r.id AND st.stage = 'verify' AND st.status = 'succeeded'
		WHERE r.artifact_from_run = ANY($1::bigint[])`, ids)
	if err != nil {
		return fmt.Errorf("backups verified: %w", err)
	}
	verified, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return fmt.Errorf("backups verified: %w", err)
	}
	ok := make(map[int64]bool, len(verified))
	for _, id := range verified {
		ok[id] = true
	}
	for i := range backups {
		backups[i].Verified = ok[backups[i].ID]
	}
	return nil
}

// backupListSQL is BackupList's query: $1 target, $2 before id, $3 limit.
func backupListSQL(includePruned bool) string {
	// A retry that reused a backup carries its key too; the backup is
	// listed once, as the run that took it.
	cond := "r.artifact_key IS NOT NULL AND r.pruned_at IS NULL AND r.artifact_from_run IS NULL"
	if includePruned {
		cond = "r.artifact_key IS NOT NULL AND r.artifact_from_run IS NULL"
	}
	return `SELECT ` + backupColumns + ` FROM runs r
		WHERE r.target = $1 AND ` + cond + ` AND r.id < $2 ORDER BY r.id DESC LIMIT $3`
}

// BackupGet returns one backup (without its manifest, which lives in
// storage). A run without an artifact is not a backup: ErrNotFound. The id
// of a retry that reused a backup finds that backup.
func (s *Store) BackupGet(ctx context.Context, id int64) (lifeboat.Backup, error) {
	b, err := scanBackup(s.pool.QueryRow(ctx, `SELECT `+backupColumns+` FROM runs r
		WHERE r.id = (SELECT coalesce(artifact_from_run, id) FROM runs WHERE id = $1) AND r.artifact_key IS NOT NULL`, id))
	if err != nil {
		return b, fmt.Errorf("backup %d: %w", id, err)
	}
	one := []lifeboat.Backup{b}
	if err := s.withCopies(ctx, one); err != nil {
		return b, err
	}
	if err := s.verifiedOf(ctx, one); err != nil {
		return b, err
	}
	return one[0], nil
}

// TargetHasRuns reports whether target has any run in history (a target
// removed from the config may still have backups).
func (s *Store) TargetHasRuns(ctx context.Context, target string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM runs WHERE target = $1)", target).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("runs of %s: %w", target, err)
	}
	return ok, nil
}

// ServerKey returns lifeboat's key called name, creating a random 32-byte
// one on first use. Concurrent first uses agree: the first insert wins and
// everyone reads it back, so every process sharing this database signs with
// the same key.
func (s *Store) ServerKey(ctx context.Context, name string) ([]byte, error) {
	var key []byte
	err := s.pool.QueryRow(ctx, "SELECT key FROM server_keys WHERE name = $1", name).Scan(&key)
	if err == nil {
		return key, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("server key %s: %w", name, err)
	}
	fresh := make([]byte, 32)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	// Two statements: the read must see a concurrent winner's commit, which
	// the insert waited for but a snapshot taken before it would miss.
	if _, err := s.pool.Exec(ctx, "INSERT INTO server_keys (name, key) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
		name, fresh); err != nil {
		return nil, fmt.Errorf("server key %s: %w", name, err)
	}
	if err := s.pool.QueryRow(ctx, "SELECT key FROM server_keys WHERE name = $1", name).Scan(&key); err != nil {
		return nil, fmt.Errorf("server key %s: %w", name, interpretError(err))
	}
	return key, nil
}
