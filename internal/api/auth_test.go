package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/auth"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// serveAPI serves s over real HTTP with real tokens kept in st: s.Tokens is
// set, a token is created, and the server's Client() sends it with every
// request. It returns the server and the token.
func serveAPI(t *testing.T, s *api.Server, st *store.Store) (*httptest.Server, string) {
	t.Helper()
	if s.Tokens == nil {
		s.Tokens = auth.New(st)
	}
	if tokens, ok := s.Tokens.(*auth.Tokens); ok && s.Sessions == nil {
		s.Sessions = auth.NewSessions(tokens, st, "")
	}
	_, secret, err := s.Tokens.Create(context.Background(), "test "+t.Name())
	require.NoError(t, err)
	srv := httptest.NewServer(s.Routes())
	c := srv.Client()
	rec := &bearer{token: secret, base: c.Transport}
	c.Transport = rec
	t.Cleanup(func() {
		srv.Close()
		rec.requireNoSecrets(t, secret)
	})
	return srv, secret
}

// bearer adds a token to requests that carry no Authorization header and
// keeps every response (headers and body as read) for requireNoSecrets.
type bearer struct {
	token string
	base  http.RoundTripper

	mu        sync.Mutex
	responses []*bytes.Buffer
}

func (b *bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	if _, ok := r.Header["Authorization"]; !ok {
		r = r.Clone(r.Context())
		r.Header.Set("Authorization", "Bearer "+b.token)
	}
	resp, err := b.base.RoundTrip(r)
	if err != nil {
		return resp, err
	}
	buf := &bytes.Buffer{}
	_ = resp.Header.Write(buf)
	b.mu.Lock()
	b.responses = append(b.responses, buf)
	b.mu.Unlock()
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.TeeReader(resp.Body, lockedWriter{&b.mu, buf}), resp.Body}
	return resp, nil
}

type lockedWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// requireNoSecrets fails when any response the test received holds a secret
// the test environment configured: the database password, the S3 secret
// key, an age identity or the API token.
func (b *bearer) requireNoSecrets(t *testing.T, token string) {
	t.Helper()
	secrets := map[string]string{"API token": token, "age identity": "AGE-SECRET-KEY-",
		"S3 secret key": os.Getenv("LIFEBOAT_TEST_S3_SECRET_KEY")}
	if u, err := url.Parse(os.Getenv("LIFEBOAT_TEST_PG_URL")); err == nil {
		if pass, ok := u.User.Password(); ok {
			secrets["database password"] = pass
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	for i, resp := range b.responses {
		for what, secret := range secrets {
			if secret != "" && bytes.Contains(resp.Bytes(), []byte(secret)) {
				t.Errorf("response %d of %d contains the %s", i+1, len(b.responses), what)
			}
		}
	}
}

// stateStore is a migrated state database for tests that need nothing else.
func stateStore(t *testing.T) *store.Store {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), testenv.CreateDB(t, "lbstate_"))
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	st := store.New(pool)
	_, err = st.Migrate(context.Background())
	require.NoError(t, err)
	return st
}

// send makes one request with the given Authorization header ("" sends none)
// through a client that adds nothing.
func send(t *testing.T, method, url, authorization, body string) (*http.Response, []byte) {
	t.Helper()
	var rd *strings.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	var req *http.Request
	var err error
	if rd != nil {
		req, err = http.NewRequest(method, url, rd)
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, err = http.NewRequest(method, url, nil)
	}
	require.NoError(t, err)
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func TestTokenLifecycle(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	s := &api.Server{Reader: st, Logger: testLogger(t)}
	srv, admin := serveAPI(t, s, st)

	// Create: the secret is in this response only.
	resp, body := send(t, http.MethodPost, srv.URL+"/api/v1/tokens", "Bearer "+admin, `{"name": "ci deploy"}`)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%s", body)
	var created struct {
		Token  lifeboat.Token `json:"token"`
		Secret string         `json:"secret"`
	}
	require.NoError(t, json.Unmarshal(body, &created))
	require.True(t, strings.HasPrefix(created.Secret, "lbt_"), created.Secret)
	require.Equal(t, "ci deploy", created.Token.Name)
	require.True(t, strings.HasPrefix(created.Secret, created.Token.Hint+"_"), "hint %q is the public part of %q",
		created.Token.Hint, created.Secret)

	// The new token works; the list never shows a secret, and only the hash is stored.
	resp, body = send(t, http.MethodGet, srv.URL+"/api/v1/tokens", "Bearer "+created.Secret, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.NotContains(t, string(body), created.Secret)
	require.NotContains(t, string(body), admin)
	var list struct{ Tokens []lifeboat.Token }
	require.NoError(t, json.Unmarshal(body, &list))
	require.Len(t, list.Tokens, 2)
	var stored int
	require.NoError(t, st.Pool().QueryRow(context.Background(),
		`SELECT count(*) FROM api_tokens WHERE position($1::bytea in hash) > 0 OR key = $2`,
		[]byte(created.Secret), created.Secret).Scan(&stored))
	require.Zero(t, stored, "the secret itself is stored nowhere")

	// A second live token with the same name is a conflict naming the field.
	resp, body = send(t, http.MethodPost, srv.URL+"/api/v1/tokens", "Bearer "+admin, `{"name": "ci deploy"}`)
	require.Equal(t, http.StatusConflict, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), "name:")

	// Revoke: the token stops working at once.
	resp, body = send(t, http.MethodDelete, srv.URL+"/api/v1/tokens/"+itoa(created.Token.ID), "Bearer "+admin, "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	resp, body = send(t, http.MethodGet, srv.URL+"/api/v1/tokens", "Bearer "+created.Secret, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s", body)
	require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	resp, _ = send(t, http.MethodDelete, srv.URL+"/api/v1/tokens/"+itoa(created.Token.ID), "Bearer "+admin, "")
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "revoking twice")

	// Bodies are checked: unknown fields, wrong types and missing names are
	// refused naming the field; oversized bodies are a 413.
	for body, want := range map[string]string{
		`{"name": "x", "admin": true}`: "body.admin: unknown field",
		`{"name": 7}`:                  "body.name: expected string",
		`{}`:                           "name: is required",
		`{"name": `:                    "body:",
	} {
		resp, got := send(t, http.MethodPost, srv.URL+"/api/v1/tokens", "Bearer "+admin, body)
		require.Equal(t, http.StatusBadRequest, resp.StatusCode, "%s → %s", body, got)
		require.Contains(t, string(got), want, body)
	}
	resp, _ = send(t, http.MethodPost, srv.URL+"/api/v1/tokens", "Bearer "+admin,
		`{"name": "`+strings.Repeat("x", 2<<20)+`"}`)
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

func TestEveryAPIOperationNeedsAToken(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	s := &api.Server{Reader: st, Logger: testLogger(t)}
	srv, good := serveAPI(t, s, st)

	ops := specOperations(t)
	require.NotEmpty(t, ops)
	checked := 0
	for _, op := range ops {
		if !strings.HasPrefix(op.path, "/api/v1/") {
			continue
		}
		url := srv.URL + strings.NewReplacer("{id}", "1", "{name}", "app").Replace(op.path)
		for _, authz := range []string{"", "Bearer", "Basic dXNlcjpwYXNz", "Bearer lbt_nope", "Bearer " + good + "x",
			"Bearer " + strings.Replace(good, "lbt_", "lbt-", 1)} {
			resp, body := send(t, op.method, url, authz, "")
			require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "%s %s with %q: %s", op.method, op.path, authz, body)
			require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
			require.Equal(t, `Bearer realm="lifeboat"`, resp.Header.Get("WWW-Authenticate"))
			require.NotContains(t, string(body), good)
		}
		checked++
		// Failed attempts are rate-limited per address: reset by waiting is
		// slow, so each operation gets a fresh server.
		s = &api.Server{Reader: st, Logger: testLogger(t), Tokens: s.Tokens}
		srv = httptest.NewServer(s.Routes())
		t.Cleanup(srv.Close)
	}
	require.Greater(t, checked, 5)
}

func TestFailedAuthIsRateLimited(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	s := &api.Server{Reader: st, Logger: testLogger(t)}
	srv, good := serveAPI(t, s, st)

	for i := range 10 {
		resp, _ := send(t, http.MethodGet, srv.URL+"/api/v1/tokens", "Bearer lbt_guess"+itoa(int64(i)), "")
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "attempt %d", i+1)
	}
	resp, body := send(t, http.MethodGet, srv.URL+"/api/v1/tokens", "Bearer lbt_guess11", "")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, "%s", body)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	require.Contains(t, string(body), "too many failed attempts")
	// While blocked even a good token waits: the limiter does not look.
	resp, _ = send(t, http.MethodGet, srv.URL+"/api/v1/tokens", "Bearer "+good, "")
	require.Equal(t, http.StatusTooManyRequests, resp.StatusCode)
	// Routes outside /api/v1 are not affected.
	resp, _ = send(t, http.MethodGet, srv.URL+"/healthz", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), nil))
}

type operation struct{ method, path string }

// specOperations lists openapi.yaml's operations.
func specOperations(t *testing.T) []operation {
	t.Helper()
	var spec struct {
		Paths map[string]map[string]yaml.Node `yaml:"paths"`
	}
	require.NoError(t, yaml.Unmarshal(lifeboat.OpenAPI, &spec))
	var ops []operation
	for path, item := range spec.Paths {
		for method := range item {
			switch method {
			case "get", "put", "post", "delete", "patch":
				ops = append(ops, operation{strings.ToUpper(method), path})
			}
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].path+ops[i].method < ops[j].path+ops[j].method })
	return ops
}
