package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// KindTest is the event type of a webhook's test message.
const KindTest Kind = "lifeboat.test"

// Tester sends a harmless message that proves a notifier is reachable.
type Tester interface {
	Test(ctx context.Context) error
}

// Test posts a chat message saying the notifier works.
func (s *Slack) Test(ctx context.Context) error {
	return s.post(ctx, "lifeboat: test message from notifier "+s.name+" - it works.")
}

// Test delivers a signed lifeboat.test event.
func (w *Webhook) Test(ctx context.Context) error {
	now := time.Now().UTC()
	body, err := json.Marshal(WebhookPayload{Type: KindTest, Timestamp: now,
		Data: map[string]string{"notifier": w.name}})
	if err != nil {
		return err
	}
	_, err = w.Deliver(ctx, "msg_test_"+strconv.FormatInt(now.UnixNano(), 36), body)
	return err
}

// Test only connects to the check-in URL's host: any HTTP request to a
// heartbeat URL counts as a check-in with most services, and a test must
// not tell the dead man's switch that backups are fine. The connection goes
// through the same guarded dialer as the pings.
func (h *Heartbeat) Test(ctx context.Context) error {
	t, ok := h.client.Transport.(*http.Transport)
	if !ok || t.DialContext == nil {
		return fmt.Errorf("notify %s: no dialer to test with", h.name)
	}
	port := h.parsed.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[h.parsed.Scheme]
	}
	conn, err := t.DialContext(ctx, "tcp", net.JoinHostPort(h.parsed.Hostname(), port))
	if err != nil {
		return fmt.Errorf("notify %s: %w", h.name, scrubDialError(err, h.parsed))
	}
	return conn.Close()
}

// scrubDialError keeps a dial error from carrying the URL (whose path or
// query may hold the check's token); the host alone is no secret.
func scrubDialError(err error, u *url.URL) error {
	return fmt.Errorf("connect %s: %v", u.Host, unwrapOp(err))
}

func unwrapOp(err error) error {
	if oe, ok := err.(*net.OpError); ok && oe.Err != nil {
		return oe.Err
	}
	return err
}
