package store

import (
	"context"
	"fmt"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// EvidenceRun is a run of an evidence report's period, with its stages
// (without metrics) and checks, and when its backup was taken (the backup
// stage's end, of the run that took it when a retry reused it).
type EvidenceRun struct {
	Run      lifeboat.Run
	BackupAt *time.Time
}

// EvidenceRuns returns the runs created in [from, to) of target ("" for
// every target), oldest first, at most limit of them; more reports whether
// the period holds more.
func (s *Store) EvidenceRuns(ctx context.Context, target string, from, to time.Time, limit int) (runs []EvidenceRun, more bool, err error) {
	rows, err := s.pool.Query(ctx, `SELECT `+runColumns+`,
			(SELECT b.finished_at FROM run_stages b WHERE b.run_id = coalesce(r.artifact_from_run, r.id) AND b.stage = 'backup')
		FROM runs r WHERE ($1 = '' OR target = $1) AND created_at >= $2 AND created_at < $3
		ORDER BY id LIMIT $4`, target, from, to, limit+1)
	if err != nil {
		return nil, false, fmt.Errorf("evidence runs: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var er EvidenceRun
		if er.Run, err = scanRun(withExtra{rows, []any{&er.BackupAt}}); err != nil {
			return nil, false, fmt.Errorf("evidence runs: %w", err)
		}
		runs = append(runs, er)
	}
	if err := rows.Err(); err != nil {
		return nil, false, fmt.Errorf("evidence runs: %w", err)
	}
	rows.Close()
	if len(runs) > limit {
		runs, more = runs[:limit], true
	}
	plain := make([]lifeboat.Run, len(runs))
	for i := range runs {
		plain[i] = runs[i].Run
	}
	if err := s.stagesOf(ctx, plain); err != nil {
		return nil, false, err
	}
	if err := s.checksOf(ctx, plain); err != nil {
		return nil, false, err
	}
	for i := range runs {
		runs[i].Run = plain[i]
	}
	return runs, more, nil
}

// checksOf loads the check results of runs in one query.
func (s *Store) checksOf(ctx context.Context, runs []lifeboat.Run) error {
	if len(runs) == 0 {
		return nil
	}
	ids := make([]int64, len(runs))
	byID := make(map[int64]*lifeboat.Run, len(runs))
	for i := range runs {
		ids[i] = runs[i].ID
		byID[runs[i].ID] = &runs[i]
		runs[i].Checks = []lifeboat.CheckResult{}
	}
	rows, err := s.pool.Query(ctx, `SELECT run_id, name, builtin, passed, expected, observed
		FROM check_results WHERE run_id = ANY($1::bigint[]) ORDER BY run_id, position`, ids)
	if err != nil {
		return fmt.Errorf("checks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var c lifeboat.CheckResult
		if err := rows.Scan(&id, &c.Name, &c.Builtin, &c.Passed, &c.Expected, &c.Observed); err != nil {
			return fmt.Errorf("checks: %w", err)
		}
		if r := byID[id]; r != nil {
			r.Checks = append(r.Checks, c)
		}
	}
	return rows.Err()
}

// VerifiedBefore returns, per target (target "" for all), the newest
// verified backup taken before t: the succeeded run and when its backup was
// taken.
func (s *Store) VerifiedBefore(ctx context.Context, target string, t time.Time) (map[string]Verified, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (r.target) r.target, r.id, b.finished_at
		FROM runs r JOIN run_stages b ON b.run_id = coalesce(r.artifact_from_run, r.id) AND b.stage = 'backup'
		WHERE r.status = 'succeeded' AND ($1 = '' OR r.target = $1) AND b.finished_at < $2
		ORDER BY r.target, b.finished_at DESC`, target, t)
	if err != nil {
		return nil, fmt.Errorf("verified backups before %s: %w", t.Format(time.RFC3339), err)
	}
	defer rows.Close()
	out := map[string]Verified{}
	for rows.Next() {
		var name string
		var v Verified
		if err := rows.Scan(&name, &v.RunID, &v.BackupAt); err != nil {
			return nil, fmt.Errorf("verified backups: %w", err)
		}
		out[name] = v
	}
	return out, rows.Err()
}

// EvidenceKey is the stored evidence signing key; the private key is
// sealed (age) by the caller.
type EvidenceKey struct {
	KeyID         string
	PublicKey     []byte
	SealedPrivate []byte
	CreatedAt     time.Time
}

// EvidenceKeyGet returns the stored key, or lifeboat.ErrNotFound.
func (s *Store) EvidenceKeyGet(ctx context.Context) (EvidenceKey, error) {
	var k EvidenceKey
	err := s.pool.QueryRow(ctx, `SELECT key_id, public_key, sealed_private, created_at FROM evidence_key`).
		Scan(&k.KeyID, &k.PublicKey, &k.SealedPrivate, &k.CreatedAt)
	if err != nil {
		return k, fmt.Errorf("evidence key: %w", interpretError(err))
	}
	return k, nil
}

// EvidenceKeyCreate stores k unless a key exists, and returns the stored
// one: concurrent first uses agree on the first insert.
func (s *Store) EvidenceKeyCreate(ctx context.Context, k EvidenceKey) (EvidenceKey, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO evidence_key (key_id, public_key, sealed_private, created_at)
		VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`, k.KeyID, k.PublicKey, k.SealedPrivate, k.CreatedAt); err != nil {
		return k, fmt.Errorf("evidence key: %w", err)
	}
	return s.EvidenceKeyGet(ctx)
}
