package pgtool

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// SessionURL returns rawURL with the session settings lifeboat's own source
// sessions use: application_name names them (so they can be found and ended
// when their stage is canceled), and lock_timeout bounds each wait for a
// table lock another session holds (0: the server's setting). Options the
// URL already carries are kept; both libpq (pg_dump) and pgx read them.
func SessionURL(rawURL, appName string, lockTimeout time.Duration) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", errors.New("database URL is not a postgres:// URL")
	}
	q := u.Query()
	if appName != "" {
		q.Set("application_name", appName)
	}
	if lockTimeout > 0 {
		opt := "-c lock_timeout=" + strconv.FormatInt(max(lockTimeout.Milliseconds(), 1), 10)
		if old := q.Get("options"); old != "" {
			opt = old + " " + opt
		}
		q.Set("options", opt)
	}
	// Encode writes a space as "+", which libpq and pgx read literally in
	// options: spell it %20.
	u.RawQuery = strings.ReplaceAll(q.Encode(), "+", "%20")
	return u.String(), nil
}

// DumpLockWait is Dump with pg_dump's --lock-wait-timeout: pg_dump sets
// its session's lock_timeout to 0 itself, so only this flag bounds its wait
// for the ACCESS SHARE locks it takes on every table at its start (0: wait
// as long as it takes).
func DumpLockWait(ctx context.Context, o DumpOptions, lockWait time.Duration) error {
	if lockWait <= 0 {
		return Dump(ctx, o)
	}
	dbname, env, err := ConnArgs(o.URL)
	if err != nil {
		return err
	}
	args := []string{"--format=custom", "--compress=0", "--no-password", "--dbname=" + dbname,
		"--lock-wait-timeout=" + strconv.FormatInt(max(lockWait.Milliseconds(), 1), 10)}
	if o.Snapshot != "" {
		args = append(args, "--snapshot="+o.Snapshot)
	}
	return Run(ctx, Command{Bin: o.Bin, Args: args, Env: env, Stdout: o.Out, Log: o.Log})
}

// IsLockTimeout says whether err is a lock wait that gave up: the server's
// lock_not_available (55P03), or pg_dump's LOCK TABLE canceled by its
// --lock-wait-timeout (a statement timeout).
func IsLockTimeout(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code == "55P03"
	}
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "lock timeout") || strings.Contains(msg, "could not obtain lock") ||
		strings.Contains(msg, "LOCK TABLE") && strings.Contains(msg, "statement timeout")
}

// Blocker is a session holding a lock that conflicts with reading a table.
type Blocker struct {
	Table       string // schema-qualified
	Mode        string // e.g. AccessExclusiveLock
	PID         int
	Application string
	State       string
	QueryStart  *time.Time
	XactStart   *time.Time
}

func (b Blocker) String() string {
	s := fmt.Sprintf("table %s is locked (%s) by pid %d", b.Table, b.Mode, b.PID)
	var parts []string
	parts = append(parts, fmt.Sprintf("application %q", brief(b.Application, 40)))
	if b.State != "" {
		parts = append(parts, "state "+b.State)
	}
	if b.QueryStart != nil {
		parts = append(parts, "query started "+b.QueryStart.UTC().Format(time.RFC3339))
	}
	if b.XactStart != nil {
		parts = append(parts, "transaction started "+b.XactStart.UTC().Format(time.RFC3339))
	}
	return s + " (" + strings.Join(parts, ", ") + ")"
}

// brief cuts untrusted text (an application_name) short.
func brief(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// LockBlockers lists the sessions other than lifeboat's own (those named
// ownApp) that hold a lock conflicting with ACCESS SHARE (what reading or
// dumping a table takes) on a table of url's database, oldest first.
func LockBlockers(ctx context.Context, rawURL, ownApp string) ([]Blocker, error) {
	conn, err := Connect(ctx, rawURL)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rows, err := conn.Query(ctx, `SELECT format('%I.%I', n.nspname, c.relname), l.mode, a.pid,
			coalesce(a.application_name, ''), coalesce(a.state, ''), a.query_start, a.xact_start
		FROM pg_locks l
		JOIN pg_class c ON c.oid = l.relation
		JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_stat_activity a ON a.pid = l.pid
		WHERE l.granted AND l.locktype = 'relation' AND l.mode = 'AccessExclusiveLock'
		  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
		  AND a.pid <> pg_backend_pid() AND coalesce(a.application_name, '') <> $1
		ORDER BY a.xact_start NULLS LAST, a.pid, 1
		LIMIT 5`, ownApp)
	if err != nil {
		return nil, fmt.Errorf("list lock holders: %w", err)
	}
	defer rows.Close()
	var out []Blocker
	for rows.Next() {
		var b Blocker
		if err := rows.Scan(&b.Table, &b.Mode, &b.PID, &b.Application, &b.State, &b.QueryStart, &b.XactStart); err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// EndSessions terminates the sessions of url's server named appName (other
// than the one it uses itself) and says how many there were. A stage whose
// context ended calls it: a killed pg_dump's server session would otherwise
// go on waiting for its lock. A role may end its own sessions without being
// a superuser.
func EndSessions(ctx context.Context, rawURL, appName string) (int, error) {
	if appName == "" {
		return 0, errors.New("end sessions: no application name")
	}
	conn, err := Connect(ctx, rawURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var n int
	err = conn.QueryRow(ctx, `SELECT count(*) FILTER (WHERE pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE application_name = $1 AND pid <> pg_backend_pid()`, appName).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("end sessions %q: %w", appName, err)
	}
	return n, nil
}
