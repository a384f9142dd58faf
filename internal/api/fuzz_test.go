package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/auth"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// fuzzServer is a fully wired API and dashboard (catalog, tokens, sessions)
// over its own state database, called in-process.
type fuzzServer struct {
	h      http.Handler
	token  string
	cookie *http.Cookie
	routes []string // "METHOD /pattern", sorted
}

func newFuzzServer(t testing.TB) *fuzzServer {
	t.Helper()
	stateURL := testenv.CreateDB(t, "lbstate_")
	sourceURL := testenv.CreateDB(t, "lbsrc_")
	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	doc := `database_url: ${STATE_URL}
restore:
  sandbox_dir: ${SANDBOX_DIR}
encryption:
  age_identity_file: ./age.key
storages:
  - {name: main, kind: fs, path: ./backups}
targets:
  - name: app
    database_url: ${SOURCE_URL}
    storage: main
    schedule: "0 3 * * *"
    checks:
      - {name: one, sql: "SELECT 1", expect: "= 1"}
`
	env := map[string]string{"STATE_URL": stateURL, "SANDBOX_DIR": testenv.SandboxDir(t), "SOURCE_URL": sourceURL,
		"PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	w := lbtest.Wire(t, stateURL, doc, dir, env, &testenv.SyncBuffer{})
	runner, err := jobs.New(w.Deps, jobs.Options{Workers: 1}) // not started: runs stay queued
	require.NoError(t, err)
	ctx := context.Background()
	cat := app.NewCatalog(w.Config, w.Store, runner, w.Deps)
	require.NoError(t, cat.Load(ctx))
	tokens := auth.New(w.Store)
	apiCat := app.NewAPICatalog(cat)
	s := &api.Server{Runs: runner, Sched: runner, Hooks: runner, Retention: runner, Reader: w.Store, DB: w.Pool,
		Spec: lifeboat.OpenAPI, Logger: w.Log, Tokens: tokens, Sessions: auth.NewSessions(tokens, w.Store, ""),
		Pages: w.Store, Dashboard: app.Dashboard{Config: cat.Config}, Deliveries: runner, Retrier: runner,
		Health: w.Store, Catalog: apiCat, TargetSource: apiCat, Backups: runner, Evidence: runner, Baselines: runner,
		Migrations: w.Store}
	_, secret, err := tokens.Create(ctx, "fuzz")
	require.NoError(t, err)
	fs := &fuzzServer{h: s.Routes(), token: secret}

	login := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(url.Values{"secret": {secret}}.Encode()))
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	fs.h.ServeHTTP(rec, login)
	require.Equal(t, http.StatusSeeOther, rec.Code, rec.Body.String())
	cookies := rec.Result().Cookies()
	require.NotEmpty(t, cookies)
	fs.cookie = cookies[0]

	err = chi.Walk(fs.h.(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		switch {
		case strings.HasPrefix(route, "/riverui"), strings.HasPrefix(route, "/static/"),
			route == "/logout", method == http.MethodDelete && route == "/api/v1/tokens/{id}":
			// River's UI is not wired here; logging out or revoking the
			// fuzzer's own token would only end the session.
		default:
			fs.routes = append(fs.routes, method+" "+route)
		}
		return nil
	})
	require.NoError(t, err)
	slices.Sort(fs.routes)
	return fs
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// do sends one request built from a route and fuzzed text: param fills
// every path parameter, query is the raw query, body the raw body (JSON
// for the API, a form for pages).
func (fs *fuzzServer) do(route uint16, param, query, body string) (string, *httptest.ResponseRecorder) {
	method, pattern, _ := strings.Cut(fs.routes[int(route)%len(fs.routes)], " ")
	path := pathParam.ReplaceAllLiteralString(pattern, param)
	rawPath := pathParam.ReplaceAllLiteralString(pattern, url.PathEscape(param))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, method, "/", strings.NewReader(body))
	req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, rawPath, query
	req.RequestURI = req.URL.RequestURI()
	if strings.HasPrefix(pattern, "/api/") {
		req.Header.Set("Authorization", "Bearer "+fs.token)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req.AddCookie(fs.cookie)
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	rec := httptest.NewRecorder()
	fs.h.ServeHTTP(rec, req)
	return fmt.Sprintf("%s %s?%s body %q", method, rawPath, query, body), rec
}

// routeIndex finds a route for a seed.
func (fs *fuzzServer) routeIndex(t testing.TB, route string) uint16 {
	t.Helper()
	i := slices.Index(fs.routes, route)
	require.GreaterOrEqual(t, i, 0, "no route %s in %v", route, fs.routes)
	return uint16(i)
}

const nulCheckBody = `{"name":"fz","database_url":"postgres://u:p@127.0.0.1:1/db","storage":"main",` +
	`"checks":[{"name":"c","sql":"SELECT 1\u0000","expect":"= 1"}]}`

// FuzzAPI sends every route of the API and the dashboard fuzzed path
// parameters, queries and bodies: whatever arrives, the answer is never a
// 5xx. The seeds are the inputs that once reached PostgreSQL and came back
// as 500s (NUL bytes and invalid UTF-8).
func FuzzAPI(f *testing.F) {
	fs := newFuzzServer(f)
	seeds := []struct{ route, param, query, body string }{
		{"GET /api/v1/runs", "", "target=%00", ""},
		{"GET /api/v1/runs", "", "target=%ff", ""},
		{"GET /api/v1/targets/{name}/backups", "a\x00b", "", ""},
		{"GET /api/v1/targets/{name}", "\xff", "", ""},
		{"POST /api/v1/targets", "", "", nulCheckBody},
		{"PUT /api/v1/targets/{name}", "fz", "", nulCheckBody},
		{"POST /api/v1/targets/{name}/runs", "app\x00", "", ""},
		{"GET /api/v1/runs/{id}/logs", "1", "after=%00", ""},
		{"POST /api/v1/storages", "", "", `{"name":"s\u0000","kind":"fs","path":"/tmp/x"}`},
		{"GET /runs", "", "target=%00", ""},
		{"GET /runs", "", "target=%ff&status=failed", ""},
		{"GET /targets/{name}", "a\x00b", "", ""},
		{"POST /targets/{name}/run", "app", "", "x=%00"},
		{"POST /login", "", "", "secret=%ff&next=/runs%00"},
	}
	for _, s := range seeds {
		if slices.Contains(fs.routes, s.route) {
			f.Add(fs.routeIndex(f, s.route), s.param, s.query, s.body)
		}
	}
	f.Fuzz(func(t *testing.T, route uint16, param, query, body string) {
		what, rec := fs.do(route, param, query, body)
		if rec.Code >= 500 {
			t.Fatalf("%s: %d %s", what, rec.Code, rec.Body.String())
		}
	})
}

// TestBadTextIs400 pins the answers FuzzAPI only bounds: a NUL byte or
// invalid UTF-8 anywhere in a request is a 400 that names the field.
func TestBadTextIs400(t *testing.T) {
	t.Parallel()
	fs := newFuzzServer(t)
	for _, c := range []struct {
		route, param, query, body string
		detail                    string
	}{
		{"GET /api/v1/runs", "", "target=%00", "", `target: contains a NUL byte`},
		{"GET /api/v1/runs", "", "target=%ff", "", `target: is not valid UTF-8`},
		{"GET /api/v1/targets/{name}/backups", "a\x00b", "", "", `name: contains a NUL byte`},
		{"GET /api/v1/targets/{name}", "\xff", "", "", `name: is not valid UTF-8`},
		{"POST /api/v1/targets", "", "", nulCheckBody, `body.checks[0].sql: contains a NUL byte`},
		{"POST /api/v1/storages", "", "", `{"name":"s","kind":"fs","path":"/tmp/\u0000"}`, `body.path: contains a NUL byte`},
		{"POST /api/v1/targets/{name}/runs", "app", "", "", ""}, // control: accepted
	} {
		what, rec := fs.do(fs.routeIndex(t, c.route), c.param, c.query, c.body)
		if c.detail == "" {
			require.Less(t, rec.Code, 300, "%s: %s", what, rec.Body.String())
			continue
		}
		require.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", what, rec.Body.String())
		require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"), what)
		var p struct{ Detail string }
		require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
		require.Equal(t, c.detail, p.Detail, what)
	}
	// Pages: the HTML error page, 400, naming the field.
	for _, c := range []struct{ route, param, query, body, detail string }{
		{"GET /runs", "", "target=%00", "", "target: contains a NUL byte"},
		{"GET /runs", "", "target=%ff", "", "target: is not valid UTF-8"},
		{"GET /targets/{name}", "a\x00b", "", "", "name: contains a NUL byte"},
	} {
		what, rec := fs.do(fs.routeIndex(t, c.route), c.param, c.query, c.body)
		require.Equal(t, http.StatusBadRequest, rec.Code, "%s: %s", what, rec.Body.String())
		require.Contains(t, rec.Header().Get("Content-Type"), "text/html", what)
		require.Contains(t, rec.Body.String(), c.detail, what)
	}
}
