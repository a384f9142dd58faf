package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// Webhook posts signed JSON events following the Standard Webhooks spec
// (https://www.standardwebhooks.com): headers webhook-id, webhook-timestamp
// and webhook-signature, so receivers can use any of its libraries.
type Webhook struct {
	name    string
	url     string
	secrets [][]byte
	client  *http.Client
}

// NewWebhook returns a sender for rawURL signing with every one of secrets
// (several while a secret is being rotated). A nil client means
// NewClient(nil, DefaultTimeout).
func NewWebhook(name, rawURL string, secrets [][]byte, client *http.Client) (*Webhook, error) {
	if _, err := parseURL(rawURL); err != nil {
		return nil, fmt.Errorf("notifier %s: %w", name, err)
	}
	if len(secrets) == 0 {
		return nil, fmt.Errorf("notifier %s: secret: required", name)
	}
	for i, s := range secrets {
		if len(s) == 0 {
			return nil, fmt.Errorf("notifier %s: secret %d: empty", name, i)
		}
	}
	return &Webhook{name: name, url: rawURL, secrets: secrets, client: defaultClient(client)}, nil
}

func (w *Webhook) Name() string { return w.name }

// Accepts says webhooks carry every event: a run's start and end, and the
// watchdog's target events.
func (w *Webhook) Accepts(Kind) bool { return true }

// WebhookPayload is the body of every webhook event. Data is a WebhookData
// for run.* events and a WebhookTargetData for target.* events.
type WebhookPayload struct {
	Type      Kind      `json:"type"`
	Timestamp time.Time `json:"timestamp"` // RFC 3339
	Data      any       `json:"data"`
}

// WebhookTargetData is the data of target.overdue and target.recovered.
type WebhookTargetData struct {
	Target string `json:"target"`
	// LastVerifiedAt and LastVerifiedRunID are null when the target never
	// had a verified backup.
	LastVerifiedAt    *time.Time `json:"last_verified_at"`
	LastVerifiedRunID *int64     `json:"last_verified_run_id"`
	WatchedSince      time.Time  `json:"watched_since"`
	WindowSeconds     float64    `json:"window_seconds"`
	OverdueSince      time.Time  `json:"overdue_since"`
	// URL links to the verified run that ended the silence (recovered only).
	URL string `json:"url,omitempty"`
}

// WebhookData is the run as the REST API shows it, plus its link and duration.
type WebhookData struct {
	lifeboat.Run
	URL             string  `json:"url,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
}

// MessageID is ev's webhook-id: the same on every retry and redelivery of
// the same event, so receivers can drop duplicates.
func MessageID(ev Event) string {
	if t := ev.Target; t != nil {
		// One overdue spell has one overdue and one recovered event.
		return fmt.Sprintf("msg_%s_%s_%d", ev.Kind, t.Name, t.OverdueSince.Unix())
	}
	return fmt.Sprintf("msg_%d_%s", ev.Run.ID, ev.Kind)
}

// Payload renders ev as the JSON body a webhook receives. It carries no
// secret, so it can be stored and shown as it was sent.
func Payload(ev Event) ([]byte, error) {
	ts := ev.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	var data any = WebhookData{Run: quotedBriefly(ev.Run), URL: ev.RunURL, DurationSeconds: ev.duration().Seconds()}
	if t := ev.Target; t != nil {
		td := WebhookTargetData{Target: t.Name, WatchedSince: t.WatchedSince.UTC(),
			WindowSeconds: t.Window.Seconds(), OverdueSince: t.OverdueSince.UTC(), URL: ev.RunURL}
		if t.LastVerifiedAt != nil {
			at, run := t.LastVerifiedAt.UTC(), t.LastVerifiedRunID
			td.LastVerifiedAt, td.LastVerifiedRunID = &at, &run
		}
		data = td
	}
	return json.Marshal(WebhookPayload{
		Type:      ev.Kind,
		Timestamp: ts.UTC().Truncate(time.Second),
		Data:      data,
	})
}

// Send posts ev at once. Run events of the pipeline go through Deliver
// instead (one recorded delivery per event, retried by its own job); Send
// serves the watchdog's outbox and direct callers.
func (w *Webhook) Send(ctx context.Context, ev Event) error {
	body, err := Payload(ev)
	if err != nil {
		return fmt.Errorf("notify %s: %w", w.name, err)
	}
	_, err = w.Deliver(ctx, MessageID(ev), body)
	return err
}

// Deliver posts body as message id, signed now with every secret, and
// returns the receiver's HTTP status (0 when there was no answer). Errors
// are those of every sender: permanent (lifeboat.EPERMANENT) when retrying
// cannot help, never carrying the URL.
func (w *Webhook) Deliver(ctx context.Context, id string, body []byte) (status int, err error) {
	sigs := make([]string, len(w.secrets))
	now := time.Now()
	for i, secret := range w.secrets {
		sigs[i] = Sign(secret, id, now, body)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(body))
	if err != nil {
		return 0, fmt.Errorf("notify %s: %w", w.name, redactURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set("webhook-id", id)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	req.Header.Set("webhook-signature", strings.Join(sigs, " "))
	return send(w.client, req, w.name)
}

// Sign returns the Standard Webhooks signature "v1,<base64 HMAC-SHA256>" of
// id.timestamp.body under secret.
func Sign(secret []byte, id string, ts time.Time, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(mac(secret, id, ts.Unix(), body))
}

func mac(secret []byte, id string, unix int64, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(id))
	h.Write([]byte("."))
	h.Write([]byte(strconv.FormatInt(unix, 10)))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// DefaultTolerance is how far webhook-timestamp may be from now when Verify
// is given no tolerance.
const DefaultTolerance = 5 * time.Minute

// ErrUnverified is wrapped by every error Verify returns.
var ErrUnverified = errors.New("webhook not verified")

// Verify checks a Standard Webhooks request: webhook-timestamp within
// tolerance of now (either way, against replays) and at least one v1
// signature in webhook-signature made with one of secrets.
func Verify(secrets [][]byte, header http.Header, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	id := header.Get("webhook-id")
	tsText := header.Get("webhook-timestamp")
	sigText := header.Get("webhook-signature")
	if id == "" || tsText == "" || sigText == "" {
		return fmt.Errorf("%w: webhook-id, webhook-timestamp and webhook-signature headers are required", ErrUnverified)
	}
	unix, err := strconv.ParseInt(tsText, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: webhook-timestamp is not unix seconds", ErrUnverified)
	}
	if skew := now.Sub(time.Unix(unix, 0)); skew > tolerance || skew < -tolerance {
		return fmt.Errorf("%w: webhook-timestamp is %s away from now (tolerance %s)", ErrUnverified, skew.Round(time.Second), tolerance)
	}
	for _, secret := range secrets {
		if len(secret) == 0 {
			continue
		}
		want := mac(secret, id, unix, body)
		for _, sig := range strings.Fields(sigText) {
			version, encoded, ok := strings.Cut(sig, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(encoded)
			if err != nil {
				continue
			}
			if hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: no matching signature", ErrUnverified)
}

// ParseSecret turns a configured secret into key bytes: a Standard Webhooks
// "whsec_<base64>" secret is decoded, anything else is used as is.
func ParseSecret(s string) ([]byte, error) {
	if rest, ok := strings.CutPrefix(s, "whsec_"); ok {
		b, err := base64.StdEncoding.DecodeString(rest)
		if err != nil {
			return nil, errors.New("secret: whsec_ secret is not valid base64")
		}
		return b, nil
	}
	if s == "" {
		return nil, errors.New("secret: empty")
	}
	return []byte(s), nil
}

// MaxQuotedValue bounds how much of a check's expected and observed values
// a webhook quotes: they are the output of user SQL on restored data. The
// run record (the API, the dashboard) keeps them whole.
const MaxQuotedValue = 200

// quotedBriefly returns run with its checks' values cut to MaxQuotedValue
// bytes; run itself is not changed.
func quotedBriefly(run lifeboat.Run) lifeboat.Run {
	if len(run.Checks) == 0 {
		return run
	}
	checks := make([]lifeboat.CheckResult, len(run.Checks))
	for i, c := range run.Checks {
		c.Expected, c.Observed = truncate(c.Expected, MaxQuotedValue), truncate(c.Observed, MaxQuotedValue)
		checks[i] = c
	}
	run.Checks = checks
	return run
}
