package notify_test

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
)

func TestHeartbeatPingsOnceForSucceededRun(t *testing.T) {
	t.Parallel()
	snitch := newEndpoint(t, http.StatusOK, "OK")
	h, err := notify.NewHeartbeat("snitch", snitch.URL+"/ping/abc123", loopbackClient(t))
	require.NoError(t, err)
	require.Equal(t, "snitch", h.Name())

	require.NoError(t, h.Send(context.Background(), event(succeededRun())))

	reqs := snitch.requests()
	require.Len(t, reqs, 1)
	require.Equal(t, http.MethodGet, reqs[0].Method)
	require.Equal(t, "/ping/abc123", reqs[0].Path)
}

func TestHeartbeatSilentUnlessSucceeded(t *testing.T) {
	t.Parallel()
	snitch := newEndpoint(t, http.StatusOK, "OK")
	h, err := notify.NewHeartbeat("snitch", snitch.URL, loopbackClient(t))
	require.NoError(t, err)
	canceled := succeededRun()
	canceled.Status = lifeboat.RunCanceled

	require.NoError(t, h.Send(context.Background(), event(failedRun())))
	require.NoError(t, h.Send(context.Background(), event(canceled)))

	require.Empty(t, snitch.requests())
}

func TestHeartbeatPingNon2xx(t *testing.T) {
	t.Parallel()
	snitch := newEndpoint(t, http.StatusServiceUnavailable, "down")
	h, err := notify.NewHeartbeat("snitch", snitch.URL, loopbackClient(t))
	require.NoError(t, err)

	require.ErrorContains(t, h.Ping(context.Background()), "status 503: down")
	require.Len(t, snitch.requests(), 1)
}
