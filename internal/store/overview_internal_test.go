package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestRunHistoryPlan: the overview's history of several targets reads
// targets × 30 runs through the (target, id DESC) index, whatever the
// history's size: over 60 000 runs, no scan of runs, and the rows of runs
// touched stay within the rows returned (a target with no runs costs one
// probe).
func TestRunHistoryPlan(t *testing.T) {
	t.Parallel()
	url, st := migratedDB(t)
	pool := st.Pool()
	ctx := context.Background()
	// Three targets with 20 000 runs each and one ("rare") with 3, every
	// run with its four stages; every fifth run failed in restore.
	testenv.Exec(t, url, `INSERT INTO runs (target, trigger, status, created_at, finished_at, artifact_key, stored_bytes)
		SELECT 't' || g % 3, 'schedule', CASE WHEN g % 5 = 0 THEN 'failed' ELSE 'succeeded' END,
			now() - make_interval(mins => 60000 - g), now() - make_interval(mins => 59990 - g), 'k' || g, g
		FROM generate_series(1, 60000) g;
		INSERT INTO runs (target, trigger, status, created_at) SELECT 'rare', 'api', 'queued', now() FROM generate_series(1, 3);
		INSERT INTO run_stages (run_id, stage, position, status, started_at, finished_at)
		SELECT r.id, s.name, s.pos,
			CASE WHEN r.status = 'failed' AND s.name = 'restore' THEN 'failed' ELSE 'succeeded' END,
			r.created_at + make_interval(secs => s.pos * 60), r.created_at + make_interval(secs => s.pos * 60 + 30)
		FROM runs r, (VALUES ('backup', 0), ('restore', 1), ('verify', 2), ('report', 3)) s(name, pos)
		WHERE r.target <> 'rare';
		ANALYZE runs; ANALYZE run_stages;`)

	targets := []string{"t0", "t1", "t2", "rare", "missing"}
	var raw []byte
	require.NoError(t, pool.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+runHistorySQL, targets, 30).Scan(&raw))
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	require.NoError(t, json.Unmarshal(raw, &plans), "%s", raw)
	var touched float64
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.Relation == "runs" || n.Relation == "run_stages" {
			require.NotEqual(t, "Seq Scan", n.NodeType, "plan: %s", raw)
		}
		if n.Relation == "runs" {
			require.NotEqual(t, "Bitmap Heap Scan", n.NodeType, "plan: %s", raw)
			touched += (n.ActualRows + n.RemovedByFilter) * n.ActualLoops
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plans[0].Plan)
	require.LessOrEqual(t, touched, float64(3*30+3+2), "rows of runs read: plan: %s", raw)

	h, err := st.RunHistory(ctx, targets, 30)
	require.NoError(t, err)
	require.Len(t, h, 4, "a target without runs has no entry")
	for _, name := range targets[:3] {
		runs := h[name]
		require.Len(t, runs, 30, name)
		for i, r := range runs {
			if i > 0 {
				require.Less(t, r.ID, runs[i-1].ID, "newest first")
			}
			require.Equal(t, name, r.Target)
			require.NotNil(t, r.Artifact)
			restore, ok := r.StageByName(lifeboat.StageRestore)
			require.True(t, ok, "run %d has its restore stage", r.ID)
			require.NotNil(t, restore.StartedAt)
			require.NotNil(t, restore.FinishedAt)
			_, hasBackup := r.StageByName(lifeboat.StageBackup)
			require.False(t, hasBackup, "only the stages a history shows")
			if r.Status == lifeboat.RunFailed {
				st, failed := r.FailedStage()
				require.True(t, failed)
				require.Equal(t, lifeboat.StageRestore, st.Name)
				require.Len(t, r.Stages, 1, "a failed restore is listed once")
			}
		}
	}
	require.Len(t, h["rare"], 3)
	require.Empty(t, h["rare"][0].Stages)

	_, err = st.RunHistory(ctx, targets, 0)
	require.Equal(t, lifeboat.EINVALID, lifeboat.ErrorCode(err))
}
