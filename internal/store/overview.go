package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// runHistorySQL reads each named target's newest runs in one statement: a
// LATERAL walk of (target, id DESC) per target, stopped after $2 rows, and
// for each run only the stages a history needs (by primary key): restore,
// whose timings are the recovery-time trend, and a failed one, which says
// where a run broke. The cost grows with targets × $2, never with history.
//
// The runs are asked for by the range "target >= name AND target <= name"
// for the reason targetHealthSQL gives: with an equality the planner may
// walk the primary key backwards instead, reading a quiet target's whole
// history (TestRunHistoryPlan).
var runHistorySQL = `SELECT ` + prefixed("r.", runColumns) + `,
	s.stage, s.status, s.attempt, s.started_at, s.finished_at, s.error
FROM unnest($1::text[]) WITH ORDINALITY AS t(name, i)
CROSS JOIN LATERAL (SELECT ` + runColumns + ` FROM runs WHERE runs.target >= t.name AND runs.target <= t.name
	ORDER BY runs.target, runs.id DESC LIMIT $2) r
LEFT JOIN run_stages s ON s.run_id = r.id AND (s.stage = 'restore' OR s.status = 'failed')
ORDER BY t.i, r.id DESC, s.position`

// prefixed qualifies each of a comma-separated column list with p.
func prefixed(p, columns string) string {
	cols := strings.Split(columns, ",")
	for i, c := range cols {
		cols[i] = p + strings.TrimSpace(c)
	}
	return strings.Join(cols, ", ")
}

// RunHistory returns each named target's newest runs, newest first, at most
// perTarget each, in one query: the overview's sparklines and the target
// page's charts. A run carries its artifact and only the stages a history
// shows (restore, and any failed stage, without metrics), no checks. A
// target without runs has no entry.
func (s *Store) RunHistory(ctx context.Context, targets []string, perTarget int) (map[string][]lifeboat.Run, error) {
	if perTarget <= 0 {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "perTarget: must be positive")
	}
	rows, err := s.pool.Query(ctx, runHistorySQL, targets, perTarget)
	if err != nil {
		return nil, fmt.Errorf("run history: %w", err)
	}
	defer rows.Close()
	out := make(map[string][]lifeboat.Run, len(targets))
	var cur *lifeboat.Run // the run the current row belongs to
	for rows.Next() {
		var (
			stage             *lifeboat.StageName
			status            *lifeboat.StageStatus
			attempt           *int
			started, finished *time.Time
			stageErr          *string
		)
		r, err := scanRun(withExtra{rows, []any{&stage, &status, &attempt, &started, &finished, &stageErr}})
		if err != nil {
			return nil, fmt.Errorf("run history: %w", err)
		}
		if cur == nil || cur.ID != r.ID {
			r.Stages = []lifeboat.Stage{}
			out[r.Target] = append(out[r.Target], r)
			list := out[r.Target]
			cur = &list[len(list)-1]
		}
		if stage != nil {
			cur.Stages = append(cur.Stages, lifeboat.Stage{Name: *stage, Status: *status, Attempt: *attempt,
				StartedAt: started, FinishedAt: finished, Error: *stageErr})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("run history: %w", err)
	}
	return out, nil
}

// withExtra scans a row into scanRun's destinations and then extra, so a
// query may select columns beside runColumns.
type withExtra struct {
	pgx.Row
	extra []any
}

func (w withExtra) Scan(dest ...any) error { return w.Row.Scan(append(dest, w.extra...)...) }

// DeliveriesLatest returns, for each webhook notifier, its newest delivery
// about any of runIDs (a target's recent runs): the target page's delivery
// status. One probe of the (run_id, …) unique index per run.
func (s *Store) DeliveriesLatest(ctx context.Context, runIDs []int64) ([]lifeboat.Delivery, error) {
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT ON (notifier) `+deliveryColumns+`
		FROM webhook_deliveries WHERE run_id = ANY($1::bigint[]) ORDER BY notifier, id DESC`, runIDs)
	if err != nil {
		return nil, fmt.Errorf("latest deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lifeboat.Delivery, error) { return scanDelivery(row) })
	if err != nil {
		return nil, fmt.Errorf("latest deliveries: %w", err)
	}
	return out, nil
}
