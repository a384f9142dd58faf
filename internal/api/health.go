package api

import (
	"context"
	"net/http"
	"strings"
	"time"
)

func (s *Server) Healthz(context.Context, HealthzRequestObject) (HealthzResponseObject, error) {
	ok := "ok"
	return Healthz200JSONResponse{Status: &ok}, nil
}

// MigrationChecker reports migrations the database lacks (store.Store).
type MigrationChecker interface {
	MigrationsPending(ctx context.Context) ([]string, error)
	RiverMigrationsPending(ctx context.Context) ([]string, error)
}

// WorkerState reports whether this process's River client works jobs
// (jobs.Runner).
type WorkerState interface {
	Working() bool
}

// Readyz answers 200 only when the database answers, lifeboat's and
// River's migrations are all applied and, in a process that runs workers,
// the River client is working. The body names each check's result and
// lists the failed ones under "failed".
func (s *Server) Readyz(ctx context.Context, _ ReadyzRequestObject) (ReadyzResponseObject, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	var body Readiness
	var failed []string
	check := func(name string, into *string, fn func() (string, bool)) {
		detail, ok := fn()
		*into = detail
		if !ok {
			failed = append(failed, name)
		}
	}
	pending := func(list func(context.Context) ([]string, error)) func() (string, bool) {
		return func() (string, bool) {
			names, err := list(ctx)
			if err != nil {
				s.Logger.Warn("readyz: migrations", "err", err)
				return "cannot be read", false
			}
			if len(names) > 0 {
				return "pending: " + strings.Join(names, ", "), false
			}
			return "ok", true
		}
	}
	check("database", &body.Database, func() (string, bool) {
		if err := s.DB.Ping(ctx); err != nil {
			s.Logger.Warn("readyz: database", "err", err)
			return "unreachable", false
		}
		return "ok", true
	})
	if s.Migrations != nil {
		body.Migrations, body.RiverMigrations = new(string), new(string)
		if len(failed) > 0 { // nothing more to learn from a database that does not answer
			*body.Migrations, *body.RiverMigrations = "not checked", "not checked"
		} else {
			check("migrations", body.Migrations, pending(s.Migrations.MigrationsPending))
			check("river_migrations", body.RiverMigrations, pending(s.Migrations.RiverMigrationsPending))
		}
	}
	check("river", &body.River, func() (string, bool) {
		switch {
		case s.Workers == nil:
			return "no workers in this process", true
		case !s.Workers.Working():
			return "not working jobs (client not started or stopped)", false
		}
		return "ok", true
	})
	if len(failed) > 0 {
		body.Status = ReadinessStatusUnavailable
		f := strings.Join(failed, ",")
		body.Failed = &f
		return Readyz503JSONResponse(body), nil
	}
	body.Status = ReadinessStatusOk
	return Readyz200JSONResponse(body), nil
}

// GetSpec serves openapi.yaml as it is embedded.
func (s *Server) GetSpec(ctx context.Context, _ GetSpecRequestObject) (GetSpecResponseObject, error) {
	return raw(ctx, func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		_, _ = w.Write(s.Spec)
	}), nil
}
