package api

import (
	"log/slog"

	"github.com/go-chi/chi/v5"
	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"riverqueue.com/riverui"
)

// RiverUIPrefix is where River's own UI is served, behind the dashboard's
// session, for operators who want to see the queue itself.
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
	r.Handle(RiverUIPrefix, s.RiverUI)
	r.Handle(RiverUIPrefix+"/*", s.RiverUI)
}
