package verify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// EvidenceRunInput is one run of the period with when its backup was
// taken (nil: no backup).
type EvidenceRunInput struct {
	Run      lifeboat.Run
	BackupAt *time.Time
}

// VerifiedBackup is a verified backup: the run that verified it and when
// it was taken.
type VerifiedBackup struct {
	RunID int64
	At    time.Time
}

// EvidenceInput is one target's history for a report.
type EvidenceInput struct {
	Target string
	Runs   []EvidenceRunInput // any order
	// Before is the target's newest verified backup taken before the
	// period (nil: none), where the first gap starts.
	Before *VerifiedBackup
}

// AllTargets is the scope of a report over every target.
const AllTargets = "all targets"

// BuildEvidence assembles the evidence report of targets over [from, to);
// now ends the last gap when the period reaches into the future.
func BuildEvidence(scope string, from, to, now time.Time, targets []EvidenceInput) lifeboat.EvidenceReport {
	rep := lifeboat.EvidenceReport{Format: lifeboat.EvidenceFormat, Scope: scope, From: from.UTC(), To: to.UTC(),
		GeneratedAt: now.UTC(), Targets: []lifeboat.EvidenceTarget{}}
	end := to
	if now.Before(end) {
		end = now
	}
	for _, in := range targets {
		rep.Targets = append(rep.Targets, evidenceTarget(in, from, end))
	}
	sort.Slice(rep.Targets, func(i, j int) bool { return rep.Targets[i].Target < rep.Targets[j].Target })
	rep.Summary = overallSummary(rep.Targets)
	return rep
}

func evidenceTarget(in EvidenceInput, from, end time.Time) lifeboat.EvidenceTarget {
	runs := append([]EvidenceRunInput(nil), in.Runs...)
	sort.Slice(runs, func(i, j int) bool { return runs[i].Run.ID < runs[j].Run.ID })
	t := lifeboat.EvidenceTarget{Target: in.Target, Failures: []lifeboat.EvidenceFailure{}, Runs: []lifeboat.EvidenceRun{}}
	var verified []VerifiedBackup
	for i, ri := range runs {
		r := ri.Run
		er := lifeboat.EvidenceRun{ID: r.ID, Trigger: r.Trigger, Status: r.Status, CreatedAt: r.CreatedAt.UTC(),
			StartedAt: utc(r.StartedAt), FinishedAt: utc(r.FinishedAt), ScheduledFor: utc(r.ScheduledFor),
			BackupAt: utc(ri.BackupAt), Artifact: r.Artifact, Error: r.Error, Baseline: r.Baseline,
			Checks: []lifeboat.CheckResult{}, Gates: []lifeboat.CheckResult{}}
		if st, ok := r.FailedStage(); ok {
			er.FailedStage = string(st.Name)
		}
		if st, ok := r.StageByName(lifeboat.StageRestore); ok && st.Status == lifeboat.StageSucceeded &&
			st.StartedAt != nil && st.FinishedAt != nil {
			secs := math.Round(st.FinishedAt.Sub(*st.StartedAt).Seconds()*1000) / 1000
			er.RestoreSeconds = &secs
			t.MaxRestoreSeconds = max(t.MaxRestoreSeconds, secs)
		}
		for _, c := range r.Checks {
			if c.IsGate() {
				er.Gates = append(er.Gates, c)
			} else {
				er.Checks = append(er.Checks, c)
			}
		}
		t.Runs = append(t.Runs, er)

		if r.Status == lifeboat.RunSucceeded || r.Status == lifeboat.RunFailed {
			passed := r.Status == lifeboat.RunSucceeded
			t.Tests++
			if passed {
				t.Passed++
			}
			if r.Trigger == lifeboat.TriggerSchedule {
				t.ScheduledTests++
				if passed {
					t.ScheduledPassed++
				}
			}
		}
		if r.Status == lifeboat.RunSucceeded && ri.BackupAt != nil {
			verified = append(verified, VerifiedBackup{RunID: r.ID, At: *ri.BackupAt})
		}
		if r.Status == lifeboat.RunFailed {
			t.Failures = append(t.Failures, failure(r, runs[i+1:]))
		}
	}
	t.LongestGap = longestGap(in.Before, verified, from, end)
	t.Summary = targetSummary(t)
	return t
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// failure describes a failed run and the next run that verified a backup.
func failure(r lifeboat.Run, later []EvidenceRunInput) lifeboat.EvidenceFailure {
	at := r.CreatedAt
	if r.FinishedAt != nil {
		at = *r.FinishedAt
	}
	f := lifeboat.EvidenceFailure{RunID: r.ID, At: at.UTC(), Reason: r.Error, Ended: "not ended within the period"}
	if st, ok := r.FailedStage(); ok {
		f.Stage = string(st.Name)
	}
	if f.Reason == "" {
		f.Reason = "failed"
	}
	for _, l := range later {
		n := l.Run
		if n.Status != lifeboat.RunSucceeded || n.FinishedAt == nil {
			continue
		}
		f.EndedByRun, f.EndedAt = n.ID, utc(n.FinishedAt)
		how := "run #" + fmt.Sprint(n.ID)
		if n.RetryOf != nil && *n.RetryOf == r.ID {
			how += " (its retry)"
		}
		f.Ended = fmt.Sprintf("%s verified a backup %s later", how, FormatSpan(n.FinishedAt.Sub(at)))
		if r.Baseline != nil {
			f.Ended += fmt.Sprintf(" (the drop was accepted as the new baseline by %s)", r.Baseline.By)
		}
		break
	}
	return f
}

// longestGap is the longest stretch between verified backups (by when
// each was taken), from before (or from) to end.
func longestGap(before *VerifiedBackup, verified []VerifiedBackup, from, end time.Time) lifeboat.EvidenceGap {
	sort.Slice(verified, func(i, j int) bool { return verified[i].At.Before(verified[j].At) })
	prev := VerifiedBackup{At: from}
	if before != nil {
		prev = *before
	}
	var best lifeboat.EvidenceGap
	consider := func(to time.Time, toRun int64) {
		if d := to.Sub(prev.At); d > 0 && (best.To.IsZero() || d > best.To.Sub(best.From)) {
			best = lifeboat.EvidenceGap{From: prev.At.UTC(), To: to.UTC(), FromRun: prev.RunID, ToRun: toRun,
				Hours: math.Round(d.Hours()*100) / 100}
		}
	}
	for _, v := range verified {
		if !v.At.After(prev.At) || v.At.After(end) {
			continue // an older backup verified again, or after the period
		}
		consider(v.At, v.RunID)
		prev = v
	}
	consider(end, 0)
	if best.To.IsZero() {
		best = lifeboat.EvidenceGap{From: prev.At.UTC(), To: prev.At.UTC(), FromRun: prev.RunID}
	}
	return best
}

func testsText(passed, tests int, what string) string {
	return fmt.Sprintf("%d of %d %s passed", passed, tests, what)
}

func targetSummary(t lifeboat.EvidenceTarget) string {
	return summaryOf(t.ScheduledPassed, t.ScheduledTests, t.Passed, t.Tests, t.LongestGap, "", t.MaxRestoreSeconds)
}

func summaryOf(schedPassed, schedTests, passed, tests int, gap lifeboat.EvidenceGap, gapOf string, maxRestore float64) string {
	var parts []string
	switch {
	case tests == 0:
		parts = append(parts, "no finished restore tests")
	case schedTests == tests:
		parts = append(parts, testsText(schedPassed, schedTests, "scheduled restore tests"))
	case schedTests == 0:
		parts = append(parts, testsText(passed, tests, "restore tests"))
	default:
		parts = append(parts, testsText(schedPassed, schedTests, "scheduled restore tests")+
			fmt.Sprintf(" (%d of %d others)", passed-schedPassed, tests-schedTests))
	}
	g := "longest gap without a verified backup " + FormatSpan(gap.To.Sub(gap.From))
	if gap.ToRun == 0 {
		g += " (still open at the end)"
	}
	if gapOf != "" {
		g += " (" + gapOf + ")"
	}
	parts = append(parts, g)
	if maxRestore > 0 {
		parts = append(parts, "longest restore "+FormatSpan(time.Duration(maxRestore*float64(time.Second))))
	}
	return strings.Join(parts, "; ")
}

func overallSummary(ts []lifeboat.EvidenceTarget) string {
	if len(ts) == 1 {
		return ts[0].Summary
	}
	if len(ts) == 0 {
		return "no targets"
	}
	var sp, st, p, n int
	var maxRestore float64
	gap, gapOf := ts[0].LongestGap, ts[0].Target
	for _, t := range ts {
		sp, st, p, n = sp+t.ScheduledPassed, st+t.ScheduledTests, p+t.Passed, n+t.Tests
		maxRestore = max(maxRestore, t.MaxRestoreSeconds)
		if t.LongestGap.To.Sub(t.LongestGap.From) > gap.To.Sub(gap.From) {
			gap, gapOf = t.LongestGap, t.Target
		}
	}
	return fmt.Sprintf("%d targets: ", len(ts)) + summaryOf(sp, st, p, n, gap, gapOf, maxRestore)
}

// FormatSpan renders a duration for a summary: "45 s", "12 min", "2.5 h",
// "26 h".
func FormatSpan(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%d s", int(math.Round(d.Seconds())))
	case d < time.Hour:
		return fmt.Sprintf("%d min", int(math.Round(d.Minutes())))
	case d < 10*time.Hour:
		return fmt.Sprintf("%s h", trimFloat(math.Round(d.Hours()*10)/10))
	}
	return fmt.Sprintf("%d h", int(math.Round(d.Hours())))
}

func trimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.1f", f), "0"), ".")
}

// Signing. The document is json.MarshalIndent of lifeboat.SignedEvidence
// (two spaces) and a newline. The signature covers EvidenceFormat, a
// newline, and the report's bytes exactly as they appear in the document;
// the rest of the document must be as lifeboat writes it, so a change to
// any byte fails verification.

// KeyID is the first 16 hex digits of the SHA-256 of pub.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:8])
}

func evidenceMessage(report []byte) []byte {
	return append([]byte(lifeboat.EvidenceFormat+"\n"), report...)
}

func renderEvidence(d lifeboat.SignedEvidence) ([]byte, error) {
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// reportBytes is the report as it appears in doc.
func reportBytes(doc []byte) (json.RawMessage, error) {
	var d struct {
		Report json.RawMessage `json:"report"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, err
	}
	return d.Report, nil
}

// SignEvidence returns the signed document of rep.
func SignEvidence(rep lifeboat.EvidenceReport, key ed25519.PrivateKey) ([]byte, error) {
	raw, err := json.Marshal(rep)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	pub := key.Public().(ed25519.PublicKey)
	d := lifeboat.SignedEvidence{Format: lifeboat.EvidenceFormat, Report: raw, Signature: lifeboat.EvidenceSignature{
		Algorithm: "ed25519", KeyID: KeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub)}}
	unsigned, err := renderEvidence(d)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	inFile, err := reportBytes(unsigned)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	d.Signature.Value = base64.StdEncoding.EncodeToString(ed25519.Sign(key, evidenceMessage(inFile)))
	doc, err := renderEvidence(d)
	if err != nil {
		return nil, fmt.Errorf("evidence: %w", err)
	}
	if _, _, err := VerifyEvidence(doc, pub); err != nil {
		return nil, fmt.Errorf("evidence: the signed document does not verify: %w", err) // a bug, never expected
	}
	return doc, nil
}

// ErrEvidenceInvalid is wrapped by every reason a document fails
// verification.
var ErrEvidenceInvalid = errors.New("evidence does not verify")

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrEvidenceInvalid, fmt.Sprintf(format, args...))
}

// VerifyEvidence checks a signed evidence document offline: its signature
// with the public key it names (with pinned, when given, which must be that
// key), and that no byte of it was changed. It returns the report and the
// signature's details.
func VerifyEvidence(doc []byte, pinned ed25519.PublicKey) (lifeboat.EvidenceReport, lifeboat.EvidenceSignature, error) {
	var rep lifeboat.EvidenceReport
	var d lifeboat.SignedEvidence
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return rep, d.Signature, invalid("not a lifeboat evidence document: %v", err)
	}
	if d.Format != lifeboat.EvidenceFormat {
		return rep, d.Signature, invalid("format %q, want %q", d.Format, lifeboat.EvidenceFormat)
	}
	s := d.Signature
	if s.Algorithm != "ed25519" {
		return rep, s, invalid("signature algorithm %q, want ed25519", s.Algorithm)
	}
	pub, err := base64.StdEncoding.DecodeString(s.PublicKey)
	if err != nil || len(pub) != ed25519.PublicKeySize {
		return rep, s, invalid("public_key is not a base64 Ed25519 public key")
	}
	if id := KeyID(pub); id != s.KeyID {
		return rep, s, invalid("key_id %q does not belong to the public key (its id is %s)", s.KeyID, id)
	}
	if pinned != nil && !bytes.Equal(pinned, pub) {
		return rep, s, invalid("signed with key %s, not with the expected key %s", s.KeyID, KeyID(pinned))
	}
	sig, err := base64.StdEncoding.DecodeString(s.Value)
	if err != nil || len(sig) != ed25519.SignatureSize {
		return rep, s, invalid("signature value is not a base64 Ed25519 signature")
	}
	inFile, err := reportBytes(doc)
	if err != nil {
		return rep, s, invalid("not a lifeboat evidence document: %v", err)
	}
	if !ed25519.Verify(pub, evidenceMessage(inFile), sig) {
		return rep, s, invalid("the signature does not match the report: it was changed after it was signed")
	}
	again, err := renderEvidence(d)
	if err != nil || !bytes.Equal(bytes.TrimRight(again, "\n"), bytes.TrimRight(doc, "\n")) {
		return rep, s, invalid("the document was changed outside its signed report")
	}
	// The signature vouches for the report; fields a later lifeboat adds
	// are not a reason to refuse it.
	if err := json.Unmarshal(inFile, &rep); err != nil {
		return rep, s, invalid("the signed report is not a lifeboat evidence report: %v", err)
	}
	return rep, s, nil
}

// ParseSigningKey reads an Ed25519 private key in PEM (PKCS #8, "BEGIN
// PRIVATE KEY", as `openssl genpkey -algorithm ed25519` writes it). Its
// errors never quote the key.
func ParseSigningKey(pemBytes []byte) (ed25519.PrivateKey, error) {
	block, _ := pem.Decode(pemBytes)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, errors.New("not a PEM private key (want -----BEGIN PRIVATE KEY-----, as openssl genpkey -algorithm ed25519 writes)")
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, errors.New("not a PKCS #8 private key")
	}
	ed, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("a %T, want an Ed25519 key", k)
	}
	return ed, nil
}

// ParsePublicKey reads an Ed25519 public key: base64 of its 32 bytes (as
// Settings shows it and reports carry it) or PEM ("BEGIN PUBLIC KEY").
func ParsePublicKey(s string) (ed25519.PublicKey, error) {
	s = strings.TrimSpace(s)
	if block, _ := pem.Decode([]byte(s)); block != nil {
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return nil, errors.New("not a PKIX public key")
		}
		ed, ok := k.(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("a %T, want an Ed25519 key", k)
		}
		return ed, nil
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != ed25519.PublicKeySize {
		return nil, errors.New("want the base64 of a 32-byte Ed25519 public key, or a PEM public key")
	}
	return ed25519.PublicKey(b), nil
}
