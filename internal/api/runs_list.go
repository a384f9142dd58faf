package api

import (
	"context"
	"encoding/base64"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

const (
	runListDefault = 50
	runListMax     = 200
)

// runListItem is a run in a list: its stages (without metrics) but not its
// checks, which GET /api/v1/runs/{id} returns.
type runListItem struct {
	lifeboat.Run
	Checks []lifeboat.CheckResult `json:"checks,omitempty"` // shadows Run.Checks: never set
}

// ListRuns answers a page of runs, newest first (keyset on id).
func (s *Server) ListRuns(ctx context.Context, in ListRunsRequestObject) (ListRunsResponseObject, error) {
	f, err := runFilter(in.Params)
	if err != nil {
		return nil, err
	}
	runs, more, err := s.Reader.RunList(ctx, f)
	if err != nil {
		return nil, err
	}
	page := ListRuns200JSONResponse{Runs: make([]runListItem, len(runs))}
	for i, run := range runs {
		run.Checks = nil
		page.Runs[i] = runListItem{Run: run}
	}
	if more && len(runs) > 0 {
		c := encodeCursor(runs[len(runs)-1].ID)
		page.NextCursor = &c
	}
	return page, nil
}

// runFilter reads and checks the list's query parameters; each error names
// the parameter.
func runFilter(p ListRunsParams) (lifeboat.RunFilter, error) {
	f := lifeboat.RunFilter{Target: deref(p.Target)}
	var err error
	if f.Statuses, err = oneOf(p.Status, "status", lifeboat.RunStatuses); err != nil {
		return f, err
	}
	if f.Triggers, err = oneOf(p.Trigger, "trigger", lifeboat.Triggers); err != nil {
		return f, err
	}
	if f.Since, err = queryTime(deref(p.Since), "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(deref(p.Until), "until"); err != nil {
		return f, err
	}
	if f.Since != nil && f.Until != nil && !f.Until.After(*f.Since) {
		return f, lifeboat.Errorf(lifeboat.EINVALID, "until: must be after since")
	}
	limit, err := intParam(p.Limit, "limit", runListDefault, 1, runListMax)
	if err != nil {
		return f, err
	}
	f.Limit = int(limit)
	if raw := deref(p.Cursor); raw != "" {
		if f.BeforeID, err = decodeCursor(raw); err != nil {
			return f, err
		}
	}
	return f, nil
}

// oneOf parses comma-separated values, each one of valid.
func oneOf[T ~string](raw *string, name string, valid []T) ([]T, error) {
	var out []T
	if raw != nil {
		for _, v := range strings.Split(*raw, ",") {
			if !slices.Contains(valid, T(v)) {
				names := make([]string, len(valid))
				for i, s := range valid {
					names[i] = string(s)
				}
				return nil, lifeboat.Errorf(lifeboat.EINVALID, "%s: %q is not one of %s", name, v, strings.Join(names, ", "))
			}
			if !slices.Contains(out, T(v)) {
				out = append(out, T(v))
			}
		}
	}
	return out, nil
}

// queryTime parses an optional RFC 3339 time. A "+" of an offset that was
// not percent-encoded arrives as a space, and is read as the "+" it was.
func queryTime(raw, name string) (*time.Time, error) {
	if raw == "" {
		return nil, nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.ReplaceAll(raw, " ", "+"))
	if err != nil {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "%s: %q is not an RFC 3339 time (like 2026-11-24T03:00:00Z)", name, raw)
	}
	return &t, nil
}

// A cursor is the last listed run's id, base64url-encoded: opaque to
// clients, so its form may change.
func encodeCursor(id int64) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(id, 10)))
}

func decodeCursor(raw string) (int64, error) {
	b, err := base64.RawURLEncoding.DecodeString(raw)
	var id int64
	if err == nil {
		id, err = strconv.ParseInt(string(b), 10, 64)
	}
	if err != nil || id <= 0 {
		return 0, lifeboat.Errorf(lifeboat.EINVALID, "cursor: %q is not a cursor this API returned (pass next_cursor as it is)", raw)
	}
	return id, nil
}

// deref reads an optional parameter; absent is empty.
func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}
