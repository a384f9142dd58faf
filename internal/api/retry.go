package api

import (
	"context"

	"github.com/lifeboat-dev/lifeboat"
)

// RunRetrier retries failed runs (jobs.Runner).
type RunRetrier interface {
	// RetryRun creates a run that starts again from the failed stage when
	// the old run's backup is still valid, or a whole run otherwise.
	RetryRun(ctx context.Context, id int64) (lifeboat.Run, error)
}

// RetryRun retries a finished failed or canceled run: 202 with the new run.
// An unknown run is a 404; a run that is not a finished failure, or a target
// with an active run, is a 409 saying which.
func (s *Server) RetryRun(ctx context.Context, in RetryRunRequestObject) (RetryRunResponseObject, error) {
	if err := checkRunID(in.Id); err != nil {
		return nil, err
	}
	if s.Retrier == nil {
		return nil, lifeboat.Errorf(lifeboat.EINTERNAL, "retry is not wired in this process")
	}
	run, err := s.Retrier.RetryRun(ctx, in.Id)
	if err != nil {
		return nil, err
	}
	return RetryRun202JSONResponse{Body: run, Headers: RetryRun202ResponseHeaders{Location: runURL(run.ID)}}, nil
}
