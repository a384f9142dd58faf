package config

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEvidenceSigningKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, key, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	require.NoError(t, err)
	writeFile(t, dir, "evidence.pem", string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})))
	cfg, err := Parse([]byte(minimal+"evidence: {signing_key_file: ./evidence.pem}\n"), dir, nil)
	require.NoError(t, err)
	require.Equal(t, filepath.Join(dir, "evidence.pem"), cfg.Evidence.SigningKeyFile, "resolved against the config's folder")

	writeFile(t, dir, "age.key", "AGE-SECRET-KEY-1QQQQ\n")
	_, err = Parse([]byte(minimal+"evidence: {signing_key_file: ./age.key}\n"), dir, nil)
	require.Equal(t, []string{"evidence.signing_key_file: not a PEM private key (want -----BEGIN PRIVATE KEY-----, as openssl genpkey -algorithm ed25519 writes)"},
		errorLines(t, err))
	_, err = Parse([]byte(minimal+"evidence: {signing_key_file: ./none.pem}\n"), dir, nil)
	require.ErrorContains(t, err, "evidence.signing_key_file: open "+filepath.Join(dir, "none.pem"))
}
