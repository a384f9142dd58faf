package api

import (
	"encoding/base64"
	"net/http"
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

// runListPage is one page of runs, newest first.
type runListPage struct {
	Runs []runListItem `json:"runs"`
	// NextCursor continues the list (?cursor=); null on the last page.
	NextCursor *string `json:"next_cursor"`
}

// runListParams are the query parameters GET /api/v1/runs knows.
var runListParams = []string{"target", "status", "trigger", "since", "until", "limit", "cursor"}

func (s *Server) handleRunList(w http.ResponseWriter, r *http.Request) {
	f, err := runFilter(r)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	runs, more, err := s.Reader.RunList(r.Context(), f)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	page := runListPage{Runs: make([]runListItem, len(runs))}
	for i, run := range runs {
		run.Checks = nil
		page.Runs[i] = runListItem{Run: run}
	}
	if more && len(runs) > 0 {
		c := encodeCursor(runs[len(runs)-1].ID)
		page.NextCursor = &c
	}
	writeJSON(w, http.StatusOK, page)
}

// runFilter reads and checks the list's query parameters; each error names
// the parameter.
func runFilter(r *http.Request) (lifeboat.RunFilter, error) {
	q := r.URL.Query()
	for name, vals := range q {
		if !slices.Contains(runListParams, name) {
			return lifeboat.RunFilter{}, lifeboat.Errorf(lifeboat.EINVALID, "%s: unknown query parameter (known: %s)",
				name, strings.Join(runListParams, ", "))
		}
		if len(vals) > 1 && name != "status" && name != "trigger" {
			return lifeboat.RunFilter{}, lifeboat.Errorf(lifeboat.EINVALID, "%s: given %d times", name, len(vals))
		}
	}
	f := lifeboat.RunFilter{Target: q.Get("target")}
	var err error
	if f.Statuses, err = oneOf(q["status"], "status", lifeboat.RunStatuses); err != nil {
		return f, err
	}
	if f.Triggers, err = oneOf(q["trigger"], "trigger", lifeboat.Triggers); err != nil {
		return f, err
	}
	if f.Since, err = queryTime(q.Get("since"), "since"); err != nil {
		return f, err
	}
	if f.Until, err = queryTime(q.Get("until"), "until"); err != nil {
		return f, err
	}
	if f.Since != nil && f.Until != nil && !f.Until.After(*f.Since) {
		return f, lifeboat.Errorf(lifeboat.EINVALID, "until: must be after since")
	}
	limit, err := queryInt(r, "limit", runListDefault, 1, runListMax)
	if err != nil {
		return f, err
	}
	f.Limit = int(limit)
	if raw := q.Get("cursor"); raw != "" {
		if f.BeforeID, err = decodeCursor(raw); err != nil {
			return f, err
		}
	}
	return f, nil
}

// oneOf parses comma-separated values (the parameter may also repeat), each
// one of valid.
func oneOf[T ~string](raws []string, name string, valid []T) ([]T, error) {
	var out []T
	for _, raw := range raws {
		for _, v := range strings.Split(raw, ",") {
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
