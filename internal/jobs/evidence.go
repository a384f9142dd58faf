package jobs

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"filippo.io/age"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/verify"
)

// maxEvidenceRuns bounds the runs one evidence report holds.
const maxEvidenceRuns = 20_000

// Evidence builds and signs the evidence report of target ("" for every
// target) over [from, to): the signed document and the report it holds.
func (r *Runner) Evidence(ctx context.Context, target string, from, to time.Time) ([]byte, lifeboat.EvidenceReport, error) {
	var rep lifeboat.EvidenceReport
	switch {
	case !from.Before(to):
		return nil, rep, lifeboat.Errorf(lifeboat.EINVALID, "to: must be after from")
	case to.Sub(from) > lifeboat.MaxEvidencePeriod:
		return nil, rep, lifeboat.Errorf(lifeboat.EINVALID, "from: the period may span at most %d days", int(lifeboat.MaxEvidencePeriod.Hours()/24))
	}
	names := r.targetNames()
	if target != "" && !slices.Contains(names, target) {
		has, err := r.deps.Store.TargetHasRuns(ctx, target)
		if err != nil {
			return nil, rep, err
		}
		if !has {
			return nil, rep, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: fmt.Sprintf("no target named %q", target)}
		}
	}
	key, _, err := r.signingKey(ctx)
	if err != nil {
		return nil, rep, err
	}
	runs, more, err := r.deps.Store.EvidenceRuns(ctx, target, from, to, maxEvidenceRuns)
	if err != nil {
		return nil, rep, err
	}
	if more {
		return nil, rep, lifeboat.Errorf(lifeboat.EINVALID, "from: the period holds more than %d runs; choose a shorter one", maxEvidenceRuns)
	}
	before, err := r.deps.Store.VerifiedBefore(ctx, target, from)
	if err != nil {
		return nil, rep, err
	}
	inputs := map[string]*verify.EvidenceInput{}
	add := func(name string) *verify.EvidenceInput {
		in, ok := inputs[name]
		if !ok {
			in = &verify.EvidenceInput{Target: name}
			if v, ok := before[name]; ok {
				in.Before = &verify.VerifiedBackup{RunID: v.RunID, At: v.BackupAt}
			}
			inputs[name] = in
		}
		return in
	}
	scope := target
	if target == "" {
		scope = verify.AllTargets
		for _, n := range names {
			add(n)
		}
	} else {
		add(target)
	}
	for _, er := range runs {
		in := add(er.Run.Target)
		in.Runs = append(in.Runs, verify.EvidenceRunInput{Run: er.Run, BackupAt: er.BackupAt})
	}
	list := make([]verify.EvidenceInput, 0, len(inputs))
	for _, in := range inputs {
		list = append(list, *in)
	}
	rep = verify.BuildEvidence(scope, from, to, r.deps.Now(), list)
	doc, err := verify.SignEvidence(rep, key)
	return doc, rep, err
}

// targetNames lists the configured targets (file and API).
func (r *Runner) targetNames() []string {
	c := r.conf()
	out := make([]string, len(c.Targets))
	for i, t := range c.Targets {
		out[i] = t.Name
	}
	return out
}

// EvidenceKey returns the public half of the evidence signing key,
// generating the key on first use.
func (r *Runner) EvidenceKey(ctx context.Context) (lifeboat.EvidenceKey, error) {
	_, k, err := r.signingKey(ctx)
	return k, err
}

// signingKey is the configured key (evidence.signing_key_file, read on
// every call so a replaced file takes effect), or the key kept in
// lifeboat's database, generated on first use and sealed with age to
// lifeboat's recipients.
func (r *Runner) signingKey(ctx context.Context) (ed25519.PrivateKey, lifeboat.EvidenceKey, error) {
	if file := r.conf().Evidence.SigningKeyFile; file != "" {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, lifeboat.EvidenceKey{}, fmt.Errorf("evidence.signing_key_file: %w", err)
		}
		key, err := verify.ParseSigningKey(data)
		if err != nil {
			return nil, lifeboat.EvidenceKey{}, fmt.Errorf("evidence.signing_key_file: %w", err)
		}
		return key, publicOf(key, "config", time.Time{}), nil
	}
	stored, err := r.deps.Store.EvidenceKeyGet(ctx)
	if lifeboat.ErrorCode(err) == lifeboat.ENOTFOUND {
		stored, err = r.createEvidenceKey(ctx)
	}
	if err != nil {
		return nil, lifeboat.EvidenceKey{}, err
	}
	key, err := openEvidenceKey(stored, r.deps.Identities)
	if err != nil {
		return nil, lifeboat.EvidenceKey{}, err
	}
	return key, publicOf(key, "generated", stored.CreatedAt), nil
}

func publicOf(key ed25519.PrivateKey, source string, created time.Time) lifeboat.EvidenceKey {
	pub := key.Public().(ed25519.PublicKey)
	return lifeboat.EvidenceKey{KeyID: verify.KeyID(pub), PublicKey: base64.StdEncoding.EncodeToString(pub),
		Source: source, CreatedAt: created.UTC()}
}

func (r *Runner) createEvidenceKey(ctx context.Context) (store.EvidenceKey, error) {
	if len(r.deps.Recipients) == 0 {
		return store.EvidenceKey{}, errors.New("evidence key: no age recipients configured to encrypt it")
	}
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return store.EvidenceKey{}, fmt.Errorf("evidence key: %w", err)
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r.deps.Recipients...)
	if err == nil {
		_, err = w.Write(key.Seed())
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		return store.EvidenceKey{}, fmt.Errorf("evidence key: encrypt: %w", err)
	}
	r.deps.Logger.Info("generated the evidence signing key", "key_id", verify.KeyID(pub))
	return r.deps.Store.EvidenceKeyCreate(ctx, store.EvidenceKey{KeyID: verify.KeyID(pub), PublicKey: pub,
		SealedPrivate: buf.Bytes(), CreatedAt: r.deps.Now().UTC()})
}

func openEvidenceKey(k store.EvidenceKey, identities []age.Identity) (ed25519.PrivateKey, error) {
	if len(identities) == 0 {
		return nil, errors.New("evidence key: no age identity configured to decrypt it")
	}
	rd, err := age.Decrypt(bytes.NewReader(k.SealedPrivate), identities...)
	if err != nil {
		return nil, fmt.Errorf("evidence key %s: decrypt with the configured age identity: %w", k.KeyID, err)
	}
	seed, err := io.ReadAll(io.LimitReader(rd, 1024))
	if err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("evidence key %s: not an Ed25519 seed", k.KeyID)
	}
	key := ed25519.NewKeyFromSeed(seed)
	if !bytes.Equal(key.Public().(ed25519.PublicKey), k.PublicKey) {
		return nil, fmt.Errorf("evidence key %s: the private key does not match its public key", k.KeyID)
	}
	return key, nil
}
