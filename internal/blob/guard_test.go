package blob

import (
	"context"
	"errors"
	"html"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/outbound"
)

// loopback is outbound.allow for the test services on 127.0.0.1.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

// notS3 answers everything with an error whose message is a long page of
// its own (an S3 error document around an intranet page): what the
// endpoint says is the remote's text, not lifeboat's.
func notS3(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls atomic.Int64
	page := "<html><body><h1>Intranet</h1>" + strings.Repeat("<p>row</p>", 100) + "INTERNAL-ONLY-MARKER</body></html>"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusForbidden)
		if r.Method == http.MethodHead {
			return
		}
		_, _ = w.Write([]byte("<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>AccessDenied</Code><Message>" +
			html.EscapeString(page) + "</Message></Error>"))
	}))
	t.Cleanup(srv.Close)
	return srv, &calls
}

// An S3 endpoint goes through the notifiers' outbound guard: on an internal
// address it is not called at all unless outbound.allow covers it, and a
// reply that is not S3's is never echoed in the error.
func TestS3EndpointIsGuarded(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	srv, calls := notS3(t)
	o := S3Options{Endpoint: srv.URL, Bucket: "b", AccessKeyID: "id", SecretAccessKey: "secret"}

	refused, err := NewS3(ctx, o)
	require.NoError(t, err)
	_, err = refused.Put(ctx, "k", strings.NewReader("data"))
	var re *outbound.RefusedError
	require.ErrorAs(t, err, &re, "%v", err)
	require.Equal(t, "loopback", re.Reason)
	_, err = refused.Stat(ctx, "k")
	require.ErrorAs(t, err, &re)
	require.ErrorAs(t, refused.EnsureBucket(ctx), &re)
	require.Zero(t, calls.Load(), "the internal endpoint must not be called")

	o.Allow = loopback
	allowed, err := NewS3(ctx, o)
	require.NoError(t, err)
	for _, op := range []func() error{
		func() error { _, err := allowed.Put(ctx, "k", strings.NewReader("data")); return err },
		func() error { _, err := allowed.Stat(ctx, "k"); return err },
		func() error { _, err := allowed.Get(ctx, "k"); return err },
		func() error { _, err := allowed.List(ctx, ""); return err },
		func() error { return allowed.Delete(ctx, "k") },
		func() error { return allowed.EnsureBucket(ctx) },
	} {
		err := op()
		require.Error(t, err)
		require.False(t, errors.As(err, &re))
		require.NotContains(t, err.Error(), "INTERNAL-ONLY-MARKER")
		require.NotContains(t, err.Error(), strings.Repeat("<p>row</p>", 12), "the reply is quoted briefly at most")
		require.Less(t, len(err.Error()), 400, err.Error())
	}
	require.NotZero(t, calls.Load(), "allowed: called")
}
