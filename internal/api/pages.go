package api

import (
	"net/http"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// pageRoutes mounts the dashboard's pages; the caller has required a
// session.
func (s *Server) pageRoutes(r chi.Router) {
	r.Get("/", s.handleHome)
}

func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	names := make([]string, len(s.Targets))
	for i, t := range s.Targets {
		names[i] = t.Name
	}
	latest, err := s.Reader.RunLatestByTarget(r.Context(), names)
	if err != nil {
		s.problem(w, r, err)
		return
	}
	v := views.HomeView{Now: time.Now(), Targets: make([]views.HomeTarget, len(s.Targets))}
	for i, t := range s.Targets {
		if run, ok := latest[t.Name]; ok {
			t.LastRun = &run
		}
		v.Targets[i] = t
	}
	// templ.Handler renders to a buffer first: a render error is a 500, never half a page.
	templ.Handler(views.Home(v)).ServeHTTP(w, r)
}
