package store

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// RunCreate inserts a queued run and its four pending stages.
func (t *Tx) RunCreate(ctx context.Context, target string, trigger lifeboat.Trigger) (int64, error) {
	var id int64
	if err := t.tx.QueryRow(ctx,
		"INSERT INTO runs (target, trigger) VALUES ($1, $2) RETURNING id", target, string(trigger)).Scan(&id); err != nil {
		return 0, fmt.Errorf("create run: %w", err)
	}
	for i, st := range lifeboat.Stages {
		if _, err := t.tx.Exec(ctx,
			"INSERT INTO run_stages (run_id, stage, position) VALUES ($1, $2, $3)", id, string(st), i); err != nil {
			return 0, fmt.Errorf("create run stages: %w", err)
		}
	}
	return id, nil
}

const runColumns = `id, target, trigger, status, error, created_at, started_at, finished_at,
	storage, artifact_key, stored_bytes, raw_bytes, sha256, server_version, pg_dump_version, scheduled_for, missed_slots, pruned_at, pruned_reason,
	retry_of, artifact_from_run, baseline_accepted_at, baseline_accepted_by`

func scanRun(row pgx.Row) (lifeboat.Run, error) {
	var (
		r                                  lifeboat.Run
		storage, key, sha, srvVer, dumpVer *string
		stored, raw                        *int64
		prunedAt                           *time.Time
		prunedReason                       *string
		artifactFrom                       *int64
		acceptedAt                         *time.Time
		acceptedBy                         *string
	)
	err := row.Scan(&r.ID, &r.Target, &r.Trigger, &r.Status, &r.Error, &r.CreatedAt, &r.StartedAt, &r.FinishedAt,
		&storage, &key, &stored, &raw, &sha, &srvVer, &dumpVer, &r.ScheduledFor, &r.MissedSlots, &prunedAt, &prunedReason,
		&r.RetryOf, &artifactFrom, &acceptedAt, &acceptedBy)
	if err != nil {
		return r, interpretError(err)
	}
	if r.ScheduledFor != nil {
		r.LateSeconds = r.CreatedAt.Sub(*r.ScheduledFor).Seconds()
	}
	if key != nil {
		r.Artifact = &lifeboat.Artifact{Storage: deref(storage), Key: *key, StoredBytes: derefInt(stored),
			RawBytes: derefInt(raw), SHA256: deref(sha), PrunedAt: prunedAt, PrunedReason: deref(prunedReason),
			ReusedFromRun: derefInt(artifactFrom)}
	}
	if acceptedAt != nil {
		r.Baseline = &lifeboat.BaselineAcceptance{By: deref(acceptedBy), At: *acceptedAt}
	}
	if srvVer != nil || dumpVer != nil {
		r.Versions = map[string]any{"server": deref(srvVer), "pg_dump": deref(dumpVer)}
	}
	return r, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(n *int64) int64 {
	if n == nil {
		return 0
	}
	return *n
}

// RunGet returns a run with its stages and check results.
// It reads the run, its stages and checks in one snapshot, so a run is
// never seen half-updated (a report stage done but the run not finished).
func (s *Store) RunGet(ctx context.Context, id int64) (lifeboat.Run, error) {
	var run lifeboat.Run
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly},
		func(tx pgx.Tx) error {
			var err error
			run, err = runGet(ctx, tx, id)
			return err
		})
	return run, err
}

// RunGet is RunGet inside the transaction.
func (t *Tx) RunGet(ctx context.Context, id int64) (lifeboat.Run, error) {
	return runGet(ctx, t.tx, id)
}

func runGet(ctx context.Context, q querier, id int64) (lifeboat.Run, error) {
	r, err := scanRun(q.QueryRow(ctx, "SELECT "+runColumns+" FROM runs WHERE id = $1", id))
	if err != nil {
		return r, fmt.Errorf("run %d: %w", id, err)
	}
	if r.Artifact != nil {
		from := r.ID
		if r.Artifact.ReusedFromRun != 0 {
			from = r.Artifact.ReusedFromRun
		}
		copies, err := copiesOf(ctx, q, []int64{from})
		if err != nil {
			return r, err
		}
		r.Artifact.Copies = copies[from]
	}
	rows, err := q.Query(ctx, `SELECT stage, status, attempt, started_at, finished_at, error, metrics
		FROM run_stages WHERE run_id = $1 ORDER BY position`, id)
	if err != nil {
		return r, fmt.Errorf("run %d stages: %w", id, err)
	}
	r.Stages, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (lifeboat.Stage, error) {
		var st lifeboat.Stage
		var metrics []byte
		err := row.Scan(&st.Name, &st.Status, &st.Attempt, &st.StartedAt, &st.FinishedAt, &st.Error, &metrics)
		st.Metrics = metrics
		return st, err
	})
	if err != nil {
		return r, fmt.Errorf("run %d stages: %w", id, err)
	}
	rows, err = q.Query(ctx, `SELECT name, builtin, passed, expected, observed
		FROM check_results WHERE run_id = $1 ORDER BY position`, id)
	if err != nil {
		return r, fmt.Errorf("run %d checks: %w", id, err)
	}
	r.Checks, err = pgx.CollectRows(rows, pgx.RowToStructByPos[lifeboat.CheckResult])
	if err != nil {
		return r, fmt.Errorf("run %d checks: %w", id, err)
	}
	return r, nil
}

// RunSnapshot returns the source snapshot the backup stage recorded.
func (s *Store) RunSnapshot(ctx context.Context, id int64) (lifeboat.SourceSnapshot, error) {
	var snap lifeboat.SourceSnapshot
	var raw []byte
	if err := s.pool.QueryRow(ctx, "SELECT source_snapshot FROM runs WHERE id = $1", id).Scan(&raw); err != nil {
		return snap, fmt.Errorf("run %d snapshot: %w", id, interpretError(err))
	}
	if raw == nil {
		return snap, fmt.Errorf("run %d has no source snapshot: %w", id, lifeboat.ErrNotFound)
	}
	return snap, json.Unmarshal(raw, &snap)
}

// StageStart marks a stage running (attempt n) and the run running.
func (s *Store) StageStart(ctx context.Context, runID int64, stage lifeboat.StageName, attempt int) error {
	return s.InTx(ctx, func(tx *Tx) error { return tx.StageStart(ctx, runID, stage, attempt) })
}

// StageStart is StageStart inside the transaction (which also queues what
// the start causes, such as run.started webhooks).
func (t *Tx) StageStart(ctx context.Context, runID int64, stage lifeboat.StageName, attempt int) error {
	if _, err := t.tx.Exec(ctx, `UPDATE run_stages SET status = 'running', attempt = $3, started_at = now(),
		finished_at = NULL, error = '' WHERE run_id = $1 AND stage = $2 AND status IN ('pending', 'running')`,
		runID, string(stage), attempt); err != nil {
		return fmt.Errorf("start stage %s of run %d: %w", stage, runID, err)
	}
	_, err := t.tx.Exec(ctx, `UPDATE runs SET status = 'running', started_at = coalesce(started_at, now())
		WHERE id = $1 AND status = 'queued'`, runID)
	return err
}

// StageSucceed records a stage's success and its metrics.
func (t *Tx) StageSucceed(ctx context.Context, runID int64, stage lifeboat.StageName, metrics any) error {
	return t.stageEnd(ctx, runID, stage, lifeboat.StageSucceeded, "", metrics)
}

// StageFail records a stage's failure, skips the stages between it and
// report, and records the reason on the run.
func (t *Tx) StageFail(ctx context.Context, runID int64, stage lifeboat.StageName, reason string, metrics any) error {
	if err := t.stageEnd(ctx, runID, stage, lifeboat.StageFailed, reason, metrics); err != nil {
		return err
	}
	if _, err := t.tx.Exec(ctx, `UPDATE run_stages SET status = 'skipped' WHERE run_id = $1 AND status = 'pending'
		AND stage <> 'report'`, runID); err != nil {
		return fmt.Errorf("skip stages of run %d: %w", runID, err)
	}
	// The run keeps its status until report has run (RunFinish), so a
	// "failed" run has always been reported; the reason is visible at once.
	if _, err := t.tx.Exec(ctx, `UPDATE runs SET error = $2 WHERE id = $1 AND error = ''`,
		runID, fmt.Sprintf("%s: %s", stage, reason)); err != nil {
		return fmt.Errorf("fail run %d: %w", runID, err)
	}
	return nil
}

func (t *Tx) stageEnd(ctx context.Context, runID int64, stage lifeboat.StageName, status lifeboat.StageStatus, reason string, metrics any) error {
	var m []byte
	if metrics != nil {
		var err error
		if m, err = json.Marshal(metrics); err != nil {
			return fmt.Errorf("stage metrics: %w", err)
		}
	}
	// Only an undecided stage ends: a worker that hung past its timeout must
	// not overwrite what the janitor decided meanwhile.
	tag, err := t.tx.Exec(ctx, `UPDATE run_stages SET status = $3, error = $4, metrics = $5, finished_at = now(),
		started_at = coalesce(started_at, now()) WHERE run_id = $1 AND stage = $2 AND status IN ('pending', 'running')`,
		runID, string(stage), string(status), reason, m)
	if err != nil {
		return fmt.Errorf("end stage %s of run %d: %w", stage, runID, err)
	}
	if tag.RowsAffected() == 0 {
		return lifeboat.Errorf(lifeboat.ECONFLICT, "stage %s of run %d has already ended", stage, runID)
	}
	return nil
}

// ArtifactSet records the stored backup, the tool versions and the source
// snapshot the backup stage produced.
func (t *Tx) ArtifactSet(ctx context.Context, runID int64, a lifeboat.Artifact, serverVersion, pgDumpVersion string, snap lifeboat.SourceSnapshot) error {
	raw, err := json.Marshal(snap)
	if err != nil {
		return err
	}
	_, err = t.tx.Exec(ctx, `UPDATE runs SET storage = $2, artifact_key = $3, stored_bytes = $4, raw_bytes = $5, sha256 = $6,
		server_version = $7, pg_dump_version = $8, source_snapshot = $9 WHERE id = $1`,
		runID, a.Storage, a.Key, a.StoredBytes, a.RawBytes, a.SHA256, serverVersion, pgDumpVersion, raw)
	if err != nil {
		return fmt.Errorf("set artifact of run %d: %w", runID, err)
	}
	return copiesSave(ctx, t.tx, runID, a)
}

// ChecksSave replaces the run's check results.
func (t *Tx) ChecksSave(ctx context.Context, runID int64, checks []lifeboat.CheckResult) error {
	if _, err := t.tx.Exec(ctx, "DELETE FROM check_results WHERE run_id = $1", runID); err != nil {
		return fmt.Errorf("save checks of run %d: %w", runID, err)
	}
	for i, c := range checks {
		if _, err := t.tx.Exec(ctx, `INSERT INTO check_results (run_id, position, name, builtin, passed, expected, observed)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, runID, i, c.Name, c.Builtin, c.Passed, c.Expected, c.Observed); err != nil {
			return fmt.Errorf("save checks of run %d: %w", runID, err)
		}
	}
	return nil
}

// RunFinish closes a run: succeeded unless a stage failed or it was
// canceled. It returns the final run.
func (t *Tx) RunFinish(ctx context.Context, runID int64) (lifeboat.Run, error) {
	_, err := t.tx.Exec(ctx, `UPDATE runs SET finished_at = coalesce(finished_at, now()),
		status = CASE WHEN status IN ('queued', 'running') THEN
			CASE WHEN EXISTS (SELECT 1 FROM run_stages WHERE run_id = $1 AND status = 'failed') THEN 'failed' ELSE 'succeeded' END
			ELSE status END
		WHERE id = $1`, runID)
	if err != nil {
		return lifeboat.Run{}, fmt.Errorf("finish run %d: %w", runID, err)
	}
	return runGet(ctx, t.tx, runID)
}

// LogAppend persists one log line of a run.
func (s *Store) LogAppend(ctx context.Context, runID int64, stage lifeboat.StageName, ts time.Time, level, message string) error {
	_, err := s.pool.Exec(ctx, "INSERT INTO run_logs (run_id, stage, ts, level, message) VALUES ($1, $2, $3, $4, $5)",
		runID, string(stage), ts, level, message)
	if err != nil {
		return fmt.Errorf("append log of run %d: %w", runID, err)
	}
	return nil
}

// LogList returns up to limit log lines of a run with id > after.
func (s *Store) LogList(ctx context.Context, runID, after int64, limit int) ([]lifeboat.LogLine, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, stage, ts, level, message FROM run_logs
		WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3`, runID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("logs of run %d: %w", runID, err)
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[lifeboat.LogLine])
}

// RunExists reports whether a run exists (for 404s without loading it all).
func (s *Store) RunExists(ctx context.Context, id int64) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)", id).Scan(&ok)
	return ok, err
}

// RunLatestByTarget returns each named target's newest run. One indexed
// lookup per target, so the cost does not grow with history.
func (s *Store) RunLatestByTarget(ctx context.Context, targets []string) (map[string]lifeboat.Run, error) {
	rows, err := s.pool.Query(ctx, `SELECT r.`+strings.ReplaceAll(runColumns, ", ", ", r.")+`
		FROM unnest($1::text[]) AS t(name)
		CROSS JOIN LATERAL (SELECT * FROM runs WHERE runs.target = t.name ORDER BY id DESC LIMIT 1) r`, targets)
	if err != nil {
		return nil, fmt.Errorf("latest runs: %w", err)
	}
	defer rows.Close()
	out := make(map[string]lifeboat.Run, len(targets))
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, fmt.Errorf("latest runs: %w", err)
		}
		out[r.Target] = r
	}
	return out, rows.Err()
}
