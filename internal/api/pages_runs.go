package api

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

const (
	// runsPageSize is how many runs the runs page lists at a time.
	runsPageSize = 50
	// runPageLogLines is how many of a run's newest log lines its page
	// shows; the API (and the live tail) has them all.
	runPageLogLines = 2000
)

// handleRuns lists runs, filtered and a page at a time, through the list
// API's keyset query (and its cursor).
func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := s.page(w, r)
	q := r.URL.Query()
	v := views.RunsView{Page: p, Cursor: q.Get("cursor")}
	f, err := runsFilter(q, zoneOf(p), &v.Filter)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	f.Limit = runsPageSize
	if v.Cursor != "" {
		if f.BeforeID, err = decodeCursor(v.Cursor); err != nil {
			s.pageError(w, r, err)
			return
		}
	}
	runs, more, err := s.Reader.RunList(ctx, f)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, run := range runs {
		v.Runs = append(v.Runs, views.Summarize(run, p.Now))
	}
	if more && len(runs) > 0 {
		v.NextCursor = encodeCursor(runs[len(runs)-1].ID)
	}
	targets, err := s.pageTargets(ctx)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	for _, t := range targets {
		v.Targets = append(v.Targets, t.Name)
	}
	if v.Filter.Target != "" && !slices.Contains(v.Targets, v.Filter.Target) {
		// A target no longer configured still has its history.
		v.Targets = append(v.Targets, v.Filter.Target)
	}
	render(w, r, http.StatusOK, views.RunsPage(v))
}

func zoneOf(p views.Page) *time.Location {
	if p.Zone == nil {
		return time.UTC
	}
	return p.Zone
}

// runsFilter reads the runs page's query: single values from the form's
// selects, and dates (YYYY-MM-DD in zone) of which both days are included.
// Each error names its parameter.
func runsFilter(q map[string][]string, zone *time.Location, form *views.RunsFilter) (lifeboat.RunFilter, error) {
	get := func(k string) string {
		if v := q[k]; len(v) > 0 {
			return v[0]
		}
		return ""
	}
	var f lifeboat.RunFilter
	form.Target, f.Target = get("target"), get("target")
	if v := lifeboat.RunStatus(get("status")); v != "" {
		if !slices.Contains(lifeboat.RunStatuses, v) {
			return f, lifeboat.Errorf(lifeboat.EINVALID, "status: %q is not a run status", v)
		}
		form.Status, f.Statuses = v, []lifeboat.RunStatus{v}
	}
	if v := lifeboat.Trigger(get("trigger")); v != "" {
		if !slices.Contains(lifeboat.Triggers, v) {
			return f, lifeboat.Errorf(lifeboat.EINVALID, "trigger: %q is not a trigger", v)
		}
		form.Trigger, f.Triggers = v, []lifeboat.Trigger{v}
	}
	day := func(k string) (time.Time, error) {
		raw := get(k)
		if raw == "" {
			return time.Time{}, nil
		}
		d, err := time.ParseInLocation(time.DateOnly, raw, zone)
		if err != nil {
			return d, lifeboat.Errorf(lifeboat.EINVALID, "%s: %q is not a date like 2026-11-24", k, raw)
		}
		return d, nil
	}
	var err error
	if form.Since, err = day("since"); err != nil {
		return f, err
	}
	if form.Until, err = day("until"); err != nil {
		return f, err
	}
	if !form.Since.IsZero() {
		f.Since = &form.Since
	}
	if !form.Until.IsZero() {
		end := form.Until.AddDate(0, 0, 1) // the whole of the until day
		f.Until = &end
	}
	if f.Since != nil && f.Until != nil && !f.Until.After(*f.Since) {
		return f, lifeboat.Errorf(lifeboat.EINVALID, "until: must not be before since")
	}
	return f, nil
}

// handleRun shows one run: stages, checks (failed first), artifact,
// notifications and the log grouped by stage; app.js tails the log live
// from the API while the run is active.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	p := s.page(w, r)
	id, err := pathID(r, "run")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	run, err := s.Reader.RunGet(ctx, id)
	if lifeboat.ErrorCode(err) == lifeboat.ENOTFOUND {
		err = &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: "No run #" + strconv.FormatInt(id, 10) + "."}
	}
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	v := views.RunView{Page: p, Run: run}
	if s.Pages == nil {
		s.pageError(w, r, lifeboat.Errorf(lifeboat.EINTERNAL, "the dashboard's reader is not wired in this process"))
		return
	}
	logs, err := s.Pages.LogTail(ctx, id, runPageLogLines+1)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if len(logs) > runPageLogLines {
		v.Logs, v.EarlierLogs = logs[1:], true
	} else {
		v.Logs = logs
	}
	if v.Deliveries, err = s.runDeliveries(r, run); err != nil {
		s.pageError(w, r, err)
		return
	}
	if s.Dashboard != nil {
		v.IdentityFile = s.Dashboard.AgeIdentityFile(ctx)
	}
	render(w, r, http.StatusOK, views.RunPage(v))
}

// runDeliveries are the notifications about run: its recorded deliveries
// (chat, heartbeats, webhooks) and what its report stage did not send.
func (s *Server) runDeliveries(r *http.Request, run lifeboat.Run) ([]views.DeliveryRow, error) {
	kinds, err := s.notifierKinds(r.Context())
	if err != nil {
		return nil, err
	}
	var out []views.DeliveryRow
	recorded := map[string]bool{} // notifier + event
	if s.Deliveries != nil {
		ds, err := s.Deliveries.DeliveryList(r.Context(), run.ID)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			out = append(out, deliveryRow(d, kinds))
			recorded[d.Notifier+" "+d.Event] = true
		}
	}
	// The report's own record covers the rest: notifiers it did not tell,
	// and what older runs' reports sent themselves.
	for _, row := range reportRows(run, kinds) {
		if !recorded[row.Notifier+" "+row.Event] {
			out = append(out, row)
		}
	}
	return out, nil
}
