package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// RunList returns up to f.Limit runs matching f, newest first, with their
// stages (without metrics) but not their checks, and whether more follow.
// It is a keyset query (id < f.BeforeID ORDER BY id DESC) that an index
// serves for each filter, so a deep page costs what the first one does.
func (s *Store) RunList(ctx context.Context, f lifeboat.RunFilter) ([]lifeboat.Run, bool, error) {
	if f.Limit <= 0 {
		return nil, false, lifeboat.Errorf(lifeboat.EINVALID, "limit: must be positive")
	}
	var (
		where []string
		args  []any
	)
	add := func(cond string, arg any) {
		args = append(args, arg)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Target != "" {
		add("target = $%d", f.Target)
	}
	// One value is an equality, which the (status, id DESC) and
	// (trigger, id DESC) indexes return already in order.
	switch statuses := stringsOf(f.Statuses); len(statuses) {
	case 0:
	case 1:
		add("status = $%d", statuses[0])
	default:
		add("status = ANY($%d::text[])", statuses)
	}
	switch triggers := stringsOf(f.Triggers); len(triggers) {
	case 0:
	case 1:
		add("trigger = $%d", triggers[0])
	default:
		add("trigger = ANY($%d::text[])", triggers)
	}
	if f.Since != nil {
		add("created_at >= $%d", *f.Since)
	}
	if f.Until != nil {
		add("created_at < $%d", *f.Until)
	}
	if f.BeforeID > 0 {
		add("id < $%d", f.BeforeID)
	}
	sql := "SELECT " + runColumns + " FROM runs"
	if len(where) > 0 {
		sql += " WHERE " + strings.Join(where, " AND ")
	}
	args = append(args, f.Limit+1)
	sql += fmt.Sprintf(" ORDER BY id DESC LIMIT $%d", len(args))

	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, false, fmt.Errorf("list runs: %w", err)
	}
	runs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (lifeboat.Run, error) { return scanRun(row) })
	if err != nil {
		return nil, false, fmt.Errorf("list runs: %w", err)
	}
	more := len(runs) > f.Limit
	if more {
		runs = runs[:f.Limit]
	}
	if err := s.stagesOf(ctx, runs); err != nil {
		return nil, false, err
	}
	return runs, more, nil
}

// stagesOf loads the stages of runs (without metrics) in one query.
func (s *Store) stagesOf(ctx context.Context, runs []lifeboat.Run) error {
	if len(runs) == 0 {
		return nil
	}
	ids := make([]int64, len(runs))
	byID := make(map[int64]*lifeboat.Run, len(runs))
	for i := range runs {
		ids[i] = runs[i].ID
		byID[runs[i].ID] = &runs[i]
		runs[i].Stages = []lifeboat.Stage{}
	}
	rows, err := s.pool.Query(ctx, `SELECT run_id, stage, status, attempt, started_at, finished_at, error
		FROM run_stages WHERE run_id = ANY($1::bigint[]) ORDER BY run_id, position`, ids)
	if err != nil {
		return fmt.Errorf("list runs: stages: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var st lifeboat.Stage
		if err := rows.Scan(&id, &st.Name, &st.Status, &st.Attempt, &st.StartedAt, &st.FinishedAt, &st.Error); err != nil {
			return fmt.Errorf("list runs: stages: %w", err)
		}
		if r := byID[id]; r != nil {
			r.Stages = append(r.Stages, st)
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list runs: stages: %w", err)
	}
	return nil
}

// stringsOf converts typed string constants for a text[] parameter.
func stringsOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
