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

// ArtifactReusable reports whether run id's artifact may still be reused by
// a retry, and why not: it is recorded with its sha256 and its snapshot,
// and retention has neither deleted it nor begun to. The caller holds the
// target's state row (RunStartLock), which ArtifactPruneBegin takes too,
// so the answer holds until the transaction ends.
func (t *Tx) ArtifactReusable(ctx context.Context, id int64) (bool, string, error) {
	var (
		key, sha             *string
		snap                 bool
		pruned, pruneStarted *time.Time
	)
	err := t.tx.QueryRow(ctx, `SELECT artifact_key, sha256, source_snapshot IS NOT NULL, pruned_at, prune_started_at
		FROM runs WHERE id = $1`, id).Scan(&key, &sha, &snap, &pruned, &pruneStarted)
	if err != nil {
		return false, "", fmt.Errorf("artifact of run %d: %w", id, interpretError(err))
	}
	switch {
	case key == nil:
		return false, fmt.Sprintf("run %d stored no backup", id), nil
	case pruned != nil:
		return false, fmt.Sprintf("retention deleted run %d's backup at %s", id, pruned.UTC().Format(time.RFC3339)), nil
	case pruneStarted != nil:
		return false, fmt.Sprintf("retention is deleting run %d's backup", id), nil
	case deref(sha) == "":
		return false, fmt.Sprintf("run %d's backup has no recorded sha256", id), nil
	case !snap:
		return false, fmt.Sprintf("run %d's backup has no recorded source snapshot", id), nil
	}
	return true, "", nil
}

// RetryCreate describes a retry run.
type RetryCreate struct {
	Target  string
	RetryOf int64
	// Reuse copies RetryOf's artifact, tool versions and source snapshot
	// and skips the backup stage; the run starts at restore. Without it
	// the retry is a whole new run.
	Reuse bool
}

// ReuseMetrics are the skipped backup stage's metrics of a retry that
// reused an earlier run's backup.
type ReuseMetrics struct {
	ReusedFromRun int64  `json:"reused_from_run"`
	RetryOf       int64  `json:"retry_of"`
	Storage       string `json:"storage"`
	Key           string `json:"key"`
	SHA256        string `json:"sha256"`
}

// RunCreateRetry inserts a queued retry of c.RetryOf and its stages. When
// c.Reuse, the new row shares the old run's artifact (artifact_from_run is
// the run that wrote it, whichever retry this is) and its backup stage is
// skipped with ReuseMetrics. The caller has checked ArtifactReusable under
// the target's lock.
func (t *Tx) RunCreateRetry(ctx context.Context, c RetryCreate) (int64, error) {
	var id int64
	var err error
	if c.Reuse {
		err = t.tx.QueryRow(ctx, `INSERT INTO runs (target, trigger, retry_of, storage, artifact_key, stored_bytes,
			raw_bytes, sha256, server_version, pg_dump_version, source_snapshot, artifact_from_run)
			SELECT $1, 'retry', id, storage, artifact_key, stored_bytes, raw_bytes, sha256, server_version,
				pg_dump_version, source_snapshot, coalesce(artifact_from_run, id)
			FROM runs WHERE id = $2 AND target = $1 AND artifact_key IS NOT NULL
			RETURNING id`, c.Target, c.RetryOf).Scan(&id)
	} else {
		err = t.tx.QueryRow(ctx, `INSERT INTO runs (target, trigger, retry_of) VALUES ($1, 'retry', $2) RETURNING id`,
			c.Target, c.RetryOf).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("create retry of run %d: %w", c.RetryOf, interpretError(err))
	}
	for i, st := range lifeboat.Stages {
		if _, err := t.tx.Exec(ctx,
			"INSERT INTO run_stages (run_id, stage, position) VALUES ($1, $2, $3)", id, string(st), i); err != nil {
			return 0, fmt.Errorf("create run stages: %w", err)
		}
	}
	if !c.Reuse {
		return id, nil
	}
	m := ReuseMetrics{RetryOf: c.RetryOf}
	var storage *string
	if err := t.tx.QueryRow(ctx, "SELECT artifact_from_run, storage, artifact_key, sha256 FROM runs WHERE id = $1", id).
		Scan(&m.ReusedFromRun, &storage, &m.Key, &m.SHA256); err != nil {
		return 0, fmt.Errorf("retry %d: %w", id, err)
	}
	m.Storage = deref(storage)
	raw, err := json.Marshal(m)
	if err != nil {
		return 0, err
	}
	// No start or finish time: nothing ran, and the stage-duration
	// histogram must not count a zero-second backup.
	if _, err := t.tx.Exec(ctx, `UPDATE run_stages SET status = 'skipped', metrics = $2
		WHERE run_id = $1 AND stage = 'backup'`, id, raw); err != nil {
		return 0, fmt.Errorf("skip backup of retry %d: %w", id, err)
	}
	return id, nil
}

// LogAppend persists one log line of a run in the transaction, so the line
// exists exactly when what it tells of does.
func (t *Tx) LogAppend(ctx context.Context, runID int64, stage lifeboat.StageName, level, message string) error {
	_, err := t.tx.Exec(ctx, "INSERT INTO run_logs (run_id, stage, level, message) VALUES ($1, $2, $3, $4)",
		runID, string(stage), level, message)
	if err != nil {
		return fmt.Errorf("append log of run %d: %w", runID, err)
	}
	return nil
}

// ArtifactPruneBegin is retention's last word before it deletes run id's
// artifact: under the target's state row lock (which a retry holds while it
// decides to reuse an artifact) it refuses, with ECONFLICT naming the run,
// when an active run shares the artifact, and otherwise marks every run
// sharing it as being pruned, so no retry reuses it from now on. id is the
// run that wrote the artifact.
func (s *Store) ArtifactPruneBegin(ctx context.Context, id int64) error {
	return s.InTx(ctx, func(tx *Tx) error {
		var target string
		err := tx.tx.QueryRow(ctx, "SELECT target FROM runs WHERE id = $1", id).Scan(&target)
		if err != nil {
			return fmt.Errorf("prune artifact of run %d: %w", id, interpretError(err))
		}
		if _, err := tx.TargetStateLock(ctx, target); err != nil {
			return err
		}
		var active int64
		err = tx.tx.QueryRow(ctx, `SELECT id FROM runs WHERE (id = $1 OR artifact_from_run = $1)
			AND status IN ('queued', 'running') ORDER BY id LIMIT 1`, id).Scan(&active)
		if err == nil {
			return lifeboat.Errorf(lifeboat.ECONFLICT, "run %d's backup is in use by active run %d", id, active)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("prune artifact of run %d: %w", id, err)
		}
		if _, err := tx.tx.Exec(ctx, `UPDATE runs SET prune_started_at = coalesce(prune_started_at, now())
			WHERE id = $1 OR artifact_from_run = $1`, id); err != nil {
			return fmt.Errorf("prune artifact of run %d: %w", id, err)
		}
		return nil
	})
}
