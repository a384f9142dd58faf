// Package notify tells people and systems how a run ended: a chat message
// (Slack-compatible incoming webhook), a heartbeat ping (dead man's switch)
// and signed webhook events, all behind one Sender interface. Every
// user-supplied URL is called through the guarded client of NewClient, and
// no error or log text ever carries a full URL, since notifier URLs often
// embed a token.
package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// Kind says what happened; it is the webhook event type.
type Kind string

const (
	// KindRunStarted is sent when a run's backup stage begins its first
	// attempt. Webhooks and the heartbeat styles that track a run's
	// duration (healthchecks, cronitor) act on it; chat hears about
	// finished runs only.
	KindRunStarted   Kind = "run.started"
	KindRunSucceeded Kind = "run.succeeded"
	KindRunFailed    Kind = "run.failed"
	KindRunCanceled  Kind = "run.canceled"
	// KindTargetOverdue and KindTargetRecovered come from the watchdog: a
	// target's last verified backup is older than its window, and a fresh
	// one has landed again. Heartbeats ignore them: their own silence
	// already raises the alarm.
	KindTargetOverdue   Kind = "target.overdue"
	KindTargetRecovered Kind = "target.recovered"
)

// Event is what every sender renders: a run that starts or finishes, or a
// target that goes overdue or recovers.
type Event struct {
	Kind Kind
	// Run is the run of a run.* event; for target.recovered, the verified
	// run that ended the silence (zero when unknown).
	Run lifeboat.Run
	// RunURL links to the run on the dashboard; empty when no base_url is set.
	RunURL string
	// Time is when the event was produced: the webhook timestamp, and the end
	// of the duration of a run not yet marked finished.
	Time time.Time
	// Target is set for target.* events.
	Target *TargetStatus
}

// TargetStatus is the watchdog's view of a target, carried by target.*
// events.
type TargetStatus struct {
	Name string
	// LastVerifiedAt is when the newest verified backup finished; nil when
	// the target never had one.
	LastVerifiedAt    *time.Time
	LastVerifiedRunID int64
	// WatchedSince is when lifeboat first saw the target: the silence of a
	// never-verified target counts from it.
	WatchedSince time.Time
	// Window is how old the last verified backup may get.
	Window time.Duration
	// OverdueSince is when the watchdog found the target overdue.
	OverdueSince time.Time
}

// NewStartedEvent is the run.started event of run.
func NewStartedEvent(run lifeboat.Run, runURL string, now time.Time) Event {
	return Event{Kind: KindRunStarted, Run: run, RunURL: runURL, Time: now}
}

// NewTargetEvent is a target.overdue or target.recovered event. For a
// recovery, run is the verified run that ended the silence.
func NewTargetEvent(kind Kind, status TargetStatus, run lifeboat.Run, runURL string, now time.Time) Event {
	return Event{Kind: kind, Target: &status, Run: run, RunURL: runURL, Time: now}
}

// Accepter is implemented by senders that act on only some kinds of event.
type Accepter interface {
	Accepts(kind Kind) bool
}

// Accepts reports whether s acts on events of kind, so callers can skip
// (and not record as delivered) events a sender would drop. A sender that
// does not implement Accepter takes every kind.
func Accepts(s Sender, kind Kind) bool {
	if a, ok := s.(Accepter); ok {
		return a.Accepts(kind)
	}
	return true
}

// NewEvent builds the event for run. The report stage runs before the run
// is marked finished, so an unfinished run's kind comes from its stages and
// checks: any failure makes it run.failed, otherwise run.succeeded.
func NewEvent(run lifeboat.Run, runURL string, now time.Time) Event {
	return Event{Kind: kindOf(run), Run: run, RunURL: runURL, Time: now}
}

func kindOf(run lifeboat.Run) Kind {
	switch run.Status {
	case lifeboat.RunSucceeded:
		return KindRunSucceeded
	case lifeboat.RunFailed:
		return KindRunFailed
	case lifeboat.RunCanceled:
		return KindRunCanceled
	}
	if _, failed := run.FailedStage(); failed || run.Error != "" || len(failedChecks(run)) > 0 {
		return KindRunFailed
	}
	return KindRunSucceeded
}

// duration is the run's wall time, zero when unknown.
func (ev Event) duration() time.Duration {
	if ev.Run.CreatedAt.IsZero() {
		return 0
	}
	now := ev.Time
	if now.IsZero() {
		now = time.Now()
	}
	d := ev.Run.Duration(now)
	if d < 0 {
		return 0
	}
	return d
}

func failedChecks(run lifeboat.Run) []lifeboat.CheckResult {
	var out []lifeboat.CheckResult
	for _, c := range run.Checks {
		if !c.Passed {
			out = append(out, c)
		}
	}
	return out
}

// Sender delivers events to one configured notifier.
type Sender interface {
	// Name is the notifier's name from the config, safe to log.
	Name() string
	Send(ctx context.Context, ev Event) error
}

// Redact returns rawURL reduced to scheme://host/… so it can be logged:
// notifier URLs carry tokens in their path, query or user info.
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "(unparseable URL)"
	}
	out := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawPath != "" || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		out += "/…"
	}
	return out
}

// parseURL checks a notifier URL without ever echoing it in an error.
func parseURL(rawURL string) (*url.URL, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, errors.New("url: not a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, errors.New("url: scheme must be http or https")
	}
	if u.Host == "" {
		return nil, errors.New("url: missing host")
	}
	return u, nil
}

// bodySnippetMax bounds how much of a failed response's body an error shows.
const bodySnippetMax = 200

// do sends req through client and turns anything but a 2xx into an error
// that names the notifier and the redacted URL, never the URL itself.
// Configuration faults (a refused address, a redirect, a 4xx other than
// timeouts and rate limits) are marked permanent: retrying cannot fix them.
func do(client *http.Client, req *http.Request, notifier string) error {
	_, err := send(client, req, notifier)
	return err
}

// send is do that also returns the response's status code (0: none).
func send(client *http.Client, req *http.Request, notifier string) (int, error) {
	target := Redact(req.URL.String())
	resp, err := client.Do(req)
	if err != nil {
		err = redactURLError(err)
		var refused *RefusedError
		return 0, deliveryError(notifier, err, errors.As(err, &refused))
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Drain a little so the connection can be reused.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return resp.StatusCode, nil
	}
	msg := fmt.Sprintf("%s %s: status %d", req.Method, target, resp.StatusCode)
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		msg += " (redirects are not followed)"
	}
	if snippet := bodySnippet(resp.Body, req.URL); snippet != "" {
		msg += ": " + snippet
	}
	retryable := resp.StatusCode >= 500 || resp.StatusCode == http.StatusRequestTimeout ||
		resp.StatusCode == http.StatusTooEarly || resp.StatusCode == http.StatusTooManyRequests
	return resp.StatusCode, deliveryError(notifier, errors.New(msg), !retryable)
}

// deliveryError prefixes err with the notifier's name, marking it permanent
// the way lifeboat.Permanent does but without repeating the message.
func deliveryError(notifier string, err error, permanent bool) error {
	if permanent {
		return &lifeboat.Error{Code: lifeboat.EPERMANENT, Message: "notify " + notifier, Err: err}
	}
	return fmt.Errorf("notify %s: %w", notifier, err)
}

// redactURLError replaces the URL in a *url.Error (which net/http puts in
// every transport error) with its redacted form.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = Redact(ue.URL)
	}
	return err
}

// bodySnippet reads at most bodySnippetMax bytes of a response body for an
// error message. Servers may echo the request path, so the URL's secret
// parts are cut out of it.
func bodySnippet(body io.Reader, u *url.URL) string {
	b, _ := io.ReadAll(io.LimitReader(body, bodySnippetMax))
	s := strings.Join(strings.Fields(strings.ToValidUTF8(string(b), "")), " ")
	secrets := []string{u.String(), u.EscapedPath(), u.Path, u.RawQuery}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 8 { // token-like; short segments such as "hooks" are harmless
			secrets = append(secrets, seg)
		}
	}
	for _, vs := range u.Query() {
		for _, v := range vs {
			if len(v) >= 8 {
				secrets = append(secrets, v)
			}
		}
	}
	for _, secret := range secrets {
		if len(secret) > 1 {
			s = strings.ReplaceAll(s, secret, "…")
		}
	}
	return s
}

// defaultClient is used by senders built without a client.
func defaultClient(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return NewClient(nil, 0)
}
