// Package api serves lifeboat's REST API (openapi.yaml is the contract) and,
// later, the dashboard pages. Handlers are thin: they parse, call the
// interfaces declared here, and render JSON or problem+json.
package api

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lifeboat-dev/lifeboat"
)

// RunStarter starts and cancels runs (jobs.Runner).
type RunStarter interface {
	StartRun(ctx context.Context, target string, trigger lifeboat.Trigger) (lifeboat.Run, error)
	// RequestRun starts a run unless the request's idempotency key
	// already did (created false), or the target has an active run.
	RequestRun(ctx context.Context, req lifeboat.RunRequest) (run lifeboat.Run, created bool, err error)
	CancelRun(ctx context.Context, id int64) (lifeboat.Run, error)
}

// RunReader reads run history (store.Store).
type RunReader interface {
	RunGet(ctx context.Context, id int64) (lifeboat.Run, error)
	RunExists(ctx context.Context, id int64) (bool, error)
	LogList(ctx context.Context, runID, after int64, limit int) ([]lifeboat.LogLine, error)
	RunLatestByTarget(ctx context.Context, targets []string) (map[string]lifeboat.Run, error)
	// RunList returns a page of runs, newest first, and whether more follow.
	RunList(ctx context.Context, f lifeboat.RunFilter) (runs []lifeboat.Run, more bool, err error)
}

// Scheduler pauses, resumes and describes target schedules (jobs.Runner).
type Scheduler interface {
	Pause(ctx context.Context, target string, paused bool) error
	ScheduleInfo(ctx context.Context, target string) (lifeboat.TargetSchedule, error)
}

// Pinger reports whether lifeboat's database answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Server holds what the handlers use.
type Server struct {
	Runs   RunStarter
	Sched  Scheduler
	Reader RunReader
	DB     Pinger
	Spec   []byte // openapi.yaml
	Logger *slog.Logger

	// Retention answers the retention dry run (jobs.Runner).
	Retention RetentionPlanner
	// Hooks starts runs from signed inbound requests (jobs.Runner).
	Hooks HookTrigger
	// Deliveries lists and redelivers outbound webhooks (jobs.Runner).
	Deliveries DeliveryService
	// Retrier retries failed runs (jobs.Runner).
	Retrier RunRetrier
	// TargetSource lists the configured targets and Health summarizes
	// them (StaticTargets of the config file; store.Store).
	TargetSource TargetSource
	Health       TargetHealthReader
	// Backups lists, downloads and restores backups (jobs.Runner).
	Backups BackupService
	// Evidence signs evidence reports; Baselines accepts gate baselines
	// (jobs.Runner).
	Evidence  EvidenceService
	Baselines BaselineAccepter

	// Watcher and Feed serve the live log tail (logs_stream.go); a
	// heartbeat comment goes out every StreamHeartbeat (default 15 s).
	Watcher         RunWatcher
	Feed            LogFeed
	StreamHeartbeat time.Duration
	// Migrations and Workers are /readyz's checks beyond the database
	// ping; Workers is nil in a process that runs no workers.
	Migrations MigrationChecker
	Workers    WorkerState
	// Metrics serves /metrics (NewMetrics); nil: 404.
	Metrics http.Handler
	// Tokens checks the bearer token every /api/v1 request needs
	// (auth.Tokens); nil refuses them all.
	Tokens TokenService
	// Catalog changes the storages, notifiers and targets kept in the
	// database (app.Catalog); nil: those operations answer 500.
	Catalog CatalogAdmin
	// Sessions signs browsers in to the dashboard (auth.Sessions).
	Sessions SessionService
	// BaseURL is where users reach lifeboat (config base_url); https
	// makes session cookies Secure.
	BaseURL string

	// Pages and Dashboard feed the dashboard's pages beyond the API's
	// interfaces (store.Store; app.Dashboard).
	Pages     PageReader
	Dashboard DashboardConfig
	// RiverUI is River's own UI (NewRiverUI), served at /riverui behind the
	// session; nil where this process has no River client.
	RiverUI http.Handler
	// testResults are the settings page's last storage and notifier tests.
	testResults testResults

	failuresOnce sync.Once
	failures     *failureLimiter
}

// Routes returns every route: the operations openapi.yaml defines, through
// the strict server generated from it (openapi.gen.go), and the pages.
func (s *Server) Routes() http.Handler {
	r := chi.NewRouter()
	// No middleware.RealIP: forwarded headers are anyone's to set, and the
	// failed-auth limit counts by peer address.
	r.Use(middleware.RequestID, s.logRequests, middleware.Recoverer, s.authenticate, s.readBody, s.refuseBadText)
	r.NotFound(s.notFound) // pages.go: HTML, or problem+json under /api/
	r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, &lifeboat.Error{Code: codeMethodNotAllowed, Message: r.Method + " is not allowed on " + r.URL.Path})
	})

	// The dashboard: login is open, every page needs a session (session.go).
	s.sessionRoutes(r)
	r.Group(func(r chi.Router) {
		r.Use(s.requireSession, s.refusePathText)
		s.pageRoutes(r)
	})
	strict := NewStrictHandlerWithOptions(s, []StrictMiddlewareFunc{s.checkQuery, strictBody, checkText, withRequest},
		StrictHTTPServerOptions{RequestErrorHandlerFunc: s.requestError, ResponseErrorHandlerFunc: s.problem})
	HandlerWithOptions(strict, ChiServerOptions{BaseRouter: r, ErrorHandlerFunc: s.requestError})
	// State changes from another site's page are refused (Sec-Fetch-Site /
	// Origin), so a form elsewhere cannot use a signed-in browser's cookie.
	// Clients that are not browsers send neither header and pass.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.problem(w, r, lifeboat.Errorf(lifeboat.EFORBIDDEN, "%s %s: cross-origin request refused", r.Method, r.URL.Path))
	}))
	return crossOriginChecked{cop.Handler(r), r}
}

// crossOriginChecked serves through the cross-origin check and keeps the
// chi router reachable for chi.Walk.
type crossOriginChecked struct {
	checked http.Handler
	chi.Router
}

func (c crossOriginChecked) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.checked.ServeHTTP(w, r)
}
