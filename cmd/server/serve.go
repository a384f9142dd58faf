package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	lbapp "github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/auth"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
)

// cmdServe runs the API (when web) and the stage workers (unless
// --workers=false) until ctx ends, then shuts both down gracefully.
func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, web bool) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := commonFlags(fs, stderr)
	withWorkers := fs.Bool("workers", true, "run stage workers in this process")
	listen := fs.String("listen", "", "listen address (default $LIFEBOAT_LISTEN, the config's listen, or 127.0.0.1:8080)")
	concurrency := fs.Int("concurrency", 2, "stages this process may run at once")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath, getenv)
	if err != nil {
		return err
	}
	log := newLogger(stderr, getenv)
	workers := 0
	if *withWorkers {
		workers = *concurrency
	}
	a, err := openApp(ctx, cfg, getenv, log, jobs.Options{Workers: workers})
	if err != nil {
		return err
	}
	defer a.close()
	// Items created through the API by any process reach this one within
	// seconds (each process polls the catalog version).
	go a.catalog.Watch(ctx, 5*time.Second)
	if workers > 0 {
		if err := a.runner.Start(ctx); err != nil {
			return err
		}
		log.Info("stage workers started", "concurrency", workers)
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if workers > 0 {
			if err := a.runner.Stop(sctx); err != nil {
				log.Error("stopping workers", "err", err)
			}
		}
	}()
	if !web {
		<-ctx.Done()
		return nil
	}

	addr := firstNonEmpty(*listen, getenv("LIFEBOAT_LISTEN"), cfg.Listen, "127.0.0.1:8080")
	tokens := auth.New(a.store)
	srv := &api.Server{Runs: a.runner, Sched: a.runner, Hooks: a.runner, Retention: a.runner, Reader: a.store, DB: a.store.Pool(), Spec: lifeboat.OpenAPI, Logger: log,
		Tokens: tokens}
	// The dashboard: sessions opened with a token, pages over the store and
	// the configuration (secrets masked), and River's own UI.
	srv.Sessions, srv.BaseURL = auth.NewSessions(tokens, a.store, cfg.Dashboard.AdminPassword), cfg.BaseURL
	srv.Pages, srv.Dashboard = a.store, lbapp.Dashboard{Config: a.catalog.Config}
	riverUI, err := api.NewRiverUI(a.runner.Client(), log)
	if err != nil {
		return fmt.Errorf("river UI: %w", err)
	}
	if err := riverUI.Start(ctx); err != nil { // its background services stop with ctx
		return fmt.Errorf("river UI: %w", err)
	}
	srv.RiverUI = riverUI
	srv.Deliveries = a.runner
	srv.Retrier, srv.Health = a.runner, a.store
	apiCat := lbapp.NewAPICatalog(a.catalog)
	srv.Catalog, srv.TargetSource = apiCat, apiCat
	srv.Backups = a.runner
	srv.Evidence, srv.Baselines = a.runner, a.runner
	// One LISTEN connection per process feeds every live log tail; it stops
	// with ctx, before the HTTP shutdown, which ends the tails.
	listener := a.store.NewListener(log)
	lctx, stopListening := context.WithCancel(ctx)
	listening := make(chan struct{})
	go func() { defer close(listening); listener.Run(lctx) }()
	defer func() { stopListening(); <-listening }()
	srv.Watcher, srv.Feed = listener, a.store
	srv.Migrations = a.store
	if workers > 0 {
		srv.Workers = a.runner
	}
	srv.Metrics = api.NewMetrics(a.store, a.catalog.Names, log)
	hs := &http.Server{Handler: srv.Routes(), ReadHeaderTimeout: 10 * time.Second}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	fmt.Fprintf(stdout, "lifeboat listening on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
