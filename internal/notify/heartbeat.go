package notify

import (
	"context"
	"fmt"
	"net/http"
)

// Heartbeat pings a dead man's switch URL (healthchecks.io, DeadMansSnitch,
// Cronitor, Uptime Kuma push) so that silence raises the alarm: it only
// pings for a run whose every stage passed.
type Heartbeat struct {
	name   string
	url    string
	client *http.Client
}

// NewHeartbeat returns a sender for the check-in URL rawURL. A nil client
// means NewClient(nil, DefaultTimeout).
func NewHeartbeat(name, rawURL string, client *http.Client) (*Heartbeat, error) {
	if _, err := parseURL(rawURL); err != nil {
		return nil, fmt.Errorf("notifier %s: %w", name, err)
	}
	return &Heartbeat{name: name, url: rawURL, client: defaultClient(client)}, nil
}

func (h *Heartbeat) Name() string { return h.name }

// Send pings for a succeeded run and does nothing otherwise.
func (h *Heartbeat) Send(ctx context.Context, ev Event) error {
	if ev.Kind != KindRunSucceeded {
		return nil
	}
	return h.Ping(ctx)
}

// Ping checks in with a GET, which every dead man's switch service accepts.
func (h *Heartbeat) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return fmt.Errorf("notify %s: %w", h.name, redactURLError(err))
	}
	req.Header.Set("User-Agent", userAgent)
	return do(h.client, req, h.name)
}
