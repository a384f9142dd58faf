package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lifeboat-dev/lifeboat/internal/benchseed"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

func cmdSeed(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dbURL := fs.String("db", "", "state database URL (empty; migrated here)")
	var o benchseed.Options
	fs.IntVar(&o.Runs, "runs", 100_000, "runs in the history")
	fs.IntVar(&o.LogLines, "log-lines", 5_000_000, "run_logs lines in the history")
	fs.IntVar(&o.Targets, "targets", 10, "targets the runs are spread over")
	fs.DurationVar(&o.Span, "span", 365*24*time.Hour, "the period the history covers, ending now")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dbURL == "" {
		return fmt.Errorf("--db: required")
	}
	o.NoLogs = o.LogLines == 0
	pool, err := pgxpool.New(ctx, *dbURL)
	if err != nil {
		return fmt.Errorf("--db: %w", err)
	}
	defer pool.Close()
	start := time.Now()
	if _, err := store.New(pool).Migrate(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "migrated in %.1fs\n", time.Since(start).Seconds())
	res, err := benchseed.Seed(ctx, pool, o)
	if err != nil {
		return err
	}
	var size string
	if err := pool.QueryRow(ctx, `SELECT pg_size_pretty(pg_total_relation_size('runs')) || ' runs, ' ||
		pg_size_pretty(pg_total_relation_size('run_logs')) || ' run_logs'`).Scan(&size); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "seeded %d runs over %d targets, %d stages, %d checks, %d log lines in %.1fs (+ VACUUM ANALYZE %.1fs); %s\n",
		res.Runs, len(res.Targets), res.Stages, res.Checks, res.LogLines, res.Took.Seconds(), res.VacuumTook.Seconds(), size)
	for _, st := range res.Steps {
		fmt.Fprintf(stderr, "  %-16s %6.1fs\n", st.Name, st.Took.Seconds())
	}
	for _, t := range res.Targets {
		fmt.Fprintln(stdout, t)
	}
	return nil
}
