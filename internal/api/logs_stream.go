package api

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// RunWatcher wakes a live tail when its run writes log lines or changes
// status (store.Listener). Wakes carry no data and may be coalesced; the
// channel is closed when the process stops listening.
type RunWatcher interface {
	Subscribe(runID int64) (wake <-chan struct{}, unsubscribe func())
}

// LogFeed is what a live tail reads after each wake (store.Store).
type LogFeed interface {
	LogList(ctx context.Context, runID, after int64, limit int) ([]lifeboat.LogLine, error)
	// RunHead returns the run without its stages and checks.
	RunHead(ctx context.Context, id int64) (lifeboat.Run, error)
}

// defaultHeartbeat keeps proxies from closing an idle stream (nginx's
// proxy_read_timeout defaults to 60 s).
const defaultHeartbeat = 15 * time.Second

// streamPage is how many lines a tail reads per query.
const streamPage = 500

// acceptsEventStream reports whether the client asked for Server-Sent Events.
func acceptsEventStream(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if mt, _, err := mime.ParseMediaType(strings.TrimSpace(part)); err == nil && mt == "text/event-stream" {
			return true
		}
	}
	return false
}

// streamEnd is the data of the final event.
type streamEnd struct {
	RunID      int64              `json:"run_id"`
	Status     lifeboat.RunStatus `json:"status"`
	Error      string             `json:"error,omitempty"`
	FinishedAt *time.Time         `json:"finished_at,omitempty"`
}

// streamRunLogs is the live tail of GET /api/v1/runs/{id}/logs with
// Accept: text/event-stream: every line after the cursor, then each new line
// as it is committed (woken by Postgres notifications, never by a timer),
// then an "end" event with the run's final status. The cursor is ?after= or,
// when the client reconnects, Last-Event-ID (the later of the two). The
// caller has checked that the run exists.
func (s *Server) streamer(runID, after int64, lastEventID *int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if lastEventID != nil && *lastEventID < 0 {
			s.problem(w, r, lifeboat.Errorf(lifeboat.EINVALID, "Last-Event-ID: %d is not a log line id", *lastEventID))
			return
		}
		if lastEventID != nil {
			after = max(after, *lastEventID)
		}
		s.streamRunLogs(w, r, runID, after)
	}
}

func (s *Server) streamRunLogs(w http.ResponseWriter, r *http.Request, runID, after int64) {
	if s.Watcher == nil || s.Feed == nil {
		s.problem(w, r, fmt.Errorf("live log tail is not wired (Server.Watcher, Server.Feed)"))
		return
	}
	ctx := r.Context()
	// Subscribe before the first read: a line committed after that read
	// always wakes us.
	wake, unsubscribe := s.Watcher.Subscribe(runID)
	defer unsubscribe()

	rc := http.NewResponseController(w)
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: don't buffer the stream
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		s.Logger.Warn("live log tail: response cannot be flushed", "err", err)
		return
	}

	every := s.StreamHeartbeat
	if every <= 0 {
		every = defaultHeartbeat
	}
	heartbeat := time.NewTicker(every)
	defer heartbeat.Stop()

	for {
		// Status first, lines second: lines committed before the run
		// finished are all sent before its end.
		run, err := s.Feed.RunHead(ctx, runID)
		if err != nil {
			s.streamFailed(ctx, runID, err)
			return
		}
		if after, err = s.sendLines(ctx, w, runID, after); err != nil {
			s.streamFailed(ctx, runID, err)
			return
		}
		// finished_at, not the status alone: a canceled run is "canceled"
		// at once, and its report still writes lines before it finishes.
		if run.Status.Finished() && run.FinishedAt != nil {
			_ = writeEvent(w, "end", "", streamEnd{RunID: run.ID, Status: run.Status, Error: run.Error, FinishedAt: run.FinishedAt})
			_ = rc.Flush()
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
	wait:
		for {
			select {
			case <-ctx.Done():
				return
			case _, open := <-wake:
				if !open {
					// The process is shutting down: the client reconnects
					// (to another process) with Last-Event-ID.
					return
				}
				break wait
			case <-heartbeat.C:
				// A comment line: ignored by EventSource, keeps proxies open.
				if _, err := fmt.Fprint(w, ": heartbeat\n\n"); err != nil {
					return
				}
				if err := rc.Flush(); err != nil {
					return
				}
			}
		}
	}
}

// sendLines writes every line after the cursor and returns the new cursor.
func (s *Server) sendLines(ctx context.Context, w http.ResponseWriter, runID, after int64) (int64, error) {
	for {
		lines, err := s.Feed.LogList(ctx, runID, after, streamPage)
		if err != nil {
			return after, err
		}
		for _, l := range lines {
			if err := writeEvent(w, "log", strconv.FormatInt(l.ID, 10), l); err != nil {
				return after, err
			}
			after = l.ID
		}
		if len(lines) < streamPage {
			return after, nil
		}
	}
}

func (s *Server) streamFailed(ctx context.Context, runID int64, err error) {
	if ctx.Err() != nil {
		return // the client went away
	}
	// Headers are sent: the client sees the stream end and reconnects with
	// Last-Event-ID.
	s.Logger.Error("live log tail failed", "run_id", runID, "err", err)
}

// writeEvent writes one Server-Sent Event; data is JSON, on one line.
func writeEvent(w http.ResponseWriter, event, id string, data any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	var sb strings.Builder
	if id != "" {
		sb.WriteString("id: " + id + "\n")
	}
	sb.WriteString("event: " + event + "\ndata: ")
	sb.Write(b)
	sb.WriteString("\n\n")
	_, err = fmt.Fprint(w, sb.String())
	return err
}
