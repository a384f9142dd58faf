package notify

import (
	"context"
	"crypto/sha1"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// HeartbeatStyle is the protocol a heartbeat notifier speaks.
type HeartbeatStyle string

const (
	// StylePlain GETs the URL for a verified run and says nothing otherwise:
	// silence raises the alarm. Any dead man's switch understands it.
	StylePlain HeartbeatStyle = "plain"
	// StyleHealthchecks speaks healthchecks.io's ping API: <url>/start when a
	// run begins, <url>/fail when it fails, <url> when it is verified, each
	// with rid=<run UUID> and a plain-text body (summary and last log lines).
	StyleHealthchecks HeartbeatStyle = "healthchecks"
	// StyleCronitor speaks Cronitor's telemetry API: ?state=run, then
	// ?state=complete or ?state=fail with a short message, all in one series.
	StyleCronitor HeartbeatStyle = "cronitor"
	// StyleDeadMansSnitch pings on a verified run only, with ?m=<message>.
	StyleDeadMansSnitch HeartbeatStyle = "deadmanssnitch"
)

// LogSource returns the last n lines of a run's log, oldest first.
type LogSource func(ctx context.Context, runID int64, n int) ([]lifeboat.LogLine, error)

// HeartbeatOptions tune a heartbeat beyond its URL.
type HeartbeatOptions struct {
	Style HeartbeatStyle // empty means plain
	// Logs feeds the last lines of a run's log into healthchecks bodies; nil
	// sends the summary alone.
	Logs LogSource
}

// Limits of what a heartbeat carries: healthchecks stores a body of up to
// 100 KB; we send at most 10 KB, the newest lines first to go when cut.
const (
	heartbeatLogLines   = 20
	heartbeatMaxBody    = 10 << 10
	heartbeatMaxLine    = 1000
	heartbeatMaxMessage = 200
)

// Heartbeat pings a dead man's switch URL (healthchecks.io, DeadMansSnitch,
// Cronitor, Uptime Kuma push) so that silence raises the alarm. In its
// default plain style it only pings for a run whose every stage passed;
// the healthchecks and cronitor styles also say when a run starts and
// when it fails.
type Heartbeat struct {
	name   string
	url    string
	parsed *url.URL
	style  HeartbeatStyle
	logs   LogSource
	client *http.Client
}

// NewHeartbeat returns a plain-style sender for the check-in URL rawURL. A
// nil client means NewClient(nil, DefaultTimeout).
func NewHeartbeat(name, rawURL string, client *http.Client) (*Heartbeat, error) {
	return NewStyledHeartbeat(name, rawURL, HeartbeatOptions{}, client)
}

// NewStyledHeartbeat returns a sender for rawURL speaking opts.Style.
func NewStyledHeartbeat(name, rawURL string, opts HeartbeatOptions, client *http.Client) (*Heartbeat, error) {
	u, err := parseURL(rawURL)
	if err != nil {
		return nil, fmt.Errorf("notifier %s: %w", name, err)
	}
	style := opts.Style
	switch style {
	case "":
		style = StylePlain
	case StylePlain, StyleHealthchecks, StyleCronitor, StyleDeadMansSnitch:
	default:
		return nil, fmt.Errorf("notifier %s: unknown heartbeat style %q", name, style)
	}
	return &Heartbeat{name: name, url: rawURL, parsed: u, style: style, logs: opts.Logs, client: defaultClient(client)}, nil
}

func (h *Heartbeat) Name() string { return h.name }

// Style returns the protocol the heartbeat speaks.
func (h *Heartbeat) Style() HeartbeatStyle { return h.style }

// Accepts says which run events the style signals; none signals the
// watchdog's target events, since the service's own timer already alarms.
func (h *Heartbeat) Accepts(kind Kind) bool {
	switch kind {
	case KindRunSucceeded:
		return true
	case KindRunStarted, KindRunFailed, KindRunCanceled:
		return h.style == StyleHealthchecks || h.style == StyleCronitor
	}
	return false
}

// Send signals ev in the heartbeat's style, and does nothing for an event
// the style does not signal. A canceled run counts as failed: it left no
// verified backup.
func (h *Heartbeat) Send(ctx context.Context, ev Event) error {
	if !h.Accepts(ev.Kind) {
		return nil
	}
	switch h.style {
	case StyleHealthchecks:
		return h.healthchecks(ctx, ev)
	case StyleCronitor:
		return h.cronitor(ctx, ev)
	case StyleDeadMansSnitch:
		return h.get(ctx, withQuery(h.parsed, "m", shortMessage(ev)))
	}
	return h.Ping(ctx)
}

// Ping checks in with a GET of the configured URL, which every dead man's
// switch service accepts.
func (h *Heartbeat) Ping(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.url, nil)
	if err != nil {
		return fmt.Errorf("notify %s: %w", h.name, redactURLError(err))
	}
	req.Header.Set("User-Agent", userAgent)
	return do(h.client, req, h.name)
}

func (h *Heartbeat) get(ctx context.Context, u *url.URL) error {
	return h.request(ctx, http.MethodGet, u, nil)
}

func (h *Heartbeat) request(ctx context.Context, method string, u *url.URL, body io.Reader) error {
	req, err := http.NewRequestWithContext(ctx, method, u.String(), body)
	if err != nil {
		return fmt.Errorf("notify %s: %w", h.name, redactURLError(err))
	}
	req.Header.Set("User-Agent", userAgent)
	if body != nil {
		req.Header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	return do(h.client, req, h.name)
}

// healthchecks POSTs to <url>/start, <url>/fail or <url>, with rid so the
// service pairs a start with its end and measures the run.
func (h *Heartbeat) healthchecks(ctx context.Context, ev Event) error {
	u := h.parsed
	switch ev.Kind {
	case KindRunStarted:
		u = u.JoinPath("start")
	case KindRunFailed, KindRunCanceled:
		u = u.JoinPath("fail")
	}
	u = withQuery(u, "rid", RunUUID(ev.Run.Target, ev.Run.ID))
	return h.request(ctx, http.MethodPost, u, strings.NewReader(h.healthchecksBody(ctx, ev)))
}

// healthchecksBody is the run's summary followed by the last lines of its
// log, at most heartbeatMaxBody bytes and scrubbed of credentials.
func (h *Heartbeat) healthchecksBody(ctx context.Context, ev Event) string {
	var summary string
	if ev.Kind == KindRunStarted {
		summary = fmt.Sprintf("run %d of %s started (trigger %s)", ev.Run.ID, ev.Run.Target, ev.Run.Trigger)
		if ev.RunURL != "" {
			summary += "\n" + ev.RunURL
		}
	} else {
		summary = runText(ev, plainText)
	}
	summary = truncate(scrubSecrets(summary), heartbeatMaxBody/2)
	if h.logs == nil || ev.Kind == KindRunStarted {
		return summary
	}
	lines, err := h.logs(ctx, ev.Run.ID, heartbeatLogLines)
	if err != nil || len(lines) == 0 {
		return summary // the ping matters more than its log
	}
	const header = "\n\nlast log lines:"
	budget := heartbeatMaxBody - len(summary) - len(header)
	var kept []string
	for i := len(lines) - 1; i >= 0; i-- {
		l := lines[i]
		text := fmt.Sprintf("%s %s %s: %s", l.Time.UTC().Format(time.RFC3339), l.Stage, l.Level,
			truncate(strings.ReplaceAll(l.Message, "\n", " "), heartbeatMaxLine))
		text = scrubSecrets(text)
		if budget-len(text)-1 < 0 {
			break
		}
		budget -= len(text) + 1
		kept = append(kept, text)
	}
	if len(kept) == 0 {
		return summary
	}
	var b strings.Builder
	b.WriteString(summary)
	b.WriteString(header)
	for i := len(kept) - 1; i >= 0; i-- {
		b.WriteString("\n")
		b.WriteString(kept[i])
	}
	return b.String()
}

// cronitor GETs ?state=run|complete|fail, one series per run so Cronitor
// pairs the events and measures the run.
func (h *Heartbeat) cronitor(ctx context.Context, ev Event) error {
	state := "fail"
	switch ev.Kind {
	case KindRunStarted:
		state = "run"
	case KindRunSucceeded:
		state = "complete"
	}
	q := h.parsed.Query()
	q.Set("state", state)
	q.Set("series", RunUUID(ev.Run.Target, ev.Run.ID))
	if ev.Kind != KindRunStarted {
		q.Set("message", shortMessage(ev))
	}
	u := *h.parsed
	u.RawQuery = q.Encode()
	return h.get(ctx, &u)
}

// withQuery returns a copy of u with key set to value in its query.
func withQuery(u *url.URL, key, value string) *url.URL {
	c := *u
	q := c.Query()
	q.Set(key, value)
	c.RawQuery = q.Encode()
	return &c
}

// shortMessage is one line for a service's message field, e.g.
// "run 42 of app verified in 3m2s · 1.5 GiB stored" or
// "run 42 of app failed: verify: 1 of 2 checks failed".
func shortMessage(ev Event) string {
	var b strings.Builder
	fmt.Fprintf(&b, "run %d of %s ", ev.Run.ID, ev.Run.Target)
	switch ev.Kind {
	case KindRunSucceeded:
		b.WriteString("verified")
		if d := ev.duration(); d > 0 {
			fmt.Fprintf(&b, " in %s", roundDuration(d))
		}
		if a := ev.Run.Artifact; a != nil && a.StoredBytes > 0 {
			fmt.Fprintf(&b, " · %s stored", humanBytes(a.StoredBytes))
		}
	case KindRunCanceled:
		b.WriteString("was canceled")
	default:
		b.WriteString("failed")
		if st, ok := ev.Run.FailedStage(); ok {
			fmt.Fprintf(&b, ": %s", st.Name)
			if st.Error != "" {
				fmt.Fprintf(&b, ": %s", st.Error)
			}
		} else if ev.Run.Error != "" {
			fmt.Fprintf(&b, ": %s", ev.Run.Error)
		}
	}
	return truncate(strings.Join(strings.Fields(scrubSecrets(b.String())), " "), heartbeatMaxMessage)
}

func plainText(s string) string { return s }

// Credentials that must never leave in a heartbeat body or message, even
// if a tool printed them: a URL's password, and key=value secrets of
// connection strings.
var (
	urlPassword = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://[^\s:/@]*):[^\s@/]*@`)
	keyedSecret = regexp.MustCompile(`(?i)\b(password|passwd|pwd|secret|token|access_key|secret_access_key)=("[^"]*"|'[^']*'|\S+)`)
)

func scrubSecrets(s string) string {
	s = urlPassword.ReplaceAllString(s, "${1}:…@")
	return keyedSecret.ReplaceAllString(s, "${1}=…")
}

// runUUIDNamespace is lifeboat's namespace for name-based (version 5)
// UUIDs; any fixed value would do, this one must just never change.
var runUUIDNamespace = [16]byte{0x6c, 0x69, 0x66, 0x65, 0x62, 0x6f, 0x61, 0x74, 0x8e, 0x2d, 0x4b, 0x1f, 0x9a, 0x57, 0x30, 0xc1}

// RunUUID derives a stable UUID (version 5, RFC 9562) from a target and a
// run id: healthchecks.io requires rid to be a UUID, and the start and end
// signals of one run, sent from different stages and processes, must agree.
func RunUUID(target string, runID int64) string {
	h := sha1.New()
	h.Write(runUUIDNamespace[:])
	h.Write([]byte("lifeboat/run/" + target + "/" + strconv.FormatInt(runID, 10)))
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = (u[6] & 0x0f) | 0x50 // version 5
	u[8] = (u[8] & 0x3f) | 0x80 // RFC 4122 variant
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
