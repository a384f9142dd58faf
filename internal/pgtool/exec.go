package pgtool

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Command describes one invocation of a client tool.
type Command struct {
	Bin    Binary
	Args   []string
	Env    []string // added to the process environment (secrets go here)
	Stdin  io.Reader
	Stdout io.Writer
	Log    *slog.Logger
}

// Run executes c, sending each stderr line to the log as it is written. It
// is killed when ctx ends. The error carries the last stderr lines.
func Run(ctx context.Context, c Command) error {
	cmd := exec.CommandContext(ctx, c.Bin.Path, c.Args...)
	cmd.Env = append(ChildEnv(os.Getenv), c.Env...)
	// Its own process group, killed whole (pg_restore -j forks workers), and
	// dead with lifeboat however lifeboat dies.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.Stdin = c.Stdin
	cmd.Stdout = c.Stdout
	// Don't hang on a stdin/stdout copy goroutine once the process is gone.
	cmd.WaitDelay = 10 * time.Second
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	name := toolName(c.Bin.Path)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	tail := &lineTail{max: 5}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			line := sc.Text()
			tail.add(line)
			if c.Log != nil {
				level := slog.LevelInfo
				if strings.Contains(line, "error:") || strings.Contains(line, "ERROR:") || strings.Contains(line, "FATAL:") {
					level = slog.LevelError
				} else if strings.Contains(line, "warning:") || strings.Contains(line, "WARNING:") {
					level = slog.LevelWarn
				}
				c.Log.Log(context.WithoutCancel(ctx), level, name+": "+line)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	wg.Wait()
	err = cmd.Wait()
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return fmt.Errorf("%s stopped: %w", name, context.Cause(ctx))
	}
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		msg := tail.String()
		if msg == "" {
			msg = "no output"
		}
		return fmt.Errorf("%s exited with status %d: %s", name, exitErr.ExitCode(), msg)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// childEnvAllowed are the variables of lifeboat's environment a client tool
// inherits: enough to find libraries, locale and time zone. Nothing else:
// lifeboat's own secrets must not leak into the tools, and a stray PGHOST,
// PGSSLMODE or PGOPTIONS must not change where or how they connect.
var childEnvAllowed = []string{"PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TZ", "TMPDIR", "LD_LIBRARY_PATH"}

// ChildEnv is the environment a client tool starts from (the connection's
// own variables are added to it).
func ChildEnv(getenv func(string) string) []string {
	var env []string
	for _, k := range childEnvAllowed {
		if v := getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func toolName(path string) string {
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		return path[i+1:]
	}
	return path
}

// lineTail keeps the last max lines (with an error marker preferred).
type lineTail struct {
	mu    sync.Mutex
	max   int
	lines []string
}

func (t *lineTail) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lines = append(t.lines, l)
	if len(t.lines) > t.max {
		t.lines = t.lines[len(t.lines)-t.max:]
	}
}

func (t *lineTail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.Join(t.lines, "; ")
}

// DumpOptions are the inputs of Dump.
type DumpOptions struct {
	Bin      Binary
	URL      string // source database; its password goes through PGPASSWORD
	Snapshot string // exported snapshot id, so counts and dump agree
	Out      io.Writer
	Log      *slog.Logger
}

// Dump streams `pg_dump -Fc -Z0` of the source to Out. Compression happens
// outside pg_dump (zstd is far faster than pg_dump's gzip).
func Dump(ctx context.Context, o DumpOptions) error {
	dbname, env, err := ConnArgs(o.URL)
	if err != nil {
		return err
	}
	args := []string{"--format=custom", "--compress=0", "--no-password", "--dbname=" + dbname}
	if o.Snapshot != "" {
		args = append(args, "--snapshot="+o.Snapshot)
	}
	return Run(ctx, Command{Bin: o.Bin, Args: args, Env: env, Stdout: o.Out, Log: o.Log})
}

// RestoreOptions are the inputs of Restore.
type RestoreOptions struct {
	Bin  Binary
	URL  string    // database to restore into
	File string    // a seekable dump file (needed for Jobs > 1)...
	In   io.Reader // ...or a stream
	Jobs int
	// Clean drops each object of the dump before recreating it
	// (--clean --if-exists): restoring over a database that has them.
	Clean bool
	Log   *slog.Logger
}

// Restore runs pg_restore with --exit-on-error: a restore with errors is a
// failed restore. Ownership and grants are not restored, so a dump restores
// on a server that lacks the source's roles.
func Restore(ctx context.Context, o RestoreOptions) error {
	dbname, env, err := ConnArgs(o.URL)
	if err != nil {
		return err
	}
	args := []string{"--no-owner", "--no-privileges", "--exit-on-error", "--no-password", "--dbname=" + dbname}
	if o.Clean {
		args = append(args, "--clean", "--if-exists")
	}
	if o.Jobs > 1 && o.File != "" {
		args = append(args, "--jobs="+strconv.Itoa(o.Jobs))
	}
	if o.File != "" {
		args = append(args, o.File)
	}
	return Run(ctx, Command{Bin: o.Bin, Args: args, Env: env, Stdin: o.In, Stdout: io.Discard, Log: o.Log})
}
