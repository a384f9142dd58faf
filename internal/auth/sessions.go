package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// SessionStore keeps dashboard sessions (store.Store).
type SessionStore interface {
	SessionInsert(ctx context.Context, hash []byte, tokenID int64, now, expires time.Time) error
	SessionToken(ctx context.Context, hash []byte, now time.Time) (lifeboat.Token, error)
	SessionDelete(ctx context.Context, hash []byte) error
}

// SessionLifetime is how long a dashboard login lasts.
const SessionLifetime = 12 * time.Hour

// Sessions turns a token into a browser session: a random cookie whose
// SHA-256 is stored with the token it was opened with.
type Sessions struct {
	tokens *Tokens
	st     SessionStore
	// admin is the SHA-256 of the admin password; nil: none configured.
	admin []byte
}

// NewSessions returns the session service; adminPassword ("" for none)
// opens sessions too.
func NewSessions(tokens *Tokens, st SessionStore, adminPassword string) *Sessions {
	s := &Sessions{tokens: tokens, st: st}
	if adminPassword != "" {
		s.admin = hashOf(adminPassword)
	}
	return s
}

// PasswordEnabled reports whether an admin password is configured.
func (s *Sessions) PasswordEnabled() bool { return s.admin != nil }

// Login checks a token (or the admin password) and opens a session; it
// returns the cookie value.
func (s *Sessions) Login(ctx context.Context, secret string) (string, time.Time, error) {
	var tok lifeboat.Token
	var err error
	switch {
	case strings.HasPrefix(secret, Prefix) || s.admin == nil:
		tok, err = s.tokens.Authenticate(ctx, secret)
	case subtle.ConstantTimeCompare(hashOf(secret), s.admin) == 1:
		tok = lifeboat.Token{Name: "admin"} // ID 0: the admin password's session
	default:
		err = errUnauthorized
	}
	if err != nil {
		return "", time.Time{}, err
	}
	cookie := base64.RawURLEncoding.EncodeToString(random(32))
	now := s.tokens.now()
	expires := now.Add(SessionLifetime)
	if err := s.st.SessionInsert(ctx, hashOf(cookie), tok.ID, now, expires); err != nil {
		return "", time.Time{}, err
	}
	return cookie, expires, nil
}

// Check returns the token of a live session.
func (s *Sessions) Check(ctx context.Context, cookie string) (lifeboat.Token, error) {
	if len(cookie) != base64.RawURLEncoding.EncodedLen(32) {
		return lifeboat.Token{}, errUnauthorized
	}
	tok, err := s.st.SessionToken(ctx, hashOf(cookie), s.tokens.now())
	if lifeboat.ErrorCode(err) == lifeboat.ENOTFOUND {
		return lifeboat.Token{}, errUnauthorized
	}
	return tok, err
}

// Logout ends a session.
func (s *Sessions) Logout(ctx context.Context, cookie string) error {
	return s.st.SessionDelete(ctx, hashOf(cookie))
}

func hashOf(s string) []byte {
	sum := sha256.Sum256([]byte(s))
	return sum[:]
}
