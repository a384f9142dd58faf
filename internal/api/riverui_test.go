package api_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/api"
)

// TestRiverUIBehindTheSession: River's UI and the JSON API its pages call
// answer a signed-in browser only; others are sent to the login page.
func TestRiverUIBehindTheSession(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	client, err := river.NewClient(riverpgxv5.New(st.Pool()), &river.Config{Logger: testLogger(t)})
	require.NoError(t, err)
	ui, err := api.NewRiverUI(client, testLogger(t))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	require.NoError(t, ui.Start(ctx))
	srv, token := serveAPI(t, &api.Server{Reader: st, Logger: testLogger(t), RiverUI: ui}, st)

	anon := browser(t)
	for _, path := range []string{"/riverui/", "/riverui/api/queues"} {
		resp := get(t, anon, srv.URL+path)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, path)
		require.Equal(t, "/login?next="+url.QueryEscape(path), resp.Header.Get("Location"))
	}

	b := browser(t)
	require.Equal(t, http.StatusSeeOther, postForm(t, b, srv.URL+"/login", url.Values{"secret": {token}}, nil).StatusCode)
	read := func(path string) (*http.Response, string) {
		resp, err := b.Get(srv.URL + path)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp, string(body)
	}
	resp, body := read("/riverui/")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	require.Contains(t, body, "/riverui/", "its assets are under the prefix")
	require.Contains(t, body, `data-testid="riverui-back"`, "a way back to lifeboat")
	require.Contains(t, body, `href="/"`)
	require.Equal(t, strconv.Itoa(len(body)), resp.Header.Get("Content-Length"))
	// Dashboard pages link to it.
	resp, body = read("/runs")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.Contains(t, body, `data-testid="nav-riverui"`)
	resp, body = read("/riverui/api/queues")
	require.Equal(t, http.StatusOK, resp.StatusCode, body)
	require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json"), resp.Header.Get("Content-Type"))
	resp, _ = read("/riverui")
	require.Equal(t, http.StatusMovedPermanently, resp.StatusCode)
	require.Equal(t, "/riverui/", resp.Header.Get("Location"))
}
