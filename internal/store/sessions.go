package store

import (
	"context"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// SessionInsert stores a session of a token, by the hash of its cookie,
// and drops sessions that have expired.
func (s *Store) SessionInsert(ctx context.Context, hash []byte, tokenID int64, now, expires time.Time) error {
	return s.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.tx.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, now); err != nil {
			return err
		}
		_, err := tx.tx.Exec(ctx, `INSERT INTO sessions (hash, token_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			hash, tokenID, now, expires)
		return err
	})
}

// SessionToken returns the live token of an unexpired session.
func (s *Store) SessionToken(ctx context.Context, hash []byte, now time.Time) (lifeboat.Token, error) {
	return scanToken(s.pool.QueryRow(ctx, `SELECT t.id, t.name, t.key, t.created_at, t.last_used_at, t.revoked_at
		FROM sessions s JOIN api_tokens t ON t.id = s.token_id
		WHERE s.hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL`, hash, now))
}

// SessionDelete ends a session.
func (s *Store) SessionDelete(ctx context.Context, hash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}
