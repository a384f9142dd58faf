package main

import (
	"crypto/ed25519"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// maxEvidenceFile bounds the document evidence verify reads.
const maxEvidenceFile = 256 << 20

// cmdEvidence checks signed evidence reports offline:
//
//	lifeboat evidence verify FILE [--public-key KEY | --public-key-file FILE]
//
// It needs neither a config nor lifeboat's database. Without a pinned key it
// checks the report against the key the report names, and says to compare
// that key's id with the one on Settings.
func cmdEvidence(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "verify" {
		return errors.New("evidence: give verify FILE [--public-key KEY]")
	}
	fs := flag.NewFlagSet("evidence verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubFlag := fs.String("public-key", "", "the signing key's public half: base64 (as Settings shows it) or PEM")
	pubFile := fs.String("public-key-file", "", "a file holding the public key")
	// The file may come before or after the flags.
	var files []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return err
		}
		if fs.NArg() == 0 {
			break
		}
		files, rest = append(files, fs.Arg(0)), fs.Args()[1:]
	}
	if len(files) != 1 {
		return errors.New("evidence verify: give exactly one FILE (the downloaded report)")
	}
	var pinned ed25519.PublicKey
	switch {
	case *pubFlag != "" && *pubFile != "":
		return errors.New("evidence verify: --public-key and --public-key-file: give one")
	case *pubFile != "":
		b, err := os.ReadFile(*pubFile)
		if err != nil {
			return fmt.Errorf("evidence verify: --public-key-file: %w", err)
		}
		*pubFlag = string(b)
		fallthrough
	case *pubFlag != "":
		k, err := verify.ParsePublicKey(*pubFlag)
		if err != nil {
			return fmt.Errorf("evidence verify: --public-key: %w", err)
		}
		pinned = k
	}
	f, err := os.Open(files[0])
	if err != nil {
		return fmt.Errorf("evidence verify: %w", err)
	}
	defer f.Close()
	doc, err := io.ReadAll(io.LimitReader(f, maxEvidenceFile+1))
	if err != nil {
		return fmt.Errorf("evidence verify: %w", err)
	}
	if len(doc) > maxEvidenceFile {
		return fmt.Errorf("evidence verify: %s is larger than %d MB: not a lifeboat evidence report", files[0], maxEvidenceFile>>20)
	}
	rep, sig, err := verify.VerifyEvidence(doc, pinned)
	if err != nil {
		return fmt.Errorf("%s: %w", files[0], err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "OK: %s is intact, signed with Ed25519 key %s (public key %s)\n", files[0], sig.KeyID, sig.PublicKey)
	fmt.Fprintf(&b, "scope: %s\nperiod: %s to %s (generated %s)\nsummary: %s\n", rep.Scope,
		rep.From.Format("2006-01-02 15:04 UTC"), rep.To.Format("2006-01-02 15:04 UTC"),
		rep.GeneratedAt.Format("2006-01-02 15:04 UTC"), rep.Summary)
	for _, t := range rep.Targets {
		fmt.Fprintf(&b, "  %s: %d runs; %s\n", t.Target, len(t.Runs), t.Summary)
	}
	if pinned == nil {
		b.WriteString("The key was not pinned: check that its id matches the one on lifeboat's Settings page, or pass --public-key.\n")
	}
	_, err = io.WriteString(stdout, b.String())
	return err
}
