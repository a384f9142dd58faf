package api_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
)

// planner is a RetentionPlanner that answers for one target.
type planner struct {
	target string
	plan   any
	asked  []string
}

func (p *planner) RetentionPlan(_ context.Context, target string) (any, error) {
	p.asked = append(p.asked, target)
	if target != p.target {
		return nil, lifeboat.Errorf(lifeboat.ENOTFOUND, "no target named %q", target)
	}
	return p.plan, nil
}

func TestRetentionDryRun(t *testing.T) {
	t.Parallel()
	p := &planner{target: "app", plan: map[string]any{"target": "app", "backups": []any{
		map[string]any{"run_id": 7, "key": "app/2026/11/24/7.dump.zst.age", "keep": true, "reasons": []any{"newest verified"}}}}}
	s := &api.Server{Retention: p, Logger: slog.New(slog.DiscardHandler)}
	srv, _ := serveAPI(t, s, stateStore(t))
	b := &testBundle{srv: srv}

	var got map[string]any
	b.getJSON(t, "/api/v1/targets/app/retention", http.StatusOK, &got)
	want, err := json.Marshal(p.plan)
	require.NoError(t, err)
	gotJSON, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, string(want), string(gotJSON))

	pr := b.requireProblem(t, http.MethodGet, "/api/v1/targets/nope/retention", http.StatusNotFound)
	require.Contains(t, pr.Detail, "nope")
	require.Equal(t, []string{"app", "nope"}, p.asked)

	b.requireProblem(t, http.MethodPost, "/api/v1/targets/app/retention", http.StatusMethodNotAllowed)
}
