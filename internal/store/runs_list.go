package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// RunList returns up to f.Limit runs matching f, newest first, with their
// stages (without metrics) but not their checks, and whether more follow.
// It is a keyset query (id < f.BeforeID ORDER BY id DESC) that an index
// serves for each filter, so a deep page costs what the first one does
// (make bench-api measures it over 100 000 runs):
//   - each of target, status and trigger, and each pair of them, has an
//     index on (…, id DESC), which returns a page's rows in order and stops;
//   - several statuses or triggers are one such page per value (or pair of
//     values), merged: "status = ANY(…)" cannot be read in id order, so it
//     either walks runs_pkey discarding the other statuses or sorts every
//     match;
//   - the query is planned with its values every time: a prepared
//     statement's generic plan cannot tell a rare status or target from a
//     common one, nor a small LIMIT from a large one, and walks runs_pkey
//     (target=billing&status=queued read all 100 000 runs: 322 ms).
func (s *Store) RunList(ctx context.Context, f lifeboat.RunFilter) ([]lifeboat.Run, bool, error) {
	if f.Limit <= 0 {
		return nil, false, lifeboat.Errorf(lifeboat.EINVALID, "limit: must be positive")
	}
	// The first argument makes pgx send the query unnamed, described from
	// its cache: PostgreSQL plans an unnamed statement with its values.
	args := []any{pgx.QueryExecModeCacheDescribe}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args)-1)
	}
	var common []string
	if f.Target != "" {
		common = append(common, "target = "+arg(f.Target))
	}
	if f.Since != nil {
		common = append(common, "created_at >= "+arg(*f.Since))
	}
	if f.Until != nil {
		common = append(common, "created_at < "+arg(*f.Until))
	}
	if f.BeforeID > 0 {
		common = append(common, "id < "+arg(f.BeforeID))
	}
	limit := arg(f.Limit + 1)
	statuses, triggers := distinct(f.Statuses), distinct(f.Triggers)
	var pages []string
	for i := range max(1, len(statuses)) {
		for j := range max(1, len(triggers)) {
			where := slices.Clone(common)
			if len(statuses) > 0 {
				where = append(where, "status = "+arg(statuses[i]))
			}
			if len(triggers) > 0 {
				where = append(where, "trigger = "+arg(triggers[j]))
			}
			page := "SELECT " + runColumns + " FROM runs"
			if len(where) > 0 {
				page += " WHERE " + strings.Join(where, " AND ")
			}
			pages = append(pages, page+" ORDER BY id DESC LIMIT "+limit)
		}
	}
	sql := pages[0]
	if len(pages) > 1 {
		// Each page stops at the limit: at most pages × limit rows are read.
		sql = "(" + strings.Join(pages, ") UNION ALL (") + ") ORDER BY id DESC LIMIT " + limit
	}

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

// distinct returns each of vs once, as strings.
func distinct[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	slices.Sort(out)
	return slices.Compact(out)
}
