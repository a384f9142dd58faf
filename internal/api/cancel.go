package api

import "context"

// CancelRun cancels a queued or running run: 202 with the run, now
// canceled, while its worker stops and its report cleans up and notifies.
// A finished run, or one being reported, is a 409.
func (s *Server) CancelRun(ctx context.Context, in CancelRunRequestObject) (CancelRunResponseObject, error) {
	if err := checkRunID(in.Id); err != nil {
		return nil, err
	}
	run, err := s.Runs.CancelRun(ctx, in.Id)
	if err != nil {
		return nil, err
	}
	return CancelRun202JSONResponse(run), nil
}
