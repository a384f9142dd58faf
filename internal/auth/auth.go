// Package auth issues and checks API tokens. A token is
// "lbt_<key>_<secret>": the key is public and finds the row, the whole
// token's SHA-256 is all that is stored, and the comparison is
// constant-time. The token itself is shown once, when it is created.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// Prefix marks lifeboat tokens, for secret scanners and humans.
const Prefix = "lbt_"

// Store keeps tokens (store.Store).
type Store interface {
	TokenInsert(ctx context.Context, name, key string, hash []byte, now time.Time) (lifeboat.Token, error)
	TokenByKey(ctx context.Context, key string) (lifeboat.Token, []byte, error)
	TokenUsed(ctx context.Context, id int64, now time.Time) error
	TokenList(ctx context.Context) ([]lifeboat.Token, error)
	TokenRevoke(ctx context.Context, id int64, name string, now time.Time) (lifeboat.Token, error)
}

// Tokens issues, lists, revokes and checks API tokens.
type Tokens struct {
	st  Store
	now func() time.Time
}

// New returns the token service over st.
func New(st Store) *Tokens { return &Tokens{st: st, now: time.Now} }

var encoding = base32.StdEncoding.WithPadding(base32.NoPadding)

const (
	keyBytes    = 5  // 8 characters: a handle, not a secret
	secretBytes = 32 // 256 bits
	maxNameLen  = 100
)

// Create issues a token named name and returns it with its secret, which
// is never available again.
func (t *Tokens) Create(ctx context.Context, name string) (lifeboat.Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return lifeboat.Token{}, "", lifeboat.Errorf(lifeboat.EINVALID, "name: is required")
	}
	if len(name) > maxNameLen || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return lifeboat.Token{}, "", lifeboat.Errorf(lifeboat.EINVALID,
			"name: must be at most %d printable characters", maxNameLen)
	}
	key := strings.ToLower(encoding.EncodeToString(random(keyBytes)))
	secret := Prefix + key + "_" + strings.ToLower(encoding.EncodeToString(random(secretBytes)))
	sum := sha256.Sum256([]byte(secret))
	tok, err := t.st.TokenInsert(ctx, name, key, sum[:], t.now())
	if err != nil {
		return lifeboat.Token{}, "", err
	}
	return tok, secret, nil
}

func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand panics rather than return short)
	return b
}

// errUnauthorized says the same whatever was wrong, so a caller learns
// nothing about which tokens exist.
var errUnauthorized = lifeboat.Errorf(lifeboat.EUNAUTHORIZED, "Authorization: a valid bearer token is required")

// Authenticate returns the live token whose secret is raw.
func (t *Tokens) Authenticate(ctx context.Context, raw string) (lifeboat.Token, error) {
	rest, ok := strings.CutPrefix(raw, Prefix)
	key, _, ok2 := strings.Cut(rest, "_")
	if !ok || !ok2 || len(key) != encoding.EncodedLen(keyBytes) {
		return lifeboat.Token{}, errUnauthorized
	}
	tok, hash, err := t.st.TokenByKey(ctx, key)
	if lifeboat.ErrorCode(err) == lifeboat.ENOTFOUND {
		return lifeboat.Token{}, errUnauthorized
	}
	if err != nil {
		return lifeboat.Token{}, err
	}
	sum := sha256.Sum256([]byte(raw))
	if subtle.ConstantTimeCompare(sum[:], hash) != 1 || tok.RevokedAt != nil {
		return lifeboat.Token{}, errUnauthorized
	}
	if err := t.st.TokenUsed(ctx, tok.ID, t.now()); err != nil {
		return lifeboat.Token{}, err
	}
	return tok, nil
}

// List returns every token, live ones first.
func (t *Tokens) List(ctx context.Context) ([]lifeboat.Token, error) { return t.st.TokenList(ctx) }

// Revoke revokes a live token by id, or by name when id is 0.
func (t *Tokens) Revoke(ctx context.Context, id int64, name string) (lifeboat.Token, error) {
	return t.st.TokenRevoke(ctx, id, name, t.now())
}
