package testenv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// HeldLock is a session of another application holding ACCESS EXCLUSIVE
// on a table, as a migration or a careless psql would.
type HeldLock struct {
	PID  int
	conn *pgx.Conn
	tx   pgx.Tx
	once sync.Once
}

// HoldLock takes ACCESS EXCLUSIVE on table in the database at u from a
// session named app, until Release (or the test's end).
func HoldLock(t testing.TB, u, table, app string) *HeldLock {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfg, err := pgx.ParseConfig(u)
	if err != nil {
		t.Fatalf("parse %q: %v", u, err)
	}
	cfg.RuntimeParams["application_name"] = app
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	h := &HeldLock{conn: conn}
	if h.tx, err = conn.Begin(ctx); err == nil {
		_, err = h.tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE")
	}
	if err == nil {
		err = h.tx.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&h.PID)
	}
	if err != nil {
		_ = conn.Close(ctx)
		t.Fatalf("lock %s: %v", table, err)
	}
	t.Cleanup(h.Release)
	return h
}

// Release ends the holding transaction and its session.
func (h *HeldLock) Release() {
	h.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = h.tx.Rollback(ctx)
		_ = h.conn.Close(ctx)
	})
}
