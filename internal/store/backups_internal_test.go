package store

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestBackupListDeepPage: the 50th page of a target's backups reads about
// as many buffers as the first (a keyset query on a partial index, no sort
// of the target's whole history). Buffer counts, unlike timings, do not
// depend on how busy the machine is.
func TestBackupListDeepPage(t *testing.T) {
	t.Parallel()
	url, st := migratedDB(t)
	pool := st.Pool()
	ctx := context.Background()
	// 100 000 runs of many targets; app has one in ten, and half of those
	// stored an artifact (one in twenty of them since pruned).
	testenv.Exec(t, url, `INSERT INTO runs (target, trigger, status, storage, artifact_key, pruned_at)
		SELECT CASE WHEN g % 10 = 0 THEN 'app' ELSE 'other' || g % 7 END, 'schedule', 'succeeded',
			CASE WHEN g % 20 = 0 THEN 'main' END,
			CASE WHEN g % 20 = 0 THEN 'k/' || g END,
			CASE WHEN g % 400 = 0 THEN now() END
		FROM generate_series(1, 100000) g;
		ANALYZE runs;`)
	const limit = 50
	for _, pruned := range []bool{false, true} {
		var deepCursor int64
		require.NoError(t, pool.QueryRow(ctx, `SELECT id FROM runs WHERE target = 'app' AND artifact_key IS NOT NULL
			AND ($1 OR pruned_at IS NULL) ORDER BY id DESC OFFSET $2 LIMIT 1`, pruned, 49*limit).Scan(&deepCursor))
		first := pageBuffers(t, pool, backupListSQL(pruned), 1<<63-1, limit+1)
		deep := pageBuffers(t, pool, backupListSQL(pruned), deepCursor, limit+1)
		t.Logf("include_pruned=%v: first page %d buffers, 50th page %d", pruned, first, deep)
		require.LessOrEqual(t, deep, 2*first+10, "the 50th page must cost about what the first does")
	}
}

// pageBuffers runs one page of the list under EXPLAIN (ANALYZE, BUFFERS)
// and returns the shared buffers it touched; it fails on a sort or a
// sequential scan, whose cost grows with history.
func pageBuffers(t *testing.T, pool *pgxpool.Pool, sql string, before int64, limit int) int64 {
	t.Helper()
	var raw []byte
	require.NoError(t, pool.QueryRow(context.Background(), "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "+sql,
		"app", before, limit).Scan(&raw))
	require.NotContains(t, string(raw), `"Node Type": "Sort"`, "plan: %s", raw)
	require.NotContains(t, string(raw), `"Node Type": "Seq Scan"`, "plan: %s", raw)
	var plan []struct {
		Plan struct {
			Hit  int64 `json:"Shared Hit Blocks"`
			Read int64 `json:"Shared Read Blocks"`
			Rows int64 `json:"Actual Rows"`
		} `json:"Plan"`
	}
	require.NoError(t, json.Unmarshal(raw, &plan))
	require.EqualValues(t, limit, plan[0].Plan.Rows, "a full page")
	return plan[0].Plan.Hit + plan[0].Plan.Read
}

// TestBackupSharedByARetry: a retry that reused a backup does not list it
// twice, makes it verified when the retry verified it, and its id finds the
// backup it reused.
func TestBackupSharedByARetry(t *testing.T) {
	t.Parallel()
	url, st := migratedDB(t)
	ctx := context.Background()
	var first, retry int64
	require.NoError(t, st.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, status, storage, artifact_key)
		VALUES ('app', 'schedule', 'failed', 'main', 'app/1.dump') RETURNING id`).Scan(&first))
	require.NoError(t, st.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, status, storage, artifact_key,
		retry_of, artifact_from_run) VALUES ('app', 'retry', 'succeeded', 'main', 'app/1.dump', $1, $1) RETURNING id`,
		first).Scan(&retry))
	testenv.Exec(t, url, `INSERT INTO run_stages (run_id, stage, position, status) VALUES
		(`+strconv.FormatInt(first, 10)+`, 'verify', 3, 'failed'), (`+strconv.FormatInt(retry, 10)+`, 'verify', 3, 'succeeded')`)

	list, more, err := st.BackupList(ctx, lifeboat.BackupFilter{Target: "app", Limit: 10})
	require.NoError(t, err)
	require.False(t, more)
	require.Len(t, list, 1, "one object, listed once")
	require.Equal(t, first, list[0].ID)
	require.True(t, list[0].Verified, "the retry verified it")

	b, err := st.BackupGet(ctx, retry)
	require.NoError(t, err)
	require.Equal(t, first, b.ID, "the retry's id finds the backup it reused")
	require.True(t, b.Verified)
}
