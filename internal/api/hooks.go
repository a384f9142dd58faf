package api

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// HookTrigger starts runs from signed inbound requests (jobs.Runner).
type HookTrigger interface {
	TriggerFromHook(ctx context.Context, target string, header http.Header, body []byte) (lifeboat.Run, error)
}

// maxHookBody caps an inbound trigger's body; the signature covers it all.
const maxHookBody = 64 << 10

func (s *Server) handleHook(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHookBody))
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		s.problem(w, r, lifeboat.Errorf(lifeboat.EINVALID, "body: larger than %d bytes", maxHookBody))
		return
	}
	if err != nil {
		s.problem(w, r, lifeboat.Errorf(lifeboat.EINVALID, "body: %v", err))
		return
	}
	run, err := s.Hooks.TriggerFromHook(r.Context(), chi.URLParam(r, "name"), r.Header, body)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/runs/"+strconv.FormatInt(run.ID, 10))
	writeJSON(w, http.StatusAccepted, run)
}
