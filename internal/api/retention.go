package api

import (
	"context"
	"encoding/json"
)

// RetentionPlanner computes a target's retention plan without deleting
// anything (jobs.Runner). The plan is rendered as it is: its JSON is
// openapi.yaml's RetentionPlan. It is typed any because api may not import
// jobs, and the plan's shape belongs to the code that computes it.
type RetentionPlanner interface {
	RetentionPlan(ctx context.Context, target string) (any, error)
}

// retentionPlan is the plan as jobs renders it (openapi.yaml's RetentionPlan).
// Embedded, RawMessage's MarshalJSON survives the generated response type.
type retentionPlan struct{ json.RawMessage }

// GetRetention is the dry run of a target's retention policy: what it
// keeps, what it would delete, and why.
func (s *Server) GetRetention(ctx context.Context, in GetRetentionRequestObject) (GetRetentionResponseObject, error) {
	plan, err := s.Retention.RetentionPlan(ctx, in.Name)
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(plan)
	if err != nil {
		return nil, err
	}
	return GetRetention200JSONResponse{b}, nil
}
