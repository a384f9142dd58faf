package api

import (
	"context"
	"net/http"

	"github.com/go-chi/chi/v5"
)

// RetentionPlanner computes a target's retention plan without deleting
// anything (jobs.Runner). The plan is rendered as it is: its JSON is
// openapi.yaml's RetentionPlan. It is typed any because api may not import
// jobs, and the plan's shape belongs to the code that computes it.
type RetentionPlanner interface {
	RetentionPlan(ctx context.Context, target string) (any, error)
}

// handleRetentionGet is the dry run of a target's retention policy: what it
// keeps, what it would delete, and why.
func (s *Server) handleRetentionGet(w http.ResponseWriter, r *http.Request) {
	plan, err := s.Retention.RetentionPlan(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, plan)
}
