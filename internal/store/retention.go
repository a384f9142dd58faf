package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// StoredBackup is a run's artifact that retention has not pruned.
type StoredBackup struct {
	RunID     int64 // the run that wrote it
	Storage   string
	Key       string
	CreatedAt time.Time
	Status    lifeboat.RunStatus
	// Copy is this copy's record (nil for a backup made before copies were
	// recorded: its one object is the run's).
	Copy *lifeboat.Copy
}

// RetentionHistory is what retention reads of one target's history.
type RetentionHistory struct {
	// Backups are the artifacts not pruned, newest first, once each
	// however many runs share them.
	Backups []StoredBackup
	// LatestRunFailed: of the runs that succeeded or failed (canceled ones
	// say nothing about the pipeline), the last created failed.
	LatestRunFailed bool
	// FirstRunAt is when the target's first run was created; zero when it
	// has none.
	FirstRunAt time.Time
}

// RetentionHistory reads a target's stored artifacts and latest outcome in
// one snapshot, so the two agree.
func (s *Store) RetentionHistory(ctx context.Context, target string) (RetentionHistory, error) {
	var h RetentionHistory
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		// One backup per object: a retry that reused an earlier run's
		// backup shares its row's artifact. The backup is the run that
		// wrote it (its id and creation time) with the most telling status
		// of the runs sharing it: active keeps it, succeeded verifies it.
		rows, err := tx.Query(ctx, `SELECT coalesce(artifact_from_run, id), storage, artifact_key, min(created_at),
				(array_agg(status ORDER BY CASE status WHEN 'running' THEN 0 WHEN 'queued' THEN 1
					WHEN 'succeeded' THEN 2 ELSE 3 END, id))[1]
			FROM runs WHERE target = $1 AND artifact_key IS NOT NULL AND pruned_at IS NULL
			GROUP BY 1, 2, 3 ORDER BY 4 DESC, 1 DESC`, target)
		if err != nil {
			return err
		}
		h.Backups, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (StoredBackup, error) {
			var b StoredBackup
			var storage *string
			err := row.Scan(&b.RunID, &storage, &b.Key, &b.CreatedAt, &b.Status)
			b.Storage = deref(storage)
			return b, err
		})
		if err != nil {
			return err
		}
		if h.Backups, err = withCopyRows(ctx, tx, h.Backups); err != nil {
			return err
		}
		var latest string
		err = tx.QueryRow(ctx, `SELECT status FROM runs WHERE target = $1 AND status IN ('succeeded', 'failed')
			ORDER BY created_at DESC, id DESC LIMIT 1`, target).Scan(&latest)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		h.LatestRunFailed = latest == string(lifeboat.RunFailed)
		var first *time.Time
		if err := tx.QueryRow(ctx, "SELECT min(created_at) FROM runs WHERE target = $1", target).Scan(&first); err != nil {
			return err
		}
		if first != nil {
			h.FirstRunAt = *first
		}
		return nil
	})
	if err != nil {
		return h, fmt.Errorf("retention history of %s: %w", target, err)
	}
	return h, nil
}

// ArtifactPrune records that a run's artifact was deleted from storage, and
// why, on the run and on the retries that shared it. The first record
// stands: pruning twice changes nothing.
func (s *Store) ArtifactPrune(ctx context.Context, runID int64, reason string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE runs SET pruned_at = coalesce(pruned_at, now()),
		pruned_reason = coalesce(pruned_reason, $2) WHERE id = $1 OR artifact_from_run = $1`, runID, reason)
	if err != nil {
		return fmt.Errorf("prune artifact of run %d: %w", runID, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("prune artifact of run %d: %w", runID, lifeboat.ErrNotFound)
	}
	return nil
}

// withCopyRows expands each backup into one entry per copy not pruned (a
// target may write to several storages); backups without copy records
// stay as they are.
func withCopyRows(ctx context.Context, q querier, backups []StoredBackup) ([]StoredBackup, error) {
	ids := make([]int64, len(backups))
	for i, b := range backups {
		ids[i] = b.RunID
	}
	copies, err := copiesOf(ctx, q, ids)
	if err != nil {
		return nil, err
	}
	out := make([]StoredBackup, 0, len(backups))
	for _, b := range backups {
		cs, ok := copies[b.RunID]
		if !ok {
			out = append(out, b)
			continue
		}
		for _, c := range cs {
			if c.PrunedAt != nil {
				continue
			}
			e := b
			e.Storage, e.Key = c.Storage, c.Key
			e.Copy = &c
			out = append(out, e)
		}
	}
	return out, nil
}
