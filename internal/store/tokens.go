package store

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lifeboat-dev/lifeboat"
)

const tokenColumns = `id, name, key, created_at, last_used_at, revoked_at`

func scanToken(row pgx.Row, extra ...any) (lifeboat.Token, error) {
	var t lifeboat.Token
	var key string
	err := row.Scan(append([]any{&t.ID, &t.Name, &key, &t.CreatedAt, &t.LastUsedAt, &t.RevokedAt}, extra...)...)
	t.Hint = "lbt_" + key
	return t, interpretError(err)
}

// TokenInsert stores a new token's key and hash; a live token with the
// same name is a conflict.
func (s *Store) TokenInsert(ctx context.Context, name, key string, hash []byte, now time.Time) (lifeboat.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `INSERT INTO api_tokens (name, key, hash, created_at)
		VALUES ($1, $2, $3, $4) RETURNING `+tokenColumns, name, key, hash, now))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "api_tokens_live_name_idx" {
		return t, lifeboat.Errorf(lifeboat.ECONFLICT, "name: a live token named %q exists (revoke it first)", name)
	}
	return t, err
}

// TokenByKey returns the token with this public key and its stored hash,
// revoked or not.
func (s *Store) TokenByKey(ctx context.Context, key string) (lifeboat.Token, []byte, error) {
	var hash []byte
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenColumns+`, hash FROM api_tokens WHERE key = $1`, key), &hash)
	return t, hash, err
}

// TokenUsed records a use, at most once a minute per token: a busy client
// must not turn every request into a write.
func (s *Store) TokenUsed(ctx context.Context, id int64, now time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = $2
		WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2::timestamptz - interval '1 minute')`, id, now)
	return err
}

// TokenList returns every token, live ones first, newest first.
func (s *Store) TokenList(ctx context.Context) ([]lifeboat.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+tokenColumns+` FROM api_tokens
		ORDER BY revoked_at IS NOT NULL, id DESC`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []lifeboat.Token{}
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// TokenRevoke revokes a live token found by id or, when id is 0, by name.
func (s *Store) TokenRevoke(ctx context.Context, id int64, name string, now time.Time) (lifeboat.Token, error) {
	t, err := scanToken(s.pool.QueryRow(ctx, `UPDATE api_tokens SET revoked_at = $3
		WHERE revoked_at IS NULL AND (id = $1 OR ($1 = 0 AND name = $2)) RETURNING `+tokenColumns, id, name, now))
	if errors.Is(err, lifeboat.ErrNotFound) {
		what := "id " + strconv.FormatInt(id, 10)
		if id == 0 {
			what = "name " + name
		}
		return t, lifeboat.Errorf(lifeboat.ENOTFOUND, "token: no live token with %s", what)
	}
	return t, err
}
