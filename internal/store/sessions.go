package store

import (
	"context"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// SessionInsert stores a session of a token (tokenID 0: the admin
// password's), by the hash of its cookie, and drops sessions that have
// expired.
func (s *Store) SessionInsert(ctx context.Context, hash []byte, tokenID int64, now, expires time.Time) error {
	var token *int64
	if tokenID != 0 {
		token = &tokenID
	}
	return s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, now); err != nil {
			return err
		}
		_, err := tx.tx.Exec(ctx, `INSERT INTO sessions (hash, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			hash, token, now, expires)
		return err
	})
}

// SessionToken returns the live token of an unexpired session; an admin
// password session has a token of ID 0 named "admin".
func (s *Store) SessionToken(ctx context.Context, hash []byte, now time.Time) (lifeboat.Token, error) {
	var tokenID *int64
	var created time.Time
	err := s.pool.QueryRow(ctx, `SELECT token_id, created_at FROM sessions WHERE hash = $1 AND expires_at > $2`,
		hash, now).Scan(&tokenID, &created)
	if err != nil {
		return lifeboat.Token{}, interpretError(err)
	}
	if tokenID == nil {
		return lifeboat.Token{Name: "admin", Hint: "admin password", CreatedAt: created}, nil
	}
	return scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		WHERE id = $1 AND revoked_at IS NULL`, *tokenID))
}

// SessionDelete ends a session.
func (s *Store) SessionDelete(ctx context.Context, hash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}
