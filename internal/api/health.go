package api

import (
	"context"
	"net/http"
	"strings"
	"time"
)

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
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

// handleReadyz answers 200 only when the database answers, lifeboat's and
// River's migrations are all applied and, in a process that runs workers,
// the River client is working. The body names each check's result and
// lists the failed ones under "failed".
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	body := map[string]string{}
	var failed []string
	check := func(name string, fn func() (string, bool)) {
		detail, ok := fn()
		body[name] = detail
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
	check("database", func() (string, bool) {
		if err := s.DB.Ping(ctx); err != nil {
			s.Logger.Warn("readyz: database", "err", err)
			return "unreachable", false
		}
		return "ok", true
	})
	if s.Migrations != nil {
		if len(failed) > 0 { // nothing more to learn from a database that does not answer
			body["migrations"], body["river_migrations"] = "not checked", "not checked"
		} else {
			check("migrations", pending(s.Migrations.MigrationsPending))
			check("river_migrations", pending(s.Migrations.RiverMigrationsPending))
		}
	}
	check("river", func() (string, bool) {
		switch {
		case s.Workers == nil:
			return "no workers in this process", true
		case !s.Workers.Working():
			return "not working jobs (client not started or stopped)", false
		}
		return "ok", true
	})
	if len(failed) > 0 {
		body["status"] = "unavailable"
		body["failed"] = strings.Join(failed, ",")
		writeJSON(w, http.StatusServiceUnavailable, body)
		return
	}
	body["status"] = "ok"
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleSpec(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/yaml")
	_, _ = w.Write(s.Spec)
}
