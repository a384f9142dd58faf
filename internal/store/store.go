// Package store keeps lifeboat's own state in PostgreSQL. It is the only
// package that writes SQL against lifeboat's tables; driver errors are
// translated here (pgx.ErrNoRows → lifeboat.ErrNotFound) and nowhere else.
package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/migrations"
)

// Store is lifeboat's state database.
type Store struct {
	pool *pgxpool.Pool
}

// New wraps an open pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Pool exposes the pool for River, which shares lifeboat's database.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Tx is one transaction of lifeboat's state; River jobs are inserted and
// completed in the same transaction through PgxTx.
type Tx struct{ tx pgx.Tx }

// PgxTx returns the underlying transaction for River's InsertTx/JobCompleteTx.
func (t *Tx) PgxTx() pgx.Tx { return t.tx }

// InTx runs fn in one transaction, committing when it returns nil.
func (s *Store) InTx(ctx context.Context, fn func(tx *Tx) error) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error { return fn(&Tx{tx: tx}) })
}

// interpretError translates driver errors into the vocabulary, once.
func interpretError(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return lifeboat.ErrNotFound
	}
	// A NUL byte or invalid UTF-8 in a text parameter: the input's fault,
	// not the database's (the API refuses it sooner, naming the field).
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && (pgErr.Code == "22021" || pgErr.Code == "22P05") {
		return &lifeboat.Error{Code: lifeboat.EINVALID, Message: "text with a NUL byte or invalid UTF-8 cannot be stored"}
	}
	return err
}

// Migrate applies lifeboat's embedded migrations and River's, under an
// advisory lock so concurrent start-ups don't race.
func (s *Store) Migrate(ctx context.Context) (applied []string, err error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	defer conn.Release()
	const lockID = 0x11feb0a7
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", lockID); err != nil {
		return nil, fmt.Errorf("migrate: lock: %w", err)
	}
	defer func() { _, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", lockID) }()

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS lifeboat_migrations (
		name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	names, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	for _, name := range names {
		var done bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM lifeboat_migrations WHERE name = $1)", name).Scan(&done); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", name, err)
		}
		if done {
			continue
		}
		body, err := fs.ReadFile(migrations.FS, name)
		if err != nil {
			return nil, err
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO lifeboat_migrations (name) VALUES ($1)", name)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("migrate %s: %w", name, err)
		}
		applied = append(applied, name)
	}

	migrator, err := rivermigrate.New(riverpgxv5.New(s.pool), nil)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	res, err := migrator.Migrate(ctx, rivermigrate.DirectionUp, nil)
	if err != nil {
		return nil, fmt.Errorf("migrate river: %w", err)
	}
	for _, v := range res.Versions {
		applied = append(applied, fmt.Sprintf("river %03d_%s", v.Version, strings.ReplaceAll(v.Name, " ", "_")))
	}
	return applied, nil
}
