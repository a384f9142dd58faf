package store

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// migratedDB is a fresh, migrated state database for the plan tests: its
// URL and a store over it.
func migratedDB(t *testing.T) (string, *Store) {
	t.Helper()
	url := testenv.CreateDB(t, "lbstore_")
	pool, err := pgxpool.New(context.Background(), url)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st := New(pool)
	_, err = st.Migrate(context.Background())
	require.NoError(t, err)
	return url, st
}
