package notify_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

func TestGuardRefusesLoopbackUnlessAllowed(t *testing.T) {
	t.Parallel()
	srv := newEndpoint(t, http.StatusOK, "ok")

	_, err := notify.NewClient(nil, time.Second).Get(srv.URL)
	require.ErrorContains(t, err, "outbound address 127.0.0.1 refused: loopback (add it to outbound.allow to permit)")
	var refused *notify.RefusedError
	require.ErrorAs(t, err, &refused)
	require.Equal(t, "loopback", refused.Reason)
	require.Empty(t, srv.requests())

	allowed := notify.NewClient([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, time.Second)
	resp, err := allowed.Get(srv.URL)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, srv.requests(), 1)
}

// The check runs on the address being connected to, before the connection
// is made, so these need no listener and send nothing.
func TestGuardRefusesInternalAddresses(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"http://169.254.169.254/latest/meta-data/": "outbound address 169.254.169.254 refused: link-local",
		"http://10.1.2.3:9/":                       "outbound address 10.1.2.3 refused: private",
		"http://192.168.0.1:9/":                    "outbound address 192.168.0.1 refused: private",
		"http://100.64.0.1:9/":                     "outbound address 100.64.0.1 refused: private",
		"http://0.0.0.0:9/":                        "outbound address 0.0.0.0 refused: unspecified",
		"http://[::ffff:127.0.0.1]:9/":             "127.0.0.1 refused: loopback",
		"http://[::1]:9/":                          "outbound address ::1 refused: loopback",
		"http://127.0.0.1:9/":                      "outbound address 127.0.0.1 refused: loopback",
		"http://[fe80::1]:9/":                      "refused: link-local",
		// a name that resolves to loopback: checked after resolution, at connect time
		"http://localhost:9/": "refused: loopback",
	}
	client := notify.NewClient(nil, time.Second)
	for url, want := range cases {
		_, err := client.Get(url)
		require.ErrorContains(t, err, want, url)
	}
}

func TestGuardAllowListIsPerPrefix(t *testing.T) {
	t.Parallel()
	// 10.0.0.0/8 allowed says nothing about loopback.
	client := notify.NewClient([]netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, time.Second)
	srv := newEndpoint(t, http.StatusOK, "ok")
	_, err := client.Get(srv.URL)
	require.ErrorContains(t, err, "refused: loopback")
}

func TestGuardRefusedIsPermanentForSenders(t *testing.T) {
	t.Parallel()
	srv := newEndpoint(t, http.StatusOK, "ok")
	s, err := notify.NewSlack("ops-chat", srv.URL, nil) // nil client: public addresses only
	require.NoError(t, err)

	err = s.Send(context.Background(), event(failedRun()))
	require.ErrorContains(t, err, "refused: loopback")
	require.True(t, lifeboat.IsPermanent(err))
	require.Empty(t, srv.requests())
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	second := newEndpoint(t, http.StatusOK, "ok")
	first := httpRedirect(t, second.URL+"/landing")
	client := loopbackClient(t)

	s, err := notify.NewSlack("ops-chat", first.URL, client)
	require.NoError(t, err)
	err = s.Send(context.Background(), event(failedRun()))
	require.ErrorContains(t, err, "status 302")
	require.ErrorContains(t, err, "redirects are not followed")

	h, err := notify.NewHeartbeat("snitch", first.URL, client)
	require.NoError(t, err)
	require.ErrorContains(t, h.Ping(context.Background()), "status 302")

	w, err := notify.NewWebhook("ci", first.URL, [][]byte{[]byte("k")}, client)
	require.NoError(t, err)
	require.ErrorContains(t, w.Send(context.Background(), event(failedRun())), "status 302")

	require.Empty(t, second.requests())
}

func httpRedirect(t *testing.T, to string) *endpoint {
	t.Helper()
	e := newEndpoint(t, http.StatusOK, "")
	e.Config.Handler = http.RedirectHandler(to, http.StatusFound)
	return e
}

func TestClientTimeout(t *testing.T) {
	t.Parallel()
	slow := newEndpoint(t, http.StatusOK, "")
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client hanging up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(900 * time.Millisecond):
		}
	})
	client := notify.NewClient([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, 100*time.Millisecond)
	h, err := notify.NewHeartbeat("snitch", slow.URL, client)
	require.NoError(t, err)

	start := time.Now()
	err = h.Ping(context.Background())
	require.Error(t, err)
	require.Less(t, time.Since(start), 800*time.Millisecond)
	var ne net.Error
	require.True(t, errors.As(err, &ne) && ne.Timeout(), "timeout error, got %v", err)
}

func TestNewClientDefaultsTimeout(t *testing.T) {
	t.Parallel()
	require.Equal(t, notify.DefaultTimeout, notify.NewClient(nil, 0).Timeout)
	require.Equal(t, 10*time.Second, notify.DefaultTimeout)
	tr, ok := notify.NewClient(nil, 0).Transport.(*http.Transport)
	require.True(t, ok)
	require.Nil(t, tr.Proxy, "environment proxies would connect around the guard")
}

// A notifier URL's path and query carry its token: no error may show them,
// whatever went wrong.
func TestErrorsNeverContainTheURLSecret(t *testing.T) {
	t.Parallel()
	const secretPath = "/services/T0001/B0001/XXsecretTOKENxx"
	const secretQuery = "token=QUERYsecret99"
	suffix := secretPath + "?" + secretQuery

	echo := newEndpoint(t, http.StatusNotFound, "")
	echo.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("no route for " + r.URL.String() + " (" + r.URL.Path + ")"))
	})
	redirect := httpRedirect(t, "http://example.invalid"+suffix)
	slow := newEndpoint(t, http.StatusOK, "")
	slow.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The server notices the client hanging up only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-r.Context().Done():
		case <-time.After(900 * time.Millisecond):
		}
	})
	closed := newEndpoint(t, http.StatusOK, "")
	closedURL := closed.URL
	closed.Close()

	allowLoopback := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	cases := []struct {
		name   string
		base   string
		client *http.Client
	}{
		{"404 echoing the path", echo.URL, loopbackClient(t)},
		{"redirect", redirect.URL, loopbackClient(t)},
		{"timeout", slow.URL, notify.NewClient(allowLoopback, 100*time.Millisecond)},
		{"connection refused", closedURL, loopbackClient(t)},
		{"guard refused", echo.URL, notify.NewClient(nil, time.Second)},
		{"unresolvable host", "http://lifeboat-test.invalid", loopbackClient(t)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			requireSecretFree(t, tc.base, suffix, tc.client)
		})
	}
}

func requireSecretFree(t *testing.T, base, suffix string, client *http.Client) {
	t.Helper()
	raw := base + suffix
	s, err := notify.NewSlack("c", raw, client)
	require.NoError(t, err)
	h, err := notify.NewHeartbeat("h", raw, client)
	require.NoError(t, err)
	w, err := notify.NewWebhook("w", raw, [][]byte{[]byte("k")}, client)
	require.NoError(t, err)
	for _, sender := range []notify.Sender{s, h, w} {
		err := sender.Send(context.Background(), event(succeededRun()))
		require.Error(t, err, sender.Name())
		msg := err.Error()
		for _, secret := range []string{"T0001", "XXsecretTOKENxx", "QUERYsecret99"} {
			require.NotContains(t, msg, secret, sender.Name())
		}
		if strings.HasPrefix(base, "http://127.0.0.1") {
			require.Contains(t, msg, base+"/…", "%s: the redacted URL is kept for debugging", sender.Name())
		}
	}
}
