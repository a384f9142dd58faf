// Command benchapi is issue 3's API benchmark (make bench-api runs it from
// scripts/bench-api.sh, which owns PostgreSQL and the lifeboat server):
//
//	benchapi seed --db URL [--runs N --log-lines N --targets N]
//	    migrates an empty state database with lifeboat's migrations and
//	    seeds a history (internal/benchseed); prints the target names on
//	    stdout, one a line, and the figures on stderr.
//	benchapi load --url BASE --db URL [--clients 50 --duration 10s ...]
//	    measures pages of a running lifeboat with concurrent clients; the
//	    API token comes from $LIFEBOAT_BENCH_TOKEN (never argv).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchapi:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("give a command: seed or load")
	}
	switch args[0] {
	case "seed":
		return cmdSeed(ctx, args[1:], stdout, stderr)
	case "load":
		return cmdLoad(ctx, args[1:], getenv, stdout, stderr)
	default:
		return fmt.Errorf("unknown command %q: give seed or load", args[0])
	}
}
