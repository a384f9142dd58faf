package views

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// EvidenceAllURL is the printable evidence report over every target.
const EvidenceAllURL = "/evidence"

// EvidenceURL is a target's printable evidence report ("" for every
// target).
func EvidenceURL(target string) string {
	if target == "" {
		return EvidenceAllURL
	}
	return TargetURL(target) + "/evidence"
}

// EvidenceDownloadURL is the signed JSON of the same report, for a period
// given as the page's from and until dates.
func EvidenceDownloadURL(target, from, until string) string {
	q := url.Values{}
	if from != "" {
		q.Set("from", from)
	}
	if until != "" {
		q.Set("until", until)
	}
	u := EvidenceURL(target) + ".json"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// RunBaselineURL accepts a run's snapshot as its target's baseline for the
// anomaly gates (POST).
func RunBaselineURL(runID int64) string { return RunURL(runID) + "/baseline" }

// EvidenceView is the printable evidence report: what the signed JSON
// holds, laid out for paper.
type EvidenceView struct {
	Page Page
	// Target is the report's target; "" for every target.
	Target    string
	Report    lifeboat.EvidenceReport
	Signature lifeboat.EvidenceSignature
	// From and Until are the form's dates (YYYY-MM-DD, both included).
	From, Until string
}

// TrippedGates are the run's gates that failed, in order.
func TrippedGates(r lifeboat.Run) []lifeboat.CheckResult {
	var out []lifeboat.CheckResult
	for _, c := range r.Checks {
		if c.IsGate() && !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// canAcceptBaseline: a finished run whose gates tripped, not yet accepted.
func canAcceptBaseline(r lifeboat.Run) bool {
	return r.Status.Finished() && r.Baseline == nil && len(TrippedGates(r)) > 0
}

// utcTime writes an instant for an auditor: in UTC, named.
func utcTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") }

func utcTimePtr(t *time.Time) string {
	if t == nil {
		return "—"
	}
	return utcTime(*t)
}

func evidenceTitle(v EvidenceView) string {
	if v.Target == "" {
		return "Restore-test evidence: all targets"
	}
	return "Restore-test evidence: " + v.Target
}

func restoreText(r lifeboat.EvidenceRun) string {
	if r.RestoreSeconds == nil {
		return "—"
	}
	return FormatDuration(time.Duration(*r.RestoreSeconds * float64(time.Second)))
}

func gapText(g lifeboat.EvidenceGap) string {
	s := fmt.Sprintf("%s h, from %s", strconv.FormatFloat(g.Hours, 'f', -1, 64), utcTime(g.From))
	if g.FromRun != 0 {
		s += fmt.Sprintf(" (run #%d's backup)", g.FromRun)
	} else {
		s += " (start of the period)"
	}
	s += " to " + utcTime(g.To)
	if g.ToRun != 0 {
		s += fmt.Sprintf(" (run #%d's backup)", g.ToRun)
	} else {
		s += " (end of the period, still open)"
	}
	return s
}

func testsText(passed, tests int) string {
	return strconv.Itoa(passed) + " of " + strconv.Itoa(tests)
}

func checksPassed(cs []lifeboat.CheckResult) string {
	n := 0
	for _, c := range cs {
		if c.Passed {
			n++
		}
	}
	return testsText(n, len(cs))
}

func verifyCommand(s lifeboat.EvidenceSignature) string {
	return "lifeboat evidence verify FILE --public-key " + s.PublicKey
}
