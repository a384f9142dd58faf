package api

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// EvidenceService builds signed evidence reports (jobs.Runner).
type EvidenceService interface {
	// Evidence is the signed document of target ("" for every target)
	// over [from, to), and the report it holds.
	Evidence(ctx context.Context, target string, from, to time.Time) ([]byte, lifeboat.EvidenceReport, error)
	// EvidenceKey is the public half of the signing key.
	EvidenceKey(ctx context.Context) (lifeboat.EvidenceKey, error)
}

// DefaultEvidencePeriod is a report's period when from is not given.
const DefaultEvidencePeriod = 30 * 24 * time.Hour

// evidencePeriod reads the API's from and to (RFC 3339): to defaults to
// now, from to 30 days before to. Errors name the parameter.
func evidencePeriod(from, to *string, now time.Time) (time.Time, time.Time, error) {
	parse := func(name string, v *string, def time.Time) (time.Time, error) {
		if v == nil || *v == "" {
			return def, nil
		}
		t, err := time.Parse(time.RFC3339, *v)
		if err != nil {
			return t, lifeboat.Errorf(lifeboat.EINVALID, "%s: %q is not an RFC 3339 time such as 2026-11-01T00:00:00Z", name, *v)
		}
		return t, nil
	}
	end, err := parse("to", to, now)
	if err != nil {
		return end, end, err
	}
	start, err := parse("from", from, end.Add(-DefaultEvidencePeriod))
	if err != nil {
		return start, end, err
	}
	if !start.Before(end) {
		return start, end, lifeboat.Errorf(lifeboat.EINVALID, "to: must be after from")
	}
	return start, end, nil
}

// evidenceDoc writes a signed document byte for byte as it was signed.
type evidenceDoc []byte

func (d evidenceDoc) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(d)
	return err
}

func (d evidenceDoc) VisitGetTargetEvidenceResponse(w http.ResponseWriter) error { return d.write(w) }
func (d evidenceDoc) VisitGetEvidenceResponse(w http.ResponseWriter) error       { return d.write(w) }

func (s *Server) evidence(ctx context.Context, target string, from, to *string) (evidenceDoc, error) {
	if s.Evidence == nil {
		return nil, lifeboat.Errorf(lifeboat.EINTERNAL, "evidence is not wired in this process")
	}
	start, end, err := evidencePeriod(from, to, time.Now())
	if err != nil {
		return nil, err
	}
	doc, _, err := s.Evidence.Evidence(ctx, target, start, end)
	return doc, err
}

// GetTargetEvidence is a target's signed evidence report.
func (s *Server) GetTargetEvidence(ctx context.Context, in GetTargetEvidenceRequestObject) (GetTargetEvidenceResponseObject, error) {
	return s.evidence(ctx, in.Name, in.Params.From, in.Params.To)
}

// GetEvidence is every target's signed evidence report.
func (s *Server) GetEvidence(ctx context.Context, in GetEvidenceRequestObject) (GetEvidenceResponseObject, error) {
	return s.evidence(ctx, "", in.Params.From, in.Params.To)
}

// GetEvidenceKey is the signing key's public half.
func (s *Server) GetEvidenceKey(ctx context.Context, _ GetEvidenceKeyRequestObject) (GetEvidenceKeyResponseObject, error) {
	if s.Evidence == nil {
		return nil, lifeboat.Errorf(lifeboat.EINTERNAL, "evidence is not wired in this process")
	}
	k, err := s.Evidence.EvidenceKey(ctx)
	if err != nil {
		return nil, err
	}
	return GetEvidenceKey200JSONResponse(k), nil
}

// evidenceFilename names a downloaded report.
func evidenceFilename(scope string, from, to time.Time) string {
	name := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '-'
	}, scope)
	return fmt.Sprintf("lifeboat-evidence-%s-%s-%s.json", name, from.UTC().Format("20060102"), to.UTC().Format("20060102"))
}
