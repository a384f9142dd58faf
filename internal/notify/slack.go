package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Slack posts a chat message to a Slack-compatible incoming webhook: Slack,
// Mattermost, Rocket.Chat, or Discord's /slack URL. The message is plain
// `text` only, which all of them render, without bold or <url|text> links
// (Slack-only syntax); the status is carried by an emoji.
type Slack struct {
	name   string
	url    string
	client *http.Client
}

// NewSlack returns a sender for the incoming-webhook URL rawURL. A nil
// client means NewClient(nil, DefaultTimeout).
func NewSlack(name, rawURL string, client *http.Client) (*Slack, error) {
	if _, err := parseURL(rawURL); err != nil {
		return nil, fmt.Errorf("notifier %s: %w", name, err)
	}
	return &Slack{name: name, url: rawURL, client: defaultClient(client)}, nil
}

func (s *Slack) Name() string { return s.name }

// Accepts says chat hears about finished runs and overdue targets, not
// about runs starting (one message per run is the rule).
func (s *Slack) Accepts(kind Kind) bool { return kind != KindRunStarted }

// Send posts the run's summary, or the watchdog's news of a target.
func (s *Slack) Send(ctx context.Context, ev Event) error {
	if !s.Accepts(ev.Kind) {
		return nil
	}
	return s.post(ctx, slackText(ev))
}

// post sends one chat message.
func (s *Slack) post(ctx context.Context, text string) error {
	body, err := json.Marshal(slackMessage{Text: text})
	if err != nil {
		return fmt.Errorf("notify %s: %w", s.name, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("notify %s: %w", s.name, redactURLError(err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	return do(s.client, req, s.name)
}

type slackMessage struct {
	Text string `json:"text"`
}

const userAgent = "lifeboat"

// Limits keep one bad run (a huge pg_restore error, hundreds of failed
// checks) from producing a message chat servers reject.
const (
	slackMaxError  = 500
	slackMaxChecks = 10
)

// slackText renders ev as the chat message text, e.g.
//
//	❌ app: run 42 failed after 3m2s · 1.2 GiB stored
//	Failed stage: restore — pg_restore: error: …
//	Failed checks:
//	• users exist: expected >= 1, observed 0
//	https://lifeboat.example.com/runs/42
func slackText(ev Event) string {
	if ev.Target != nil {
		return targetText(ev, slackEscape)
	}
	return runText(ev, slackEscape)
}

// runText renders a finished run's summary with esc applied to every piece
// of text that comes from the database or an error.
func runText(ev Event, esc func(string) string) string {
	var b strings.Builder
	icon, word := "✅", "succeeded"
	switch ev.Kind {
	case KindRunFailed:
		icon, word = "❌", "failed"
	case KindRunCanceled:
		icon, word = "⚠️", "was canceled"
	}
	fmt.Fprintf(&b, "%s %s: run %d %s", icon, esc(ev.Run.Target), ev.Run.ID, word)
	if d := ev.duration(); d > 0 {
		if ev.Kind == KindRunSucceeded {
			fmt.Fprintf(&b, " in %s", roundDuration(d))
		} else {
			fmt.Fprintf(&b, " after %s", roundDuration(d))
		}
	}
	if a := ev.Run.Artifact; a != nil && a.StoredBytes > 0 {
		fmt.Fprintf(&b, " · %s stored", humanBytes(a.StoredBytes))
	}
	if st, ok := ev.Run.FailedStage(); ok {
		fmt.Fprintf(&b, "\nFailed stage: %s", st.Name)
		if st.Error != "" {
			fmt.Fprintf(&b, " — %s", esc(truncate(st.Error, slackMaxError)))
		}
	} else if ev.Run.Error != "" && ev.Kind != KindRunSucceeded {
		fmt.Fprintf(&b, "\nError: %s", esc(truncate(ev.Run.Error, slackMaxError)))
	}
	if failed := failedChecks(ev.Run); len(failed) > 0 {
		b.WriteString("\nFailed checks:")
		for i, c := range failed {
			if i == slackMaxChecks {
				fmt.Fprintf(&b, "\n…and %d more", len(failed)-i)
				break
			}
			fmt.Fprintf(&b, "\n• %s: expected %s, observed %s",
				esc(c.Name), esc(truncate(c.Expected, 100)), esc(truncate(c.Observed, 100)))
		}
	}
	if ev.RunURL != "" {
		// A bare URL: every Slack-compatible server links it, while the
		// <url|text> syntax is Slack's own.
		fmt.Fprintf(&b, "\n%s", esc(ev.RunURL))
	}
	return b.String()
}

// targetText renders the watchdog's news of a target, e.g.
//
//	⏰ target app is overdue: no verified backup since 2025-03-04 03:05 UTC (window 36h)
//	✅ target app recovered: run 57 verified at 2025-03-06 04:00 UTC (overdue since 2025-03-05 15:05 UTC)
func targetText(ev Event, esc func(string) string) string {
	t := ev.Target
	var b strings.Builder
	switch ev.Kind {
	case KindTargetRecovered:
		fmt.Fprintf(&b, "✅ target %s recovered: ", esc(t.Name))
		if ev.Run.ID != 0 {
			fmt.Fprintf(&b, "run %d ", ev.Run.ID)
		}
		b.WriteString("verified")
		if t.LastVerifiedAt != nil {
			fmt.Fprintf(&b, " at %s", clockTime(*t.LastVerifiedAt))
		}
		fmt.Fprintf(&b, " (overdue since %s)", clockTime(t.OverdueSince))
	default:
		fmt.Fprintf(&b, "⏰ target %s is overdue: no verified backup ", esc(t.Name))
		if t.LastVerifiedAt != nil {
			fmt.Fprintf(&b, "since %s", clockTime(*t.LastVerifiedAt))
		} else {
			fmt.Fprintf(&b, "since it was first seen at %s", clockTime(t.WatchedSince))
		}
		fmt.Fprintf(&b, " (window %s)", humanDuration(t.Window))
	}
	if ev.RunURL != "" {
		fmt.Fprintf(&b, "\n%s", esc(ev.RunURL))
	}
	return b.String()
}

// clockTime formats t for people: minutes, in UTC, zone named.
func clockTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 MST") }

// humanDuration formats d compactly: 36h, 1h30m, 4d12h, 45s.
func humanDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	d = d.Round(time.Second)
	var b strings.Builder
	if d >= 48*time.Hour {
		fmt.Fprintf(&b, "%dd", d/(24*time.Hour))
		d %= 24 * time.Hour
	}
	for _, u := range []struct {
		unit time.Duration
		name string
	}{{time.Hour, "h"}, {time.Minute, "m"}, {time.Second, "s"}} {
		if n := d / u.unit; n > 0 {
			fmt.Fprintf(&b, "%d%s", n, u.name)
			d -= n * u.unit
		}
	}
	return b.String()
}

// slackEscape escapes the three characters Slack treats as control
// sequences, so text from a database or an error cannot form a link or an
// @channel mention (<!channel>).
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

func truncate(s string, max int) string {
	s = strings.TrimSpace(s)
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func roundDuration(d time.Duration) time.Duration {
	if d < time.Second {
		return d.Round(time.Millisecond)
	}
	return d.Round(time.Second)
}

// humanBytes formats n with binary units: 1536 → "1.5 KiB".
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
