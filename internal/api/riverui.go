package api

import (
	"bytes"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
)

// RiverUIPrefix is where River's own UI is served, behind the dashboard's
// session, for operators who want to see the queue itself; the dashboard's
// navigation links to it, and a fixed "← lifeboat" link added to its page
// leads back.
const RiverUIPrefix = "/riverui"

// NewRiverUI builds River's UI over client, served under RiverUIPrefix.
// Job arguments are hidden until asked for. The handler's background
// services run from Start(ctx) until ctx ends; set it as Server.RiverUI.
func NewRiverUI(client *river.Client[pgx.Tx], log *slog.Logger) (*riverui.Handler, error) {
	return riverui.NewHandler(&riverui.HandlerOpts{
		Endpoints:                riverui.NewEndpoints(client, nil),
		JobListHideArgsByDefault: true,
		Logger:                   log.With("component", "riverui"),
		Prefix:                   RiverUIPrefix,
	})
}

// riverUIRoutes mounts River's UI (its pages and the JSON API they call)
// when this process has one; the caller has required a session.
func (s *Server) riverUIRoutes(r chi.Router) {
	if s.RiverUI == nil {
		return
	}
	h := wayBack{s.RiverUI}
	r.Handle(RiverUIPrefix, h)
	r.Handle(RiverUIPrefix+"/*", h)
}

// wayBackLink is added to River's UI page: a link home, fixed in a corner,
// outside the element River's React app renders into (which would replace
// it). River's UI has no setting for one; its own style sheet is Tailwind's,
// so the link styles itself.
const wayBackLink = `<a href="/" data-testid="riverui-back" title="Back to lifeboat's dashboard" ` +
	`style="position:fixed;left:12px;bottom:12px;z-index:2147483647;padding:6px 12px;border-radius:6px;` +
	`background:#0b57d0;color:#fff;font:600 14px/1.4 system-ui,sans-serif;text-decoration:none;` +
	`box-shadow:0 1px 4px rgba(0,0,0,.3)">← lifeboat</a>`

// wayBack serves River's UI, adding wayBackLink to its HTML page (every
// other response, its JSON API and assets, passes through untouched).
type wayBack struct{ next http.Handler }

func (h wayBack) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c := &htmlCapture{ResponseWriter: w}
	h.next.ServeHTTP(c, r)
	if !c.capturing {
		return
	}
	body := c.buf.Bytes()
	if i := bytes.LastIndex(body, []byte("</body>")); i >= 0 {
		body = append(body[:i:i], append([]byte(wayBackLink), body[i:]...)...)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(c.status)
	_, _ = w.Write(body)
}

// htmlCapture holds back a whole 200 text/html response so a link can be
// added to it; anything else is written through as it comes.
type htmlCapture struct {
	http.ResponseWriter
	capturing, decided bool
	status             int
	buf                bytes.Buffer
}

func (c *htmlCapture) WriteHeader(status int) {
	if c.decided {
		return
	}
	c.decided = true
	if status == http.StatusOK && strings.HasPrefix(c.Header().Get("Content-Type"), "text/html") &&
		c.Header().Get("Content-Encoding") == "" {
		c.capturing, c.status = true, status
		c.Header().Del("Content-Length")
		return
	}
	c.ResponseWriter.WriteHeader(status)
}

func (c *htmlCapture) Write(b []byte) (int, error) {
	if !c.decided {
		c.WriteHeader(http.StatusOK)
	}
	if c.capturing {
		return c.buf.Write(b)
	}
	return c.ResponseWriter.Write(b)
}

// Flush lets streamed responses through (River's UI sends none today).
func (c *htmlCapture) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok && !c.capturing {
		f.Flush()
	}
}
