package pipeline

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/notify"
	"github.com/lifeboat-dev/lifeboat/internal/pgtool"
)

// ReportInput is what the report stage needs.
type ReportInput struct {
	Run     lifeboat.Run
	RunURL  string
	Senders []notify.Sender
	// ScratchURL is the run's scratch database on a restore server (server
	// mode), dropped here; "" in sandbox mode, where the sandbox is gone.
	ScratchURL string
	Log        *slog.Logger
}

// ReportMetrics are the report stage's figures.
type ReportMetrics struct {
	Event         string   `json:"event"`
	ScratchDrop   bool     `json:"scratch_dropped"`
	Delivered     []string `json:"delivered"`
	FailedSenders []string `json:"failed"`
	// Errors says why each failed sender failed (notify's errors never
	// carry the URL or a secret), for the run and target pages.
	Errors map[string]string `json:"errors,omitempty"`
	// NotSent lists notifiers that take no such event (a plain heartbeat on
	// a failed run: its silence is the alarm).
	NotSent []string `json:"not_sent"`
	// Queued lists webhook notifiers: their event is a delivery of its own,
	// queued with the report's result and retried by its own job.
	Queued []string `json:"queued,omitempty"`
}

// Report drops the scratch database and tells every notifier. A notifier
// failing never changes the run's outcome; it is logged. Heartbeat senders
// ping only for run.succeeded (every stage passed).
func Report(ctx context.Context, in ReportInput) ReportMetrics {
	log := in.Log
	m := ReportMetrics{Delivered: []string{}, FailedSenders: []string{}, NotSent: []string{}}
	if in.ScratchURL != "" {
		scratch := databaseName(in.ScratchURL)
		server, err := pgtool.WithDatabase(in.ScratchURL, "postgres")
		if err == nil {
			err = pgtool.DropDatabase(ctx, server, scratch)
		}
		if err != nil {
			log.Error("could not drop scratch database " + scratch + ": " + err.Error())
		} else {
			m.ScratchDrop = true
			log.Info("dropped scratch database " + scratch + " (if it existed)")
		}
	} else {
		m.ScratchDrop = true
	}
	ev := notify.NewEvent(in.Run, in.RunURL, time.Now())
	m.Event = string(ev.Kind)
	for _, s := range in.Senders {
		if !notify.Accepts(s, ev.Kind) {
			m.NotSent = append(m.NotSent, s.Name())
			continue
		}
		sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		err := s.Send(sctx, ev)
		cancel()
		if err != nil {
			m.FailedSenders = append(m.FailedSenders, s.Name())
			if m.Errors == nil {
				m.Errors = map[string]string{}
			}
			m.Errors[s.Name()] = err.Error()
			log.Warn(fmt.Sprintf("notifier %s failed: %v", s.Name(), err))
			continue
		}
		m.Delivered = append(m.Delivered, s.Name())
	}
	if len(in.Senders) > 0 {
		log.Info(fmt.Sprintf("reported %s to %d notifier(s), %d failed", ev.Kind, len(m.Delivered), len(m.FailedSenders)))
	}
	return m
}
