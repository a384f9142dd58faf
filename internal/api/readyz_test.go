package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// readyz GETs /readyz and returns its status and body.
func readyz(t *testing.T, srv *httptest.Server) (int, map[string]string) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + "/readyz")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "application/json", resp.Header.Get("Content-Type"))
	var body map[string]string
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body
}

func TestReadyzChecks(t *testing.T) {
	t.Parallel()
	b := setupLive(t, liveOptions{})

	// The River client of a process that runs workers must be working.
	status, body := readyz(t, b.srv)
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", body)
	require.Equal(t, "unavailable", body["status"])
	require.Equal(t, "river", body["failed"])
	require.Contains(t, body["river"], "not working")
	require.Equal(t, "ok", body["database"])
	require.Equal(t, "ok", body["migrations"])
	require.Equal(t, "ok", body["river_migrations"])

	b.start(t)
	status, body = readyz(t, b.srv)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, map[string]string{"status": "ok", "database": "ok", "migrations": "ok",
		"river_migrations": "ok", "river": "ok"}, body)

	// A lifeboat migration not applied (here: its row deleted).
	testenv.Exec(t, b.stateURL, "DELETE FROM lifeboat_migrations WHERE name = '008_log_notify.up.sql'")
	status, body = readyz(t, b.srv)
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", body)
	require.Equal(t, "migrations", body["failed"])
	require.Equal(t, "pending: 008_log_notify.up.sql", body["migrations"])
	require.Equal(t, "ok", body["river"])
	testenv.Exec(t, b.stateURL, "INSERT INTO lifeboat_migrations (name) VALUES ('008_log_notify.up.sql')")

	// One of River's, as River's migrator reports it.
	latest := testenv.QueryInt(t, b.stateURL, "SELECT max(version) FROM river_migration")
	testenv.Exec(t, b.stateURL, fmt.Sprintf("DELETE FROM river_migration WHERE version = %d", latest))
	status, body = readyz(t, b.srv)
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", body)
	require.Equal(t, "river_migrations", body["failed"])
	require.Contains(t, body["river_migrations"], fmt.Sprint(latest))
	require.Equal(t, "ok", body["migrations"])

	// Two failures are both named.
	testenv.Exec(t, b.stateURL, "DELETE FROM lifeboat_migrations WHERE name = '001_runs.up.sql'")
	status, body = readyz(t, b.srv)
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", body)
	require.Equal(t, "migrations,river_migrations", body["failed"])

	// A stopped River client is not ready either.
	require.NoError(t, b.runner.Stop(context.Background()))
	_, body = readyz(t, b.srv)
	require.Equal(t, "migrations,river_migrations,river", body["failed"])
}

func TestReadyzWebOnly(t *testing.T) {
	t.Parallel()
	b := setupLive(t, liveOptions{})
	b.server.Workers = nil // --workers=false: no River client to check
	status, body := readyz(t, b.srv)
	require.Equal(t, http.StatusOK, status, "%v", body)
	require.Equal(t, "no workers in this process", body["river"])
}

// TestReadyzDatabaseUnreachable points lifeboat at a port nothing listens on.
func TestReadyzDatabaseUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	pool, err := pgxpool.New(context.Background(), "postgres://lifeboat:secret@"+addr+"/lifeboat?sslmode=disable&connect_timeout=2")
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st := store.New(pool)
	s := &api.Server{DB: pool, Migrations: st, Spec: lifeboat.OpenAPI, Logger: slog.New(slog.DiscardHandler)}
	srv := httptest.NewServer(s.Routes())
	t.Cleanup(srv.Close)

	status, body := readyz(t, srv)
	require.Equal(t, http.StatusServiceUnavailable, status, "%v", body)
	require.Equal(t, "database", body["failed"])
	require.Equal(t, "unreachable", body["database"])
	require.Equal(t, "not checked", body["migrations"])
	require.NotContains(t, fmt.Sprint(body), "secret")
}
