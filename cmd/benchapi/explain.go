package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
)

// statements reads pg_stat_statements (when the server preloads it) around
// each measurement: what the real queries of a page cost in the database,
// whatever SQL internal/store sends.
type statements struct {
	db    *pgxpool.Pool
	ok    bool
	order []string
	by    map[string]stmtReport
}

type stmtReport struct {
	requests int
	rows     []stmtRow
}

type stmtRow struct {
	calls           int64
	totalMS, rows   float64
	blksHit, blksRd int64
	query           string
}

func newStatements(ctx context.Context, db *pgxpool.Pool, stderr io.Writer) *statements {
	s := &statements{db: db, by: map[string]stmtReport{}}
	if _, err := db.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
		fmt.Fprintf(stderr, "pg_stat_statements unavailable (%v): no per-statement figures\n", err)
		return s
	}
	if _, err := db.Exec(ctx, "SELECT 1 FROM pg_stat_statements LIMIT 1"); err != nil {
		fmt.Fprintf(stderr, "pg_stat_statements unavailable (%v; shared_preload_libraries?): no per-statement figures\n", err)
		return s
	}
	s.ok = true
	return s
}

func (s *statements) reset(ctx context.Context) {
	if s.ok {
		_, _ = s.db.Exec(ctx, "SELECT pg_stat_statements_reset()")
	}
}

// read keeps the heaviest statements since the last reset; the last round
// of each scenario wins.
func (s *statements) read(ctx context.Context, name string, requests int) {
	if !s.ok || requests == 0 {
		return
	}
	rows, err := s.db.Query(ctx, `SELECT calls, total_exec_time, rows, shared_blks_hit, shared_blks_read, query
		FROM pg_stat_statements
		WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND query NOT ILIKE '%pg_stat_statements%'
		ORDER BY total_exec_time DESC`)
	if err != nil {
		return
	}
	defer rows.Close()
	rep := stmtReport{requests: requests}
	for rows.Next() {
		var r stmtRow
		var rowCount int64
		if err := rows.Scan(&r.calls, &r.totalMS, &rowCount, &r.blksHit, &r.blksRd, &r.query); err != nil {
			return
		}
		r.rows = float64(rowCount)
		rep.rows = append(rep.rows, r)
	}
	if _, seen := s.by[name]; !seen {
		s.order = append(s.order, name)
	}
	s.by[name] = rep
}

var spaces = regexp.MustCompile(`\s+`)

// shortSQL squeezes a statement onto one line, eliding long select lists.
func shortSQL(q string) string {
	q = strings.TrimSpace(spaces.ReplaceAllString(q, " "))
	if i, j := strings.Index(q, "SELECT "), strings.Index(q, " FROM "); i == 0 && j > 60 {
		q = "SELECT … " + q[j+1:]
	}
	if len(q) > 110 {
		q = q[:107] + "…"
	}
	return q
}

func (s *statements) print(w io.Writer) {
	if !s.ok || len(s.order) == 0 {
		return
	}
	fmt.Fprintln(w, "\ndatabase time per request, last round (pg_stat_statements; statements under 2% of the time omitted):")
	for _, name := range s.order {
		rep := s.by[name]
		var total float64
		var calls int64
		for _, r := range rep.rows {
			total += r.totalMS
			calls += r.calls
		}
		n := float64(rep.requests)
		fmt.Fprintf(w, "  %s: %.3f ms in %.1f statements per request\n", name, total/n, float64(calls)/n)
		for _, r := range rep.rows {
			if r.totalMS < total*0.02 {
				continue
			}
			fmt.Fprintf(w, "    %4.1f/req %7.3f ms %7.1f rows %6.1f buffers  %s\n", float64(r.calls)/n, r.totalMS/float64(r.calls),
				r.rows/float64(r.calls), float64(r.blksHit+r.blksRd)/float64(r.calls), shortSQL(r.query))
		}
	}
}

// explained is a query as internal/store sends it (same WHERE, ORDER BY
// and LIMIT; the select list does not change the plan), with the values
// one scenario gives it.
type explained struct {
	name   string
	params string // PREPARE's parameter types
	sql    string
	args   string // EXECUTE's arguments, as SQL literals
}

// explainAll prints EXPLAIN (ANALYZE, BUFFERS) summaries of the pages'
// queries, with the custom plan (values known) and the generic plan a
// prepared statement may switch to after five executions (pgx prepares and
// caches every statement).
func explainAll(ctx context.Context, db *pgxpool.Pool, l *loader, scenarios []scenario, logRun, logAfter int64) error {
	w := l.out
	// The cursors are opaque: the bound of a page is one past its first run.
	firstID := func(s scenario) (int64, []int64, error) {
		var page runPage
		if err := l.getJSON(ctx, s.path, &page); err != nil {
			return 0, nil, err
		}
		ids := make([]int64, len(page.Runs))
		for i, r := range page.Runs {
			ids[i] = r.ID
		}
		return page.Runs[0].ID + 1, ids, nil
	}
	_, firstIDs, err := firstID(scenarios[0])
	if err != nil {
		return err
	}
	deepBound, _, err := firstID(scenarios[1])
	if err != nil {
		return err
	}
	targetBound, _, err := firstID(scenarios[3])
	if err != nil {
		return err
	}
	idList := make([]string, len(firstIDs))
	for i, id := range firstIDs {
		idList[i] = fmt.Sprint(id)
	}
	target := "'" + strings.ReplaceAll(l.f.target, "'", "''") + "'"
	var halfway string
	if err := db.QueryRow(ctx, `SELECT created_at::text FROM runs ORDER BY id
		OFFSET (SELECT count(*) / 2 FROM runs) LIMIT 1`).Scan(&halfway); err != nil {
		return err
	}
	queries := []explained{
		{"runs, first page", "bigint", "SELECT * FROM runs ORDER BY id DESC LIMIT $1", "51"},
		{"runs, deep page", "bigint, bigint", "SELECT * FROM runs WHERE id < $1 ORDER BY id DESC LIMIT $2", fmt.Sprintf("%d, 51", deepBound)},
		{"runs, target+failed", "text, text, bigint", "SELECT * FROM runs WHERE target = $1 AND status = $2 ORDER BY id DESC LIMIT $3",
			target + ", 'failed', 51"},
		{"runs, target deep page", "text, bigint, bigint", "SELECT * FROM runs WHERE target = $1 AND id < $2 ORDER BY id DESC LIMIT $3",
			fmt.Sprintf("%s, %d, 51", target, targetBound)},
		// Two statuses: one page each, merged (store.RunList).
		{"runs, queued+running", "text, text, bigint", `(SELECT * FROM runs WHERE status = $1 ORDER BY id DESC LIMIT $3)
			UNION ALL (SELECT * FROM runs WHERE status = $2 ORDER BY id DESC LIMIT $3) ORDER BY id DESC LIMIT $3`,
			"'queued', 'running', 51"},
		// Runs created before a time long ago: no index returns them in id
		// order, so the first page walks runs_pkey past every newer run.
		{"runs, until half-way", "timestamptz, bigint", "SELECT * FROM runs WHERE created_at < $1 ORDER BY id DESC LIMIT $2",
			"'" + halfway + "', 51"},
		{"stages of a page", "bigint[]", `SELECT run_id, stage, status, attempt, started_at, finished_at, error
			FROM run_stages WHERE run_id = ANY($1::bigint[]) ORDER BY run_id, position`, "'{" + strings.Join(idList, ",") + "}'"},
		{"run exists (logs)", "bigint", "SELECT EXISTS (SELECT 1 FROM runs WHERE id = $1)", fmt.Sprint(logRun)},
		{"log page", "bigint, bigint, bigint", "SELECT id, stage, ts, level, message FROM run_logs WHERE run_id = $1 AND id > $2 ORDER BY id LIMIT $3",
			fmt.Sprintf("%d, %d, 500", logRun, logAfter)},
	}
	conn, err := db.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	fmt.Fprintln(w, "\nEXPLAIN (ANALYZE, BUFFERS) of the pages' queries, planned with their values, then as the generic plan a")
	fmt.Fprintln(w, "prepared statement may switch to after five runs (store.RunList always plans with the values):")
	for i, q := range queries {
		name := fmt.Sprintf("bench_q%d", i)
		if _, err := conn.Exec(ctx, fmt.Sprintf("PREPARE %s (%s) AS %s", name, q.params, q.sql)); err != nil {
			return fmt.Errorf("explain %s: %w", q.name, err)
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			if _, err := conn.Exec(ctx, "SET plan_cache_mode = "+mode); err != nil {
				return err
			}
			var raw []byte
			if err := conn.QueryRow(ctx, fmt.Sprintf("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) EXECUTE %s (%s)", name, q.args)).Scan(&raw); err != nil {
				return fmt.Errorf("explain %s: %w", q.name, err)
			}
			label := q.name
			if mode == "force_generic_plan" {
				label = "  (generic)"
			}
			fmt.Fprintf(w, "  %-24s %s\n", label, summarizePlan(raw))
		}
		if _, err := conn.Exec(ctx, "DEALLOCATE "+name); err != nil {
			return err
		}
	}
	_, err = conn.Exec(ctx, "RESET plan_cache_mode")
	return err
}

type planNode struct {
	NodeType       string     `json:"Node Type"`
	IndexName      string     `json:"Index Name"`
	Relation       string     `json:"Relation Name"`
	ScanDirection  string     `json:"Scan Direction"`
	ActualRows     float64    `json:"Actual Rows"`
	ActualLoops    float64    `json:"Actual Loops"`
	RemovedFilter  float64    `json:"Rows Removed by Filter"`
	HeapFetches    *float64   `json:"Heap Fetches"`
	SharedHit      int64      `json:"Shared Hit Blocks"`
	SharedRead     int64      `json:"Shared Read Blocks"`
	Plans          []planNode `json:"Plans"`
	IndexCondition string     `json:"Index Cond"`
	Filter         string     `json:"Filter"`
}

// summarizePlan makes one line of an EXPLAIN (FORMAT JSON): time, buffers
// and the node chain with the rows each produced or filtered out.
func summarizePlan(raw []byte) string {
	var out []struct {
		Plan          planNode `json:"Plan"`
		ExecutionTime float64  `json:"Execution Time"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) == 0 {
		return "(unreadable plan)"
	}
	p := out[0]
	var nodes []string
	var walk func(n planNode)
	walk = func(n planNode) {
		s := n.NodeType
		if n.NodeType == "Index Scan" || n.NodeType == "Index Only Scan" {
			if n.ScanDirection == "Backward" {
				s += " Backward"
			}
		}
		if n.IndexName != "" {
			s += " using " + n.IndexName
		} else if n.Relation != "" {
			s += " on " + n.Relation
		}
		s += fmt.Sprintf(" (%.0f rows", n.ActualRows*n.ActualLoops)
		if n.RemovedFilter > 0 {
			s += fmt.Sprintf(", %.0f filtered out", n.RemovedFilter*n.ActualLoops)
		}
		s += ")"
		nodes = append(nodes, s)
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(p.Plan)
	return fmt.Sprintf("%.2f ms, %d buffers: %s", p.ExecutionTime, p.Plan.SharedHit+p.Plan.SharedRead, strings.Join(nodes, " > "))
}
