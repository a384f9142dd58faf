package api

import (
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
)

func (s *Server) handleRunCreate(w http.ResponseWriter, r *http.Request) {
	run, err := s.Runs.StartRun(r.Context(), chi.URLParam(r, "name"), lifeboat.TriggerAPI)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/runs/"+strconv.FormatInt(run.ID, 10))
	writeJSON(w, http.StatusAccepted, run)
}

// runID parses the {id} path parameter.
func runID(r *http.Request) (int64, error) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, lifeboat.Errorf(lifeboat.EINVALID, "id: %q is not a run id (a positive integer)", raw)
	}
	return id, nil
}

func (s *Server) handleRunGet(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	run, err := s.Reader.RunGet(r.Context(), id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, run)
}

// logPage is one page of a run's log.
type logPage struct {
	Lines []lifeboat.LogLine `json:"lines"`
	// NextAfter is the cursor for the next page: pass it as ?after=.
	NextAfter int64 `json:"next_after"`
}

func (s *Server) handleRunLogs(w http.ResponseWriter, r *http.Request) {
	id, err := runID(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	after, err := queryInt(r, "after", 0, 0, 1<<62)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	limit, err := queryInt(r, "limit", 500, 1, 1000)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	ok, err := s.Reader.RunExists(r.Context(), id)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if !ok {
		s.problem(w, r, lifeboat.Errorf(lifeboat.ENOTFOUND, "run %d not found", id))
		return
	}
	if acceptsEventStream(r) {
		s.streamRunLogs(w, r, id, after)
		return
	}
	lines, err := s.Reader.LogList(r.Context(), id, after, int(limit))
	if err != nil {
		s.problem(w, r, err)
		return
	}
	page := logPage{Lines: lines, NextAfter: after}
	if len(lines) > 0 {
		page.NextAfter = lines[len(lines)-1].ID
	}
	if page.Lines == nil {
		page.Lines = []lifeboat.LogLine{}
	}
	writeJSON(w, http.StatusOK, page)
}

// queryInt parses an optional integer query parameter within [lo, hi].
func queryInt(r *http.Request, name string, def, lo, hi int64) (int64, error) {
	raw := r.URL.Query().Get(name)
	if raw == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, lifeboat.Errorf(lifeboat.EINVALID, "%s: %q is not an integer between %d and %d", name, raw, lo, hi)
	}
	return n, nil
}
