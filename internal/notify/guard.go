package notify

import (
	"net/http"
	"net/netip"
	"time"

	"github.com/lifeboat-dev/lifeboat/internal/outbound"
)

// DefaultTimeout bounds one whole delivery (connect, request, response) when
// NewClient is given no timeout.
const DefaultTimeout = outbound.DefaultTimeout

// RefusedError is returned (wrapped in the dial and url errors) when a
// user-supplied URL resolves to an address lifeboat must not call.
type RefusedError = outbound.RefusedError

// NewClient returns the HTTP client every user-supplied URL (chat, heartbeat,
// webhook) is called through: outbound's guarded client (no internal
// address outside allow, checked at connect; no redirects; no proxies).
func NewClient(allow []netip.Prefix, timeout time.Duration) *http.Client {
	return outbound.NewClient(allow, timeout)
}
