package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// RunJob is one of a run's River jobs that has not reached a final state.
type RunJob struct {
	ID    int64  `json:"id"`
	Kind  string `json:"kind"`
	State string `json:"state"` // available, pending, retryable, running or scheduled
	// Gone names the lifeboat worker that holds this job and stopped
	// beating (see workers): the one working it, or, for a job in a
	// worker's own sandbox queue, that worker. Empty while it lives.
	Gone string `json:"gone,omitempty"`
}

// ActiveRun is a queued or running run as the janitor judges it: where it
// stands, when anything last happened to it and which jobs could still
// move it.
type ActiveRun struct {
	ID     int64
	Target string
	Status lifeboat.RunStatus
	// Stage is the running stage, else the first pending one (empty when
	// neither is left); StageStatus says which.
	Stage          lifeboat.StageName
	StageStatus    lifeboat.StageStatus
	StageStartedAt *time.Time
	// LastActivity is the newest of the run's creation and its stages'
	// start and finish times.
	LastActivity time.Time
	// Jobs are the run's stage jobs River may still work or is working.
	Jobs []RunJob
	// DBNow is the state database's clock when the row was read: the
	// timestamps above were written by it.
	DBNow time.Time
}

// activeRunsSQL reads the active runs and their unfinished stage jobs in one
// statement, so both come from one snapshot: a stage hand-over (stage
// result + next job, one transaction) is seen entirely or not at all.
//
// A job's holder is gone when it is a lifeboat worker (River client ids
// "lifeboat-…") with no beat for WorkerStale: the worker of a running job,
// or the owner of the sandbox queue a job waits in.
var activeRunsSQL = `WITH live AS (
	SELECT j.id, j.kind, j.state::text AS state, (j.args->>'run_id')::bigint AS run_id,
		CASE
		WHEN j.queue LIKE 'sandbox\_%' AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.queue = j.queue
			AND w.beat_at > now() - interval '` + workerStaleSQL + `') THEN j.queue
		WHEN j.state = 'running' AND j.attempted_by[array_upper(j.attempted_by, 1)] LIKE 'lifeboat-%'
			AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.id = j.attempted_by[array_upper(j.attempted_by, 1)]
			AND w.beat_at > now() - interval '` + workerStaleSQL + `') THEN j.attempted_by[array_upper(j.attempted_by, 1)]
		ELSE '' END AS gone
	FROM river_job j
	WHERE j.state IN ('available', 'pending', 'retryable', 'running', 'scheduled') AND j.kind = ANY($1::text[])
)
SELECT r.id, r.target, r.status, coalesce(s.stage, ''), coalesce(s.status, ''), s.started_at,
	greatest(r.created_at, (SELECT max(greatest(st.started_at, st.finished_at)) FROM run_stages st WHERE st.run_id = r.id)),
	coalesce((SELECT jsonb_agg(jsonb_build_object('id', l.id, 'kind', l.kind, 'state', l.state, 'gone', l.gone) ORDER BY l.id)
		FROM live l WHERE l.run_id = r.id), '[]'::jsonb),
	now()
FROM runs r
LEFT JOIN LATERAL (SELECT stage, status, started_at FROM run_stages
	WHERE run_id = r.id AND status IN ('running', 'pending')
	ORDER BY status = 'running' DESC, position LIMIT 1) s ON true
WHERE r.status IN ('queued', 'running')`

// workerStaleSQL is WorkerStale as an SQL interval.
var workerStaleSQL = strconv.Itoa(int(WorkerStale/time.Second)) + " seconds"

func scanActiveRun(row pgx.Row) (ActiveRun, error) {
	var a ActiveRun
	err := row.Scan(&a.ID, &a.Target, &a.Status, &a.Stage, &a.StageStatus, &a.StageStartedAt,
		&a.LastActivity, &a.Jobs, &a.DBNow)
	return a, err
}

// ActiveRuns returns every queued or running run, oldest first, with its
// River jobs of the given kinds (the stage kinds; jobs carry the run id in
// their args) that are not finished.
func (s *Store) ActiveRuns(ctx context.Context, jobKinds []string) ([]ActiveRun, error) {
	rows, err := s.pool.Query(ctx, activeRunsSQL+" ORDER BY r.id", jobKinds)
	if err != nil {
		return nil, fmt.Errorf("active runs: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ActiveRun, error) { return scanActiveRun(row) })
	if err != nil {
		return nil, fmt.Errorf("active runs: %w", err)
	}
	return out, nil
}

// ActiveRunLock locks the run's stage rows until the transaction ends and
// reads the run as ActiveRuns does, afresh. It returns ErrNotFound when the
// run is no longer active. A worker finishing a stage takes the same rows
// first, so the caller sees either its whole hand-over or none of it, and
// janitors of several processes judge one run one at a time.
func (t *Tx) ActiveRunLock(ctx context.Context, id int64, jobKinds []string) (ActiveRun, error) {
	if _, err := t.tx.Exec(ctx, "SELECT 1 FROM run_stages WHERE run_id = $1 ORDER BY position FOR UPDATE", id); err != nil {
		return ActiveRun{}, fmt.Errorf("lock run %d: %w", id, err)
	}
	a, err := scanActiveRun(t.tx.QueryRow(ctx, activeRunsSQL+" AND r.id = $2", jobKinds, id))
	if err != nil {
		return a, fmt.Errorf("active run %d: %w", id, interpretError(err))
	}
	return a, nil
}

// RunStatuses returns the status of each of ids that exists.
func (s *Store) RunStatuses(ctx context.Context, ids []int64) (map[int64]lifeboat.RunStatus, error) {
	rows, err := s.pool.Query(ctx, "SELECT id, status FROM runs WHERE id = ANY($1::bigint[])", ids)
	if err != nil {
		return nil, fmt.Errorf("run statuses: %w", err)
	}
	defer rows.Close()
	out := make(map[int64]lifeboat.RunStatus, len(ids))
	for rows.Next() {
		var id int64
		var st lifeboat.RunStatus
		if err := rows.Scan(&id, &st); err != nil {
			return nil, fmt.Errorf("run statuses: %w", err)
		}
		out[id] = st
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run statuses: %w", err)
	}
	return out, nil
}

// JanitorRun is what one janitor pass cleaned up.
type JanitorRun struct {
	ID             int64
	RanAt          time.Time
	ScratchDropped []string // scratch databases dropped
	UploadsAborted int      // stale multipart uploads aborted
	RunsFailed     []int64  // stuck runs failed and handed to report
	// ReportsRequeued are runs stuck in (or before) report whose report
	// was enqueued again.
	ReportsRequeued []int64
	Errors          string // one line per problem; empty when none
}

// JanitorRunSave records a pass and returns its id. Passes that did
// nothing and found nothing wrong are deleted once older than forgetBefore,
// so the table keeps its history of clean-ups without a row every ten
// minutes forever.
func (s *Store) JanitorRunSave(ctx context.Context, jr JanitorRun, forgetBefore time.Time) (int64, error) {
	var id int64
	err := s.InTx(ctx, func(tx *Tx) error {
		if err := tx.tx.QueryRow(ctx, `INSERT INTO janitor_runs
			(ran_at, scratch_dropped, uploads_aborted, runs_failed, reports_requeued, errors)
			VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
			jr.RanAt, nonNil(jr.ScratchDropped), jr.UploadsAborted, nonNil(jr.RunsFailed),
			nonNil(jr.ReportsRequeued), jr.Errors).Scan(&id); err != nil {
			return err
		}
		_, err := tx.tx.Exec(ctx, `DELETE FROM janitor_runs WHERE ran_at < $1
			AND scratch_dropped = '{}' AND uploads_aborted = 0 AND runs_failed = '{}'
			AND reports_requeued = '{}' AND errors = ''`, forgetBefore)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("record janitor pass: %w", err)
	}
	return id, nil
}

// JanitorRunList returns up to limit recorded passes, newest first.
func (s *Store) JanitorRunList(ctx context.Context, limit int) ([]JanitorRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, ran_at, scratch_dropped, uploads_aborted, runs_failed,
		reports_requeued, errors FROM janitor_runs ORDER BY id DESC LIMIT $1`, limit)
	if err != nil {
		return nil, fmt.Errorf("janitor passes: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[JanitorRun])
	if err != nil {
		return nil, fmt.Errorf("janitor passes: %w", err)
	}
	return out, nil
}

// nonNil makes a nil slice an empty array rather than SQL NULL.
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
