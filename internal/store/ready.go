package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/lifeboat-dev/lifeboat/migrations"
)

// MigrationsPending lists lifeboat's embedded migrations that the database
// has not applied (nil when it is current).
func (s *Store) MigrationsPending(ctx context.Context) ([]string, error) {
	names, err := fs.Glob(migrations.FS, "*.up.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var applied []string
	rows, err := s.pool.Query(ctx, "SELECT name FROM lifeboat_migrations")
	if err == nil {
		applied, err = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42P01" { // undefined_table: never migrated
		return names, nil
	}
	if err != nil {
		return nil, fmt.Errorf("applied migrations: %w", err)
	}
	done := make(map[string]bool, len(applied))
	for _, n := range applied {
		done[n] = true
	}
	var pending []string
	for _, n := range names {
		if !done[n] {
			pending = append(pending, n)
		}
	}
	return pending, nil
}

// RiverMigrationsPending lists River's migrations the database lacks, as
// River's migrator reports them (nil when it is current).
func (s *Store) RiverMigrationsPending(ctx context.Context) ([]string, error) {
	// River logs an unapplied migration at info level; the caller reports it.
	m, err := rivermigrate.New(riverpgxv5.New(s.pool), &rivermigrate.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("river migrator: %w", err)
	}
	res, err := m.Validate(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("river migrations: %w", err)
	}
	if res.OK {
		return nil, nil
	}
	if len(res.Messages) == 0 {
		return []string{"not current"}, nil
	}
	return []string{strings.Join(res.Messages, "; ")}, nil
}
