package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestServeListsTargets: serve shows the config file's targets with their
// health, the source's connection string only as set.
func TestServeListsTargets(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", strings.Replace(f.config(t, f.stateURL, defaultChecks),
		"    storage: main\n", "    storage: main\n    schedule: \"0 3 * * *\"\n    trigger_secret: \"hook-secret-1\"\n", 1))
	f.migrate(t, cfg)
	srv := startServe(t, f, cfg)

	resp, err := srv.client.Get(srv.base + "/api/v1/targets")
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	for _, secret := range []string{f.sourcePass, f.sourceURL, "hook-secret-1"} {
		require.NotContains(t, string(body), secret)
	}
	var list struct {
		Targets []struct {
			Name          string         `json:"name"`
			DatabaseURL   map[string]any `json:"database_url"`
			TriggerSecret map[string]any `json:"trigger_secret"`
			Schedule      string         `json:"schedule"`
			Checks        []struct {
				Name string `json:"name"`
			} `json:"checks"`
			Health struct {
				Target string `json:"target"`
			} `json:"health"`
		} `json:"targets"`
		NextCursor *string `json:"next_cursor"`
	}
	require.NoError(t, json.Unmarshal(body, &list), "body: %s", body)
	require.Len(t, list.Targets, 1)
	app := list.Targets[0]
	require.Equal(t, "app", app.Name)
	require.Equal(t, map[string]any{"set": true}, app.DatabaseURL)
	require.Equal(t, map[string]any{"set": true}, app.TriggerSecret)
	require.Equal(t, "0 3 * * *", app.Schedule)
	require.Equal(t, "customers exist", app.Checks[0].Name)
	require.Equal(t, "app", app.Health.Target)
	require.Nil(t, list.NextCursor)

	resp, err = srv.client.Get(srv.base + "/api/v1/targets/app")
	require.NoError(t, err)
	body = readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	require.Contains(t, string(body), `"database_url":{"set":true}`)
	require.NotContains(t, string(body), f.sourcePass)
}
