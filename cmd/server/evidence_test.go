package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

func TestEvidenceVerifyCommand(t *testing.T) {
	t.Parallel()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	t0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	end := t0.Add(72 * time.Hour)
	r := lifeboat.Run{ID: 7, Target: "app", Trigger: lifeboat.TriggerSchedule, Status: lifeboat.RunSucceeded, CreatedAt: t0.Add(time.Hour),
		FinishedAt: &end, Artifact: &lifeboat.Artifact{Storage: "main", Key: "app/2026/11/01/7.dump.zst.age", SHA256: "5e8f"}}
	backup := t0.Add(time.Hour)
	rep := verify.BuildEvidence("app", t0, end, end, []verify.EvidenceInput{{Target: "app",
		Runs: []verify.EvidenceRunInput{{Run: r, BackupAt: &backup}}}})
	doc, err := verify.SignEvidence(rep, key)
	require.NoError(t, err)
	dir := t.TempDir()
	file := filepath.Join(dir, "report.json")
	require.NoError(t, os.WriteFile(file, doc, 0o600))
	b64 := base64.StdEncoding.EncodeToString(pub)

	verifyFile := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"evidence", "verify"}, args...), func(string) string { return "" }, &out, &errOut)
		return out.String(), err
	}
	out, err := verifyFile(file)
	require.NoError(t, err)
	require.Contains(t, out, "OK: "+file+" is intact, signed with Ed25519 key "+verify.KeyID(pub))
	require.Contains(t, out, "summary: 1 of 1 scheduled restore tests passed")
	require.Contains(t, out, "The key was not pinned")

	out, err = verifyFile("--public-key", b64, file) // flags before or after the file
	require.NoError(t, err)
	require.NotContains(t, out, "not pinned")
	der, err := x509.MarshalPKIXPublicKey(pub)
	require.NoError(t, err)
	pemFile := filepath.Join(dir, "key.pem")
	require.NoError(t, os.WriteFile(pemFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o600))
	_, err = verifyFile(file, "--public-key-file", pemFile)
	require.NoError(t, err)

	// One changed byte: a figure in the report.
	i := bytes.Index(doc, []byte(`"scheduled_passed": 1`))
	require.Positive(t, i)
	changed := bytes.Clone(doc)
	changed[i+len(`"scheduled_passed": `)] = '2'
	bad := filepath.Join(dir, "changed.json")
	require.NoError(t, os.WriteFile(bad, changed, 0o600))
	_, err = verifyFile(bad)
	require.ErrorContains(t, err, "changed after it was signed")

	// Another key's report, pinned to ours.
	_, other, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	forged, err := verify.SignEvidence(rep, other)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(bad, forged, 0o600))
	_, err = verifyFile(bad, "--public-key", b64)
	require.ErrorContains(t, err, "not with the expected key")

	_, err = verifyFile()
	require.ErrorContains(t, err, "give exactly one FILE")
	_, err = verifyFile(file, "--public-key", "nope")
	require.ErrorContains(t, err, "--public-key: want the base64")
}
