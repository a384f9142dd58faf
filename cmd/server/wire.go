package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/jackc/pgx/v5/pgxpool"

	lbapp "github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/config"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/store"
)

// loadConfig reads --config (or $LIFEBOAT_CONFIG).
func loadConfig(path string, getenv func(string) string) (*config.Config, error) {
	if path == "" {
		path = getenv("LIFEBOAT_CONFIG")
	}
	if path == "" {
		return nil, errors.New("--config: required (or set LIFEBOAT_CONFIG)")
	}
	return config.Load(path, getenv)
}

func newLogger(w io.Writer, getenv func(string) string) *slog.Logger {
	level := slog.LevelInfo
	if getenv("LIFEBOAT_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

// openStore connects to lifeboat's own database and applies migrations.
func openStore(ctx context.Context, url string) (*store.Store, error) {
	pcfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("database_url: cannot be parsed as a PostgreSQL URL")
	}
	pcfg.ConnConfig.RuntimeParams["application_name"] = "lifeboat"
	pool, err := pgxpool.NewWithConfig(ctx, pcfg)
	if err != nil {
		return nil, fmt.Errorf("database_url: %w", err)
	}
	st := store.New(pool)
	if _, err := st.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return st, nil
}

// app is a wired lifeboat: config, state, storages, notifiers, runner,
// and the catalog of items managed through the API.
type app struct {
	cfg     *config.Config
	store   *store.Store
	runner  *jobs.Runner
	catalog *lbapp.Catalog
	log     *slog.Logger
}

func openApp(ctx context.Context, cfg *config.Config, getenv func(string) string, log *slog.Logger, opts jobs.Options) (*app, error) {
	st, err := openStore(ctx, cfg.DatabaseURL)
	if err != nil {
		return nil, err
	}
	deps, err := lbapp.Deps(ctx, cfg, st, getenv, log)
	if err == nil {
		var runner *jobs.Runner
		if runner, err = jobs.New(deps, opts); err == nil {
			// The API's storages, notifiers and targets join the file's
			// before any job runs.
			cat := lbapp.NewCatalog(cfg, st, runner, deps)
			if err = cat.Load(ctx); err == nil {
				return &app{cfg: cfg, store: st, runner: runner, catalog: cat, log: log}, nil
			}
		}
	}
	st.Pool().Close()
	return nil, err
}

func (a *app) close() { a.store.Pool().Close() }

// commonFlags registers --config on fs.
func commonFlags(fs *flag.FlagSet, stderr io.Writer) *string {
	fs.SetOutput(stderr)
	return fs.String("config", "", "config file (default $LIFEBOAT_CONFIG)")
}
