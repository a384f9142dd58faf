package api

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// handleRunCreate starts a run: 202 with the run. A repeated
// Idempotency-Key answers 202 with the run it first created, as it is now
// (Idempotent-Replayed: true); an active run is a 409 unless ?queue=true.
func (s *Server) handleRunCreate(w http.ResponseWriter, r *http.Request) {
	req, err := runRequest(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	run, created, err := s.Runs.RequestRun(r.Context(), req)
	if lifeboat.ErrorCode(err) == lifeboat.ECONFLICT {
		err = lifeboat.Errorf(lifeboat.ECONFLICT, "%v; pass ?queue=true to queue a run behind it", err)
	}
	if err != nil {
		s.problem(w, r, err)
		return
	}
	if !created {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	w.Header().Set("Location", "/api/v1/runs/"+strconv.FormatInt(run.ID, 10))
	writeJSON(w, http.StatusAccepted, run)
}

// runRequest reads a run request: the target, ?queue and Idempotency-Key
// (1 to 255 printable ASCII characters).
func runRequest(r *http.Request) (lifeboat.RunRequest, error) {
	req := lifeboat.RunRequest{Target: chi.URLParam(r, "name"), Trigger: lifeboat.TriggerAPI}
	if raw := r.URL.Query().Get("queue"); raw != "" {
		q, err := strconv.ParseBool(raw)
		if err != nil {
			return req, lifeboat.Errorf(lifeboat.EINVALID, "queue: %q is not true or false", raw)
		}
		req.Queue = q
	}
	if keys, ok := r.Header["Idempotency-Key"]; ok {
		if len(keys) != 1 {
			return req, lifeboat.Errorf(lifeboat.EINVALID, "Idempotency-Key: given %d times", len(keys))
		}
		key := keys[0]
		if len(key) < 1 || len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
			return req, lifeboat.Errorf(lifeboat.EINVALID, "Idempotency-Key: must be 1 to 255 printable ASCII characters")
		}
		req.IdempotencyKey = key
	}
	return req, nil
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
