package auth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
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
}

// NewSessions returns the session service.
func NewSessions(tokens *Tokens, st SessionStore) *Sessions { return &Sessions{tokens: tokens, st: st} }

// Login checks a token and opens a session; it returns the cookie value.
func (s *Sessions) Login(ctx context.Context, rawToken string) (string, time.Time, error) {
	tok, err := s.tokens.Authenticate(ctx, rawToken)
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
