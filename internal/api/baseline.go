package api

import (
	"context"

	"github.com/lifeboat-dev/lifeboat"
)

// BaselineAccepter accepts a run's snapshot as its target's baseline for
// the anomaly gates (jobs.Runner).
type BaselineAccepter interface {
	AcceptBaseline(ctx context.Context, runID int64, by string) (lifeboat.Run, error)
}

// actor names who made a request: the token's name, or the admin of a
// session opened with the admin password (which has no token).
func actor(ctx context.Context) string {
	tok, ok := TokenOf(ctx)
	if !ok || tok.ID == 0 {
		return "admin"
	}
	return "token " + tok.Name
}

// AcceptBaseline makes a run's snapshot its target's new baseline.
func (s *Server) AcceptBaseline(ctx context.Context, in AcceptBaselineRequestObject) (AcceptBaselineResponseObject, error) {
	if err := checkRunID(in.Id); err != nil {
		return nil, err
	}
	if s.Baselines == nil {
		return nil, lifeboat.Errorf(lifeboat.EINTERNAL, "accepting baselines is not wired in this process")
	}
	run, err := s.Baselines.AcceptBaseline(ctx, in.Id, actor(ctx))
	if err != nil {
		return nil, err
	}
	return AcceptBaseline200JSONResponse(run), nil
}
