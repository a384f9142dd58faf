package api

import (
	"net/http"

	"github.com/go-chi/chi/v5"
)

func (s *Server) handleScheduleGet(w http.ResponseWriter, r *http.Request) {
	info, err := s.Sched.ScheduleInfo(r.Context(), chi.URLParam(r, "name"))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, info)
}

// handlePause pauses (or resumes) a target's schedule and returns it.
func (s *Server) handlePause(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "name")
		if err := s.Sched.Pause(r.Context(), name, paused); err != nil {
			s.problem(w, r, err)
			return
		}
		s.handleScheduleGet(w, r)
	}
}
