package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	lbapp "github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/auth"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
)

// cmdServe runs the API (when web) and the stage workers (unless
// --workers=false) until ctx ends (SIGTERM), then shuts down gracefully:
// the API at once, and the workers by draining them (drain below).
func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer, web bool) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := commonFlags(fs, stderr)
	withWorkers := fs.Bool("workers", true, "run stage workers in this process")
	listen := fs.String("listen", "", "listen address (default $LIFEBOAT_LISTEN, the config's listen, or 127.0.0.1:8080)")
	concurrency := fs.Int("concurrency", 2, "stages this process may run at once")
	drainTimeout := fs.Duration("drain-timeout", defaultDrainTimeout,
		"on SIGTERM, how long running stages may finish before they are canceled and handed back to be retried;\n"+
			"keep Kubernetes' terminationGracePeriodSeconds above it (see README)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *drainTimeout < 0 {
		return errors.New("--drain-timeout: must not be negative")
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
	// The evidence signing key exists from the first start (generated and
	// kept sealed unless evidence.signing_key_file names one): Settings
	// shows it before any report is asked for.
	if _, err := a.runner.EvidenceKey(ctx); err != nil {
		log.Error("evidence signing key", "err", err)
	}
	// Items created through the API by any process reach this one within
	// seconds (each process polls the catalog version). The watcher is
	// waited for before the store closes.
	defer background(ctx, func(ctx context.Context) { a.catalog.Watch(ctx, 5*time.Second) })()
	if workers > 0 {
		// The workers are not tied to ctx: cancelling River's start context
		// is its abrupt stop, which would cancel every running stage at the
		// first SIGTERM. drain stops them instead.
		if err := a.runner.Start(context.WithoutCancel(ctx)); err != nil {
			return err
		}
		log.Info("stage workers started", "concurrency", workers, "drain_timeout", drainTimeout.String())
	}
	// drain runs once, whichever way serve ends; a second call waits for
	// the first.
	var drainOnce sync.Once
	drain := func() {
		drainOnce.Do(func() {
			if workers > 0 {
				drainWorkers(a.runner, *drainTimeout, log)
			}
		})
	}
	defer drain()
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
	defer background(ctx, listener.Run)()
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
	// The workers drain while the API shuts down: neither waits for the
	// other (the deferred drain waits for this one).
	go drain()
	sctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// defaultDrainTimeout is how long a SIGTERM lets running stages finish. A
// stage still running then is canceled and retried by another process
// without spending an attempt, so a longer drain only saves redone work.
const defaultDrainTimeout = 10 * time.Minute

// drainWorkers stops the stage workers gracefully: no new job is fetched,
// and running stages may finish within timeout; then what is left is
// canceled (its pg_dump or pg_restore killed with its context) and handed
// back to be retried elsewhere (jobs.Runner.Stop).
func drainWorkers(r *jobs.Runner, timeout time.Duration, log *slog.Logger) {
	log.Info("draining stage workers: no new stages start here", "drain_timeout", timeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := r.Stop(ctx); err != nil {
		log.Error("stopping stage workers", "err", err)
		return
	}
	log.Info("stage workers stopped")
}

// background runs loop in a goroutine until ctx ends, and returns a stop
// that ends it and waits for it to return: every loop a command starts is
// waited for before what it uses is closed.
func background(ctx context.Context, loop func(context.Context)) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); loop(ctx) }()
	return func() { cancel(); <-done }
}

func firstNonEmpty(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
