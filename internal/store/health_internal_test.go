package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// TestTargetHealthPlan: the health of several targets is a few index probes
// per target, not a scan of their history: over 60 000 runs, every read of
// runs goes through an index, and fewer than a handful of rows per target
// are touched.
func TestTargetHealthPlan(t *testing.T) {
	t.Parallel()
	url, st := migratedDB(t)
	pool := st.Pool()
	ctx := context.Background()
	// Three targets, 20 000 runs each: mostly succeeded, some failed, some
	// retries of an earlier run, the newest still running.
	testenv.Exec(t, url, `INSERT INTO runs (target, trigger, status, created_at, finished_at)
		SELECT 't' || g % 3, 'schedule', CASE WHEN g % 5 = 0 THEN 'failed' ELSE 'succeeded' END,
			now() - make_interval(mins => 60000 - g), now() - make_interval(mins => 59990 - g)
		FROM generate_series(1, 60000) g;
		UPDATE runs SET trigger = 'retry', retry_of = id - 3, artifact_from_run = id - 3 WHERE id % 10 = 1 AND id > 3;
		UPDATE runs SET status = 'running', finished_at = NULL WHERE id > 59997;
		INSERT INTO target_state (target, next_due) SELECT 't' || g, now() + interval '1 hour' FROM generate_series(0, 2) g;
		ANALYZE runs; ANALYZE target_state;`)

	targets := []string{"t0", "t1", "t2", "missing"}
	var raw []byte
	require.NoError(t, pool.QueryRow(ctx, "EXPLAIN (ANALYZE, FORMAT JSON) "+targetHealthSQL, targets).Scan(&raw))
	var plans []struct {
		Plan planNode `json:"Plan"`
	}
	require.NoError(t, json.Unmarshal(raw, &plans), "%s", raw)
	var touched float64
	var walk func(n planNode)
	walk = func(n planNode) {
		if n.Relation == "runs" {
			require.NotEqual(t, "Seq Scan", n.NodeType, "plan: %s", raw)
			require.NotEqual(t, "Bitmap Heap Scan", n.NodeType, "plan: %s", raw)
			touched += (n.ActualRows + n.RemovedByFilter) * n.ActualLoops
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plans[0].Plan)
	require.LessOrEqual(t, touched, float64(4*len(targets)), "rows of runs read: plan: %s", raw)

	h, err := New(pool).TargetHealth(ctx, targets)
	require.NoError(t, err)
	require.Len(t, h, 4)
	for _, name := range targets[:3] {
		require.NotNil(t, h[name].LastRun, name)
		require.NotNil(t, h[name].LastVerified, name)
		require.NotNil(t, h[name].NextDue, name)
	}
	require.Nil(t, h["missing"].LastRun)
}

// planNode is one node of EXPLAIN (FORMAT JSON).
type planNode struct {
	NodeType        string     `json:"Node Type"`
	Relation        string     `json:"Relation Name"`
	ActualRows      float64    `json:"Actual Rows"`
	ActualLoops     float64    `json:"Actual Loops"`
	RemovedByFilter float64    `json:"Rows Removed by Filter"`
	Plans           []planNode `json:"Plans"`
}
