package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/lifeboat-dev/lifeboat"
)

// logAppender persists one log line of a run.
type logAppender interface {
	LogAppend(ctx context.Context, runID int64, stage lifeboat.StageName, ts time.Time, level, message string) error
}

// runLogHandler writes every record to run_logs, so the dashboard shows
// exactly what happened, and forwards it to the process log.
type runLogHandler struct {
	runID int64
	stage lifeboat.StageName
	dst   logAppender
	next  slog.Handler
	attrs []slog.Attr
}

func newRunLogger(dst logAppender, next slog.Handler, runID int64, stage lifeboat.StageName) *slog.Logger {
	h := &runLogHandler{runID: runID, stage: stage, dst: dst,
		next: next.WithAttrs([]slog.Attr{slog.Int64("run_id", runID), slog.String("stage", string(stage))})}
	return slog.New(h)
}

func (h *runLogHandler) Enabled(ctx context.Context, l slog.Level) bool { return l >= slog.LevelInfo }

func (h *runLogHandler) Handle(ctx context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	add := func(a slog.Attr) bool {
		if a.Key == "progress_bytes" { // machine-readable progress, already in the message
			return true
		}
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	}
	for _, a := range h.attrs {
		add(a)
	}
	r.Attrs(add)
	// A log line must land even when the stage's context was just canceled.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := h.dst.LogAppend(wctx, h.runID, h.stage, r.Time, strings.ToLower(r.Level.String()), b.String())
	if h.next.Enabled(ctx, r.Level) {
		_ = h.next.Handle(ctx, r)
	}
	return err
}

func (h *runLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(append([]slog.Attr{}, h.attrs...), as...)
	c.next = h.next.WithAttrs(as)
	return &c
}

func (h *runLogHandler) WithGroup(name string) slog.Handler {
	c := *h
	c.next = h.next.WithGroup(name)
	return &c
}
