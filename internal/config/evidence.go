package config

import (
	"os"

	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// Evidence configures the signing of evidence reports.
type Evidence struct {
	// SigningKeyFile is an Ed25519 private key in PEM (PKCS #8, as
	// `openssl genpkey -algorithm ed25519` writes it). Empty: lifeboat
	// generates one at first use and keeps it in its database, encrypted
	// to its age recipients.
	SigningKeyFile string `yaml:"signing_key_file"`
}

func (v *validator) evidence(e *Evidence) {
	if e.SigningKeyFile == "" {
		return
	}
	path := "evidence.signing_key_file"
	data, err := os.ReadFile(e.SigningKeyFile)
	if err != nil {
		v.p.check(path, "%v", err) // *PathError: names the file, not its content
		return
	}
	if _, err := verify.ParseSigningKey(data); err != nil {
		v.p.check(path, "%v", err)
	}
}
