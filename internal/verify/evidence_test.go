package verify_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

var t0 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

func at(h float64) *time.Time {
	t := t0.Add(time.Duration(h * float64(time.Hour)))
	return &t
}

// evRun is a finished run created at hour h, whose restore took restore
// seconds and whose backup was taken at h + 0.1.
func evRun(id int64, h float64, trigger lifeboat.Trigger, status lifeboat.RunStatus, restore float64) verify.EvidenceRunInput {
	r := lifeboat.Run{ID: id, Target: "app", Trigger: trigger, Status: status, CreatedAt: *at(h), StartedAt: at(h),
		FinishedAt: at(h + 0.5), Artifact: &lifeboat.Artifact{Storage: "main", Key: "app/x.dump.zst.age", SHA256: "ab12", StoredBytes: 100}}
	rs := at(h + 0.2)
	re := rs.Add(time.Duration(restore * float64(time.Second)))
	r.Stages = []lifeboat.Stage{{Name: lifeboat.StageBackup, Status: lifeboat.StageSucceeded},
		{Name: lifeboat.StageRestore, Status: lifeboat.StageSucceeded, StartedAt: rs, FinishedAt: &re},
		{Name: lifeboat.StageVerify, Status: lifeboat.StageSucceeded}}
	r.Checks = []lifeboat.CheckResult{{Name: "rows public.orders", Builtin: true, Passed: true, Expected: "3000", Observed: "3000"},
		{Name: "gate: total rows", Builtin: true, Passed: true, Expected: "a drop of at most 20 %", Observed: "all tables: …"}}
	if status == lifeboat.RunFailed {
		r.Stages[2].Status = lifeboat.StageFailed
		r.Error = "verify: 1 of 2 checks failed"
	}
	return verify.EvidenceRunInput{Run: r, BackupAt: at(h + 0.1)}
}

func TestBuildEvidence(t *testing.T) {
	t.Parallel()
	runs := []verify.EvidenceRunInput{
		evRun(4, 48, lifeboat.TriggerSchedule, lifeboat.RunFailed, 30),
		evRun(2, 0, lifeboat.TriggerSchedule, lifeboat.RunSucceeded, 12),
		evRun(3, 24, lifeboat.TriggerSchedule, lifeboat.RunSucceeded, 90),
		evRun(5, 50, lifeboat.TriggerAPI, lifeboat.RunSucceeded, 10),
		evRun(6, 72, lifeboat.TriggerSchedule, lifeboat.RunSucceeded, 11),
	}
	retry := int64(4)
	runs[3].Run.RetryOf = &retry
	before := &verify.VerifiedBackup{RunID: 1, At: t0.Add(-20 * time.Hour)}
	rep := verify.BuildEvidence("app", t0, t0.Add(96*time.Hour), t0.Add(200*time.Hour),
		[]verify.EvidenceInput{{Target: "app", Runs: runs, Before: before}})
	require.Equal(t, lifeboat.EvidenceFormat, rep.Format)
	require.Len(t, rep.Targets, 1)
	tg := rep.Targets[0]
	require.Equal(t, []int64{2, 3, 4, 5, 6}, ids(tg.Runs), "runs in order")
	require.Equal(t, 4, tg.ScheduledTests)
	require.Equal(t, 3, tg.ScheduledPassed)
	require.Equal(t, 5, tg.Tests)
	require.Equal(t, 4, tg.Passed)
	require.InDelta(t, 90, tg.MaxRestoreSeconds, 0.001)
	require.InDelta(t, 12, *tg.Runs[0].RestoreSeconds, 0.001)
	require.Len(t, tg.Runs[0].Checks, 1)
	require.Len(t, tg.Runs[0].Gates, 1, "gates apart from checks")

	// Gaps: −20 h → 0.1 (20.1 h), 0.1 → 24.1 (24 h), 24.1 → 50.1 (26 h: run 4
	// failed), 50.1 → 72.1 (22 h), 72.1 → 96 (23.9 h, open).
	g := tg.LongestGap
	require.Equal(t, *at(24.1), g.From)
	require.Equal(t, *at(50.1), g.To)
	require.Equal(t, int64(3), g.FromRun)
	require.Equal(t, int64(5), g.ToRun)
	require.InDelta(t, 26, g.Hours, 0.001)

	require.Len(t, tg.Failures, 1)
	f := tg.Failures[0]
	require.Equal(t, int64(4), f.RunID)
	require.Equal(t, "verify", f.Stage)
	require.Equal(t, "verify: 1 of 2 checks failed", f.Reason)
	require.Equal(t, int64(5), f.EndedByRun)
	require.Equal(t, "run #5 (its retry) verified a backup 2 h later", f.Ended)

	require.Equal(t, "3 of 4 scheduled restore tests passed (1 of 1 others); longest gap without a verified backup 26 h; longest restore 2 min",
		tg.Summary)
	require.Equal(t, tg.Summary, rep.Summary)
}

func ids(rs []lifeboat.EvidenceRun) []int64 {
	var out []int64
	for _, r := range rs {
		out = append(out, r.ID)
	}
	return out
}

func TestBuildEvidenceOpenGapAndAllTargets(t *testing.T) {
	t.Parallel()
	// billing never verified: the whole period (up to now) is one open gap.
	rep := verify.BuildEvidence(verify.AllTargets, t0, t0.Add(240*time.Hour), t0.Add(100*time.Hour), []verify.EvidenceInput{
		{Target: "billing", Runs: []verify.EvidenceRunInput{evRun(9, 5, lifeboat.TriggerSchedule, lifeboat.RunFailed, 0)}},
		{Target: "app", Runs: []verify.EvidenceRunInput{evRun(8, 1, lifeboat.TriggerSchedule, lifeboat.RunSucceeded, 5)}},
	})
	require.Equal(t, "app", rep.Targets[0].Target, "sorted by name")
	b := rep.Targets[1]
	require.Equal(t, t0, b.LongestGap.From)
	require.Equal(t, t0.Add(100*time.Hour), b.LongestGap.To, "ends now, not in the future")
	require.Zero(t, b.LongestGap.ToRun)
	require.Equal(t, "not ended within the period", b.Failures[0].Ended)
	require.Equal(t, "0 of 1 scheduled restore tests passed; longest gap without a verified backup 100 h (still open at the end)", b.Summary)
	require.Equal(t, "2 targets: 1 of 2 scheduled restore tests passed; longest gap without a verified backup 100 h (still open at the end) (billing); longest restore 5 s",
		rep.Summary)

	empty := verify.BuildEvidence("app", t0, t0.Add(time.Hour), t0.Add(time.Hour), []verify.EvidenceInput{{Target: "app"}})
	require.Equal(t, "no finished restore tests; longest gap without a verified backup 1 h (still open at the end)", empty.Summary)
}

func signed(t *testing.T) ([]byte, ed25519.PrivateKey) {
	t.Helper()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	rep := verify.BuildEvidence("app", t0, t0.Add(96*time.Hour), t0.Add(96*time.Hour), []verify.EvidenceInput{{Target: "app",
		Runs: []verify.EvidenceRunInput{evRun(2, 0, lifeboat.TriggerSchedule, lifeboat.RunSucceeded, 12),
			evRun(3, 24, lifeboat.TriggerSchedule, lifeboat.RunFailed, 9)}}})
	doc, err := verify.SignEvidence(rep, key)
	require.NoError(t, err)
	return doc, key
}

func TestEvidenceSignAndVerify(t *testing.T) {
	t.Parallel()
	doc, key := signed(t)
	pub := key.Public().(ed25519.PublicKey)
	rep, sig, err := verify.VerifyEvidence(doc, nil)
	require.NoError(t, err)
	require.Equal(t, verify.KeyID(pub), sig.KeyID)
	require.Equal(t, "app", rep.Scope)
	require.Len(t, rep.Targets[0].Runs, 2)
	_, _, err = verify.VerifyEvidence(doc, pub)
	require.NoError(t, err, "pinned to its own key")

	// A document re-signed with another key fails when pinned to the real one.
	_, other, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	forged, err := verify.SignEvidence(rep, other)
	require.NoError(t, err)
	_, _, err = verify.VerifyEvidence(forged, nil)
	require.NoError(t, err, "valid on its own terms")
	_, _, err = verify.VerifyEvidence(forged, pub)
	require.ErrorIs(t, err, verify.ErrEvidenceInvalid)
	require.ErrorContains(t, err, "not with the expected key "+verify.KeyID(pub))
}

// Changing any one byte of a signed report fails its verification.
func TestEvidenceEveryByteMatters(t *testing.T) {
	t.Parallel()
	doc, _ := signed(t)
	require.Greater(t, len(doc), 2000)
	for i := range doc {
		changed := bytes.Clone(doc)
		changed[i] ^= 0x01
		_, _, err := verify.VerifyEvidence(changed, nil)
		require.Error(t, err, "byte %d (%q) changed", i, doc[i])
		require.True(t, errors.Is(err, verify.ErrEvidenceInvalid), "byte %d: %v", i, err)
	}
	// A changed figure that keeps the JSON valid fails on the signature.
	changed := bytes.Replace(doc, []byte(`"scheduled_passed": 1`), []byte(`"scheduled_passed": 2`), 1)
	require.NotEqual(t, doc, changed)
	_, _, err := verify.VerifyEvidence(changed, nil)
	require.ErrorContains(t, err, "changed after it was signed")
}

func TestParseKeys(t *testing.T) {
	t.Parallel()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	got, err := verify.ParseSigningKey(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	require.NoError(t, err)
	require.True(t, key.Equal(got))
	_, err = verify.ParseSigningKey([]byte("AGE-SECRET-KEY-1XYZ"))
	require.ErrorContains(t, err, "not a PEM private key")
	require.NotContains(t, err.Error(), "XYZ")

	p, err := verify.ParsePublicKey(" " + base64.StdEncoding.EncodeToString(pub) + "\n")
	require.NoError(t, err)
	require.True(t, pub.Equal(p))
	pder, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	p, err = verify.ParsePublicKey(string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pder})))
	require.NoError(t, err)
	require.True(t, pub.Equal(p))
	_, err = verify.ParsePublicKey("c2hvcnQ=")
	require.ErrorContains(t, err, "32-byte")
}
