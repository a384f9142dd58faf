package api

import (
	"context"
	"strconv"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
)

// CreateRun starts a run: 202 with the run. A repeated Idempotency-Key
// answers 202 with the run it first created, as it is now
// (Idempotent-Replayed: true); an active run is a 409 unless ?queue=true.
func (s *Server) CreateRun(ctx context.Context, in CreateRunRequestObject) (CreateRunResponseObject, error) {
	req := lifeboat.RunRequest{Target: in.Name, Trigger: lifeboat.TriggerAPI}
	if in.Params.Queue != nil {
		req.Queue = *in.Params.Queue
	}
	if in.Params.IdempotencyKey != nil {
		key := *in.Params.IdempotencyKey
		if len(key) < 1 || len(key) > 255 || strings.ContainsFunc(key, func(c rune) bool { return c < 0x20 || c > 0x7e }) {
			return nil, lifeboat.Errorf(lifeboat.EINVALID, "Idempotency-Key: must be 1 to 255 printable ASCII characters")
		}
		req.IdempotencyKey = key
	}
	run, created, err := s.Runs.RequestRun(ctx, req)
	if lifeboat.ErrorCode(err) == lifeboat.ECONFLICT {
		err = lifeboat.Errorf(lifeboat.ECONFLICT, "%v; pass ?queue=true to queue a run behind it", err)
	}
	if err != nil {
		return nil, err
	}
	resp := CreateRun202JSONResponse{Body: run, Headers: CreateRun202ResponseHeaders{Location: runURL(run.ID)}}
	if !created {
		replayed := "true"
		resp.Headers.IdempotentReplayed = &replayed
	}
	return resp, nil
}

// runURL is where a run is read.
func runURL(id int64) *string {
	u := "/api/v1/runs/" + strconv.FormatInt(id, 10)
	return &u
}

// checkRunID refuses ids that cannot be runs (the spec's minimum: 1).
func checkRunID(id int64) error {
	if id <= 0 {
		return lifeboat.Errorf(lifeboat.EINVALID, "id: %d is not a run id (a positive integer)", id)
	}
	return nil
}

func (s *Server) GetRun(ctx context.Context, in GetRunRequestObject) (GetRunResponseObject, error) {
	if err := checkRunID(in.Id); err != nil {
		return nil, err
	}
	run, err := s.Reader.RunGet(ctx, in.Id)
	if err != nil {
		return nil, err
	}
	return GetRun200JSONResponse(run), nil
}

// GetRunLogs answers a page of a run's log or, with Accept:
// text/event-stream, its live tail (logs_stream.go).
func (s *Server) GetRunLogs(ctx context.Context, in GetRunLogsRequestObject) (GetRunLogsResponseObject, error) {
	if err := checkRunID(in.Id); err != nil {
		return nil, err
	}
	after, err := intParam(in.Params.After, "after", 0, 0, 1<<62)
	if err != nil {
		return nil, err
	}
	limit, err := intParam(in.Params.Limit, "limit", 500, 1, 1000)
	if err != nil {
		return nil, err
	}
	ok, err := s.Reader.RunExists(ctx, in.Id)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, lifeboat.Errorf(lifeboat.ENOTFOUND, "run %d not found", in.Id)
	}
	if r := requestOf(ctx); acceptsEventStream(r) {
		return raw(ctx, s.streamer(in.Id, after, in.Params.LastEventID)), nil
	}
	lines, err := s.Reader.LogList(ctx, in.Id, after, int(limit))
	if err != nil {
		return nil, err
	}
	page := GetRunLogs200JSONResponse{Lines: lines, NextAfter: after}
	if len(lines) > 0 {
		page.NextAfter = lines[len(lines)-1].ID
	}
	if page.Lines == nil {
		page.Lines = []lifeboat.LogLine{}
	}
	return page, nil
}

// intParam checks an optional integer parameter against [lo, hi]; the
// generated code has already parsed it.
func intParam[T int | int64](v *T, name string, def, lo, hi int64) (int64, error) {
	if v == nil {
		return def, nil
	}
	n := int64(*v)
	if n < lo || n > hi {
		return 0, lifeboat.Errorf(lifeboat.EINVALID, "%s: %d is not between %d and %d", name, n, lo, hi)
	}
	return n, nil
}
