package api

import "net/http"

// handleRunCancel cancels a queued or running run: 202 with the run, now
// canceled, while its worker stops and its report cleans up and notifies.
// A finished run, or one being reported, is a 409.
func (s *Server) handleRunCancel(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	run, err := s.Runs.CancelRun(r.Context(), id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, run)
}
