// Command lifeboat takes PostgreSQL backups and proves each one restores.
//
//	lifeboat serve   --config FILE [--workers=false]   API, dashboard and workers
//	lifeboat worker  --config FILE                     workers only
//	lifeboat migrate [--config FILE]                   apply lifeboat's and River's migrations
//	lifeboat run     --config FILE --target NAME       one whole run in the foreground
//	lifeboat restore --config FILE --object KEY (--into-env VAR | --into-file FILE | --into DATABASE_URL) [--storage NAME]
//	lifeboat token   create --name NAME | list | revoke (--id N | --name NAME)
//	lifeboat evidence verify FILE [--public-key KEY]   check a signed evidence report offline
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// defaultMemoryLimit is the Go heap's soft limit unless GOMEMLIMIT says
// otherwise. A backup's live memory is a few multipart and zstd buffers
// (~64 MB); without a limit the collector lets the heap grow to twice the
// live size, so the peak drifted up with the database's size (make bench:
// 135 MB at 1 GB, 165 MB at 3 GB). With it: 121 MB at 3 GB.
const defaultMemoryLimit = 96 << 20

func main() {
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(defaultMemoryLimit)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "lifeboat:", err)
		os.Exit(1)
	}
}

const usage = `usage: lifeboat <command> [flags]

commands:
  serve    --config FILE [--workers=false] [--listen ADDR]   API, dashboard and stage workers
           [--drain-timeout 10m]                            on SIGTERM: running stages may finish this long
  worker   --config FILE [--drain-timeout 10m]              stage workers only
  migrate  [--config FILE]                                  apply migrations (lifeboat's and River's)
  run      --config FILE --target NAME                      one whole run in the foreground; exit 0 only if verified
  restore  --config FILE --object KEY --into-env VAR [--storage NAME]
           (or --into-file FILE; --into DATABASE_URL puts its password in argv)
                                                            disaster recovery from a stored backup and its manifest
  token    create --name NAME | list | revoke (--id N | --name NAME)   [--config FILE]
                                                            API tokens (create prints the token, once)
  evidence verify FILE [--public-key KEY]                   check a downloaded evidence report offline
environment: LIFEBOAT_CONFIG, LIFEBOAT_DATABASE_URL, LIFEBOAT_LISTEN (default 127.0.0.1:8080)`

// run is the whole program; end-to-end tests call it as is.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return fmt.Errorf("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, getenv, stdout, stderr, true)
	case "worker":
		return cmdServe(ctx, rest, getenv, stdout, stderr, false)
	case "migrate":
		return cmdMigrate(ctx, rest, getenv, stdout, stderr)
	case "run":
		return cmdRun(ctx, rest, getenv, stdout, stderr)
	case "restore":
		return cmdRestore(ctx, rest, getenv, stdout, stderr)
	case "token":
		return cmdToken(ctx, rest, getenv, stdout, stderr)
	case "evidence":
		return cmdEvidence(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}
