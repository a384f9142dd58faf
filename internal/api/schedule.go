package api

import "context"

func (s *Server) GetSchedule(ctx context.Context, in GetScheduleRequestObject) (GetScheduleResponseObject, error) {
	info, err := s.Sched.ScheduleInfo(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	return GetSchedule200JSONResponse(info), nil
}

// PauseTarget stops a target's schedule and returns it.
func (s *Server) PauseTarget(ctx context.Context, in PauseTargetRequestObject) (PauseTargetResponseObject, error) {
	if err := s.Sched.Pause(ctx, in.Name, true); err != nil {
		return nil, err
	}
	info, err := s.Sched.ScheduleInfo(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	return PauseTarget200JSONResponse(info), nil
}

// ResumeTarget restarts a target's schedule and returns it.
func (s *Server) ResumeTarget(ctx context.Context, in ResumeTargetRequestObject) (ResumeTargetResponseObject, error) {
	if err := s.Sched.Pause(ctx, in.Name, false); err != nil {
		return nil, err
	}
	info, err := s.Sched.ScheduleInfo(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	return ResumeTarget200JSONResponse(info), nil
}
