package api_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
)

// targetJSON is a target as the API shows it.
type targetJSON struct {
	Name                string                `json:"name"`
	DatabaseURL         map[string]any        `json:"database_url"`
	TriggerSecret       map[string]any        `json:"trigger_secret"`
	Schedule            string                `json:"schedule"`
	Timezone            string                `json:"timezone"`
	Storage             string                `json:"storage"`
	Notify              []string              `json:"notify"`
	RowCounts           string                `json:"row_counts"`
	Overlap             string                `json:"overlap"`
	StageTimeoutSeconds int64                 `json:"stage_timeout_seconds"`
	MaxAgeSeconds       *int64                `json:"max_age_seconds"`
	Checks              []map[string]any      `json:"checks"`
	Retention           map[string]any        `json:"retention"`
	Health              lifeboat.TargetHealth `json:"health"`
}

type targetListJSON struct {
	Targets    []targetJSON `json:"targets"`
	NextCursor *string      `json:"next_cursor"`
}

// TestTargetsOverHTTP: GET /api/v1/targets lists the configured targets by
// name a page at a time, each with its health; GET /api/v1/targets/{name}
// shows one. Secrets read only as set or not.
func TestTargetsOverHTTP(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	ctx := context.Background()
	targets := api.StaticTargets{
		{Name: "zeta", DatabaseURLSet: true, Timezone: "UTC", Storage: "main", RowCounts: "exact", Overlap: "skip",
			StageTimeout: 6 * time.Hour, Retention: api.TargetRetention{MinVerified: 1}},
		{Name: "app", DatabaseURLSet: true, Schedule: "0 3 * * *", Timezone: "Europe/Berlin", Storage: "main",
			Notify: []string{"chat"}, RowCounts: "estimate", Overlap: "queue", StageTimeout: time.Hour, MaxAge: 26 * time.Hour,
			Checks: []api.TargetCheck{{Name: "customers exist", SQL: "SELECT count(*) FROM customers", Expect: ">= 1",
				Timeout: time.Minute}},
			Retention: api.TargetRetention{KeepLast: 3, KeepDaily: 7, MinVerified: 1, UnverifiedGrace: 7 * 24 * time.Hour,
				PartialGrace: 24 * time.Hour},
			TriggerSecretSet: true},
		{Name: "billing", DatabaseURLSet: true, Timezone: "UTC", Storage: "main", RowCounts: "exact", Overlap: "skip"},
	}
	// app: verified two hours ago, due in an hour; billing: a failed run,
	// paused and overdue; zeta: never seen.
	now := time.Now().UTC().Truncate(time.Second)
	exec := func(sql string, args ...any) {
		t.Helper()
		_, err := st.Pool().Exec(ctx, sql, args...)
		require.NoError(t, err)
	}
	var verified, failed int64
	require.NoError(t, st.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, status, created_at, finished_at)
		VALUES ('app', 'schedule', 'succeeded', $1, $2) RETURNING id`, now.Add(-3*time.Hour), now.Add(-2*time.Hour)).Scan(&verified))
	require.NoError(t, st.Pool().QueryRow(ctx, `INSERT INTO runs (target, trigger, status, created_at, finished_at)
		VALUES ('billing', 'api', 'failed', $1, $2) RETURNING id`, now.Add(-time.Hour), now.Add(-50*time.Minute)).Scan(&failed))
	exec("INSERT INTO target_state (target, schedule, next_due) VALUES ('app', '0 3 * * *', $1)", now.Add(time.Hour))
	exec("INSERT INTO target_state (target, paused, next_due, overdue_since) VALUES ('billing', true, $1, $2)",
		now.Add(time.Hour), now.Add(-30*time.Minute))

	s := &api.Server{TargetSource: targets, Health: st, Logger: testLogger(t)}
	srv, _ := serveAPI(t, s, st)
	h := &testBundle{srv: srv}

	var page targetListJSON
	h.getJSON(t, "/api/v1/targets", http.StatusOK, &page)
	require.Nil(t, page.NextCursor)
	require.Len(t, page.Targets, 3)
	require.Equal(t, []string{"app", "billing", "zeta"},
		[]string{page.Targets[0].Name, page.Targets[1].Name, page.Targets[2].Name}, "by name")

	app := page.Targets[0]
	require.Equal(t, map[string]any{"set": true}, app.DatabaseURL)
	require.Equal(t, map[string]any{"set": true}, app.TriggerSecret)
	require.Equal(t, "0 3 * * *", app.Schedule)
	require.Equal(t, "Europe/Berlin", app.Timezone)
	require.Equal(t, []string{"chat"}, app.Notify)
	require.Equal(t, "estimate", app.RowCounts)
	require.Equal(t, "queue", app.Overlap)
	require.Equal(t, int64(3600), app.StageTimeoutSeconds)
	require.Equal(t, int64(26*3600), *app.MaxAgeSeconds)
	require.Equal(t, []map[string]any{{"name": "customers exist", "sql": "SELECT count(*) FROM customers",
		"expect": ">= 1", "timeout_seconds": 60.0}}, app.Checks)
	require.Equal(t, map[string]any{"enabled": true, "keep_last": 3.0, "keep_daily": 7.0, "keep_weekly": 0.0,
		"keep_monthly": 0.0, "keep_yearly": 0.0, "min_verified": 1.0, "unverified_grace_seconds": 604800.0,
		"partial_grace_seconds": 86400.0}, app.Retention)
	require.Equal(t, "app", app.Health.Target)
	require.Equal(t, verified, app.Health.LastRun.ID)
	require.Equal(t, lifeboat.RunSucceeded, app.Health.LastRun.Status)
	require.Equal(t, verified, app.Health.LastVerified.RunID)
	require.True(t, app.Health.LastVerified.VerifiedAt.Equal(now.Add(-2*time.Hour)))
	require.True(t, app.Health.NextDue.Equal(now.Add(time.Hour)))
	require.False(t, app.Health.Paused)
	require.False(t, app.Health.Overdue)

	billing := page.Targets[1]
	require.Equal(t, map[string]any{"set": false}, billing.TriggerSecret)
	require.Empty(t, billing.Checks)
	require.Nil(t, billing.MaxAgeSeconds)
	require.Equal(t, false, billing.Retention["enabled"])
	require.Equal(t, failed, billing.Health.LastRun.ID)
	require.Equal(t, lifeboat.RunFailed, billing.Health.LastRun.Status)
	require.Nil(t, billing.Health.LastVerified)
	require.True(t, billing.Health.Paused)
	require.Nil(t, billing.Health.NextDue, "paused: no next run")
	require.True(t, billing.Health.Overdue)
	require.True(t, billing.Health.OverdueSince.Equal(now.Add(-30*time.Minute)))

	zeta := page.Targets[2]
	require.Equal(t, lifeboat.TargetHealth{Target: "zeta"}, zeta.Health, "never seen: nothing known")

	// Pages.
	h.getJSON(t, "/api/v1/targets?limit=2", http.StatusOK, &page)
	require.Len(t, page.Targets, 2)
	require.NotNil(t, page.NextCursor)
	require.Equal(t, "billing", page.Targets[1].Name)
	var next targetListJSON
	h.getJSON(t, "/api/v1/targets?limit=2&cursor="+*page.NextCursor, http.StatusOK, &next)
	require.Len(t, next.Targets, 1)
	require.Equal(t, "zeta", next.Targets[0].Name)
	require.Nil(t, next.NextCursor)

	// One target.
	var one targetJSON
	h.getJSON(t, "/api/v1/targets/billing", http.StatusOK, &one)
	require.Equal(t, billing, one)

	// Errors name what is wrong.
	for path, want := range map[string]string{
		"/api/v1/targets?limit=0":     "limit: 0 is out of range",
		"/api/v1/targets?limit=201":   "limit: 201 is out of range",
		"/api/v1/targets?limit=x":     "limit",
		"/api/v1/targets?cursor=!":    "cursor",
		"/api/v1/targets?target=app":  "target: unknown query parameter",
		"/api/v1/targets/app?limit=1": "limit: unknown query parameter",
	} {
		p := h.requireProblem(t, http.MethodGet, path, http.StatusBadRequest)
		require.Contains(t, p.Detail, want, path)
	}
	p := h.requireProblem(t, http.MethodGet, "/api/v1/targets/nope", http.StatusNotFound)
	require.Contains(t, p.Detail, `no target named "nope"`)
}
