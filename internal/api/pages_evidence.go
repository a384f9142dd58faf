package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// pageEvidencePeriod reads the evidence page's from and until dates
// (YYYY-MM-DD in zone, both days included); the default is the 30 days up
// to today. It returns [start, end) and the form's values.
func pageEvidencePeriod(r *http.Request, zone *time.Location, now time.Time) (start, end time.Time, from, until string, err error) {
	q := r.URL.Query()
	for k := range q {
		if k != "from" && k != "until" {
			return start, end, "", "", lifeboat.Errorf(lifeboat.EINVALID, "%s: unknown parameter (want from and until)", k)
		}
	}
	day := func(k string, def time.Time) (time.Time, string, error) {
		raw := q.Get(k)
		if raw == "" {
			return def, def.Format(time.DateOnly), nil
		}
		d, err := time.ParseInLocation(time.DateOnly, raw, zone)
		if err != nil {
			return d, raw, lifeboat.Errorf(lifeboat.EINVALID, "%s: %q is not a date like 2026-11-24", k, raw)
		}
		return d, raw, nil
	}
	n := now.In(zone)
	today := time.Date(n.Year(), n.Month(), n.Day(), 0, 0, 0, 0, zone)
	var last time.Time
	if last, until, err = day("until", today); err != nil {
		return
	}
	if start, from, err = day("from", last.AddDate(0, 0, -29)); err != nil {
		return
	}
	end = last.AddDate(0, 0, 1)
	if !end.After(start) {
		err = lifeboat.Errorf(lifeboat.EINVALID, "until: must not be before from")
	}
	return start, end, from, until, err
}

// evidenceFor builds the signed report the page or its download shows.
func (s *Server) evidenceFor(r *http.Request, zone *time.Location) ([]byte, lifeboat.EvidenceReport, string, string, error) {
	if s.Evidence == nil {
		return nil, lifeboat.EvidenceReport{}, "", "", lifeboat.Errorf(lifeboat.EINTERNAL, "evidence is not wired in this process")
	}
	start, end, from, until, err := pageEvidencePeriod(r, zone, time.Now())
	if err != nil {
		return nil, lifeboat.EvidenceReport{}, from, until, err
	}
	doc, rep, err := s.Evidence.Evidence(r.Context(), chi.URLParam(r, "name"), start, end)
	return doc, rep, from, until, err
}

// handleEvidence is the printable evidence report of a target (or of
// every target).
func (s *Server) handleEvidence(w http.ResponseWriter, r *http.Request) {
	p := s.page(w, r)
	doc, rep, from, until, err := s.evidenceFor(r, zoneOf(p))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	var signed lifeboat.SignedEvidence
	if err := json.Unmarshal(doc, &signed); err != nil {
		s.pageError(w, r, fmt.Errorf("evidence: %w", err))
		return
	}
	render(w, r, http.StatusOK, views.EvidencePage(views.EvidenceView{Page: p, Target: chi.URLParam(r, "name"),
		Report: rep, Signature: signed.Signature, From: from, Until: until}))
}

// handleEvidenceJSON downloads the signed report, byte for byte as signed.
func (s *Server) handleEvidenceJSON(w http.ResponseWriter, r *http.Request) {
	doc, rep, _, _, err := s.evidenceFor(r, zoneOf(s.page(w, r)))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+evidenceFilename(rep.Scope, rep.From, rep.To)+`"`)
	_ = evidenceDoc(doc).write(w)
}

// handleAcceptBaseline accepts a run's snapshot as its target's baseline
// for the anomaly gates, as the signed-in user.
func (s *Server) handleAcceptBaseline(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "run")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if s.Baselines == nil {
		err = lifeboat.Errorf(lifeboat.EINTERNAL, "accepting baselines is not wired in this process")
	} else if _, err = s.Baselines.AcceptBaseline(r.Context(), id, actor(r.Context())); err == nil {
		s.flash(w, r, views.FlashOK, fmt.Sprintf("Run #%d is its target's new baseline: the next runs compare with it.", id))
		http.Redirect(w, r, views.RunURL(id), http.StatusSeeOther)
		return
	}
	s.redirectBack(w, r, views.RunURL(id), views.FlashError, "Accept baseline: "+s.userMessage(r, err))
}
