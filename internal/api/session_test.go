package api_test

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/auth"
)

// browser is a client with a cookie jar that does not follow redirects,
// so each step can be checked.
func browser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func postForm(t *testing.T, c *http.Client, u string, form url.Values, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func get(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	require.NoError(t, err)
	resp.Body.Close()
	return resp
}

func TestDashboardSessions(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	s := &api.Server{Reader: st, Logger: testLogger(t)}
	srv, token := serveAPI(t, s, st)
	b := browser(t)

	// Pages need a session: the login page remembers where we were going.
	resp := get(t, b, srv.URL+"/?banner=1")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next="+url.QueryEscape("/?banner=1"), resp.Header.Get("Location"))
	require.Equal(t, http.StatusOK, get(t, b, srv.URL+"/login").StatusCode)

	// A bad token: the page again, 401, no cookie.
	resp = postForm(t, b, srv.URL+"/login", url.Values{"secret": {"lbt_nope"}}, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Empty(t, resp.Cookies())

	// A good token: a Secure-when-TLS, HttpOnly, SameSite cookie and the
	// page we wanted; never an absolute URL of another site.
	resp = postForm(t, b, srv.URL+"/login", url.Values{"secret": {token}, "next": {"//evil.example/x"}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/", resp.Header.Get("Location"), "an off-site next is dropped")
	require.Len(t, resp.Cookies(), 1)
	c := resp.Cookies()[0]
	require.True(t, c.HttpOnly)
	require.Equal(t, http.SameSiteLaxMode, c.SameSite)
	require.NotContains(t, c.Value, token)
	resp = postForm(t, b, srv.URL+"/login", url.Values{"secret": {token}, "next": {"/?banner=1"}}, nil)
	require.Equal(t, "/?banner=1", resp.Header.Get("Location"))
	require.Len(t, resp.Cookies(), 1)
	current := resp.Cookies()[0].Value

	require.Equal(t, http.StatusOK, get(t, b, srv.URL+"/").StatusCode, "signed in")
	// The session reads the API (the live log tail's EventSource cannot
	// send a header) but changes nothing through it.
	require.Equal(t, http.StatusOK, get(t, b, srv.URL+"/api/v1/tokens").StatusCode)
	resp = postForm(t, b, srv.URL+"/api/v1/tokens", url.Values{}, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a cookie is not a bearer token")

	// A cross-site form post is refused before it reaches a handler.
	resp = postForm(t, b, srv.URL+"/logout", url.Values{}, map[string]string{"Sec-Fetch-Site": "cross-site"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	resp = postForm(t, b, srv.URL+"/logout", url.Values{}, map[string]string{"Origin": "https://evil.example"})
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	require.Equal(t, http.StatusOK, get(t, b, srv.URL+"/").StatusCode, "still signed in")

	// Logout ends the session on the server, not just in the browser.
	resp = postForm(t, b, srv.URL+"/logout", url.Values{}, map[string]string{"Sec-Fetch-Site": "same-origin"})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, http.StatusSeeOther, get(t, b, srv.URL+"/").StatusCode)
	replay := browser(t)
	u, _ := url.Parse(srv.URL)
	replay.Jar.SetCookies(u, []*http.Cookie{{Name: "lifeboat_session", Value: current}})
	require.Equal(t, http.StatusSeeOther, get(t, replay, srv.URL+"/").StatusCode, "the old cookie is dead")
	// A form sent with a dead session goes to the login page, which brings
	// the user back to the page the form was on.
	resp = postForm(t, replay, srv.URL+"/targets/app/runs", url.Values{}, map[string]string{"Referer": srv.URL + "/targets/app"})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, "/login?next="+url.QueryEscape("/targets/app"), resp.Header.Get("Location"))
}

func TestRevokingATokenEndsItsSessions(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	s := &api.Server{Reader: st, Logger: testLogger(t)}
	srv, admin := serveAPI(t, s, st)
	tok, secret, err := s.Tokens.Create(t.Context(), "laptop")
	require.NoError(t, err)

	b := browser(t)
	resp := postForm(t, b, srv.URL+"/login", url.Values{"secret": {secret}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, http.StatusOK, get(t, b, srv.URL+"/").StatusCode)

	resp2, body := send(t, http.MethodDelete, srv.URL+"/api/v1/tokens/"+itoa(tok.ID), "Bearer "+admin, "")
	require.Equal(t, http.StatusOK, resp2.StatusCode, "%s", body)
	require.Equal(t, http.StatusSeeOther, get(t, b, srv.URL+"/").StatusCode, "the session died with its token")
}

func TestAdminPasswordSession(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	tokens := auth.New(st)
	const password = "correct horse battery staple"
	s := &api.Server{Reader: st, Logger: testLogger(t), Tokens: tokens, Sessions: auth.NewSessions(tokens, st, password)}
	srv, token := serveAPI(t, s, st)

	resp, body := send(t, http.MethodGet, srv.URL+"/login", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Contains(t, string(body), "password", "the form says a password works too")

	b := browser(t)
	resp = postForm(t, b, srv.URL+"/login", url.Values{"secret": {"correct horse battery"}}, nil)
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode, "a wrong password")
	resp = postForm(t, b, srv.URL+"/login", url.Values{"secret": {password}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
	require.Equal(t, http.StatusOK, get(t, b, srv.URL+"/").StatusCode)
	require.Equal(t, http.StatusOK, get(t, b, srv.URL+"/api/v1/tokens").StatusCode, "the session reads the API")
	// The password is no bearer token.
	resp, _ = send(t, http.MethodGet, srv.URL+"/api/v1/tokens", "Bearer "+password, "")
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	// Tokens still sign in beside it.
	resp = postForm(t, browser(t), srv.URL+"/login", url.Values{"secret": {token}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)
}
