package api

import (
	"fmt"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// The dashboard's actions: each changes one thing through the same
// services the API uses, then redirects (303) with a flash saying what
// happened. A failure goes back where the form was, saying why.

// downloadTTL is how long a download link minted by the dashboard works:
// the browser follows it at once.
const downloadTTL = 5 * time.Minute

// handleRunNow starts a run of the target and goes to it. An active run is
// a conflict (as the API's default): the flash says which run.
func (s *Server) handleRunNow(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "name")
	run, _, err := s.Runs.RequestRun(r.Context(), lifeboat.RunRequest{Target: name, Trigger: lifeboat.TriggerDashboard})
	if err != nil {
		s.redirectBack(w, r, views.TargetURL(name), views.FlashError, "Run now: "+s.userMessage(r, err))
		return
	}
	s.flash(w, r, views.FlashOK, fmt.Sprintf("Run #%d of %s started.", run.ID, name))
	http.Redirect(w, r, views.RunURL(run.ID), http.StatusSeeOther)
}

// handleCancel cancels an active run and shows it.
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "run")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if _, err := s.Runs.CancelRun(r.Context(), id); err != nil {
		s.redirectBack(w, r, views.RunURL(id), views.FlashError, "Cancel: "+s.userMessage(r, err))
		return
	}
	s.flash(w, r, views.FlashOK, fmt.Sprintf("Run #%d canceled; its report will clean up.", id))
	http.Redirect(w, r, views.RunURL(id), http.StatusSeeOther)
}

// handleRetry starts a run from a failed run's failed stage and goes to it.
func (s *Server) handleRetry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "run")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if s.Retrier == nil {
		err = lifeboat.Errorf(lifeboat.EINTERNAL, "retry is not wired in this process")
	} else {
		var run lifeboat.Run
		if run, err = s.Retrier.RetryRun(r.Context(), id); err == nil {
			s.flash(w, r, views.FlashOK, fmt.Sprintf("Run #%d retries run #%d.", run.ID, id))
			http.Redirect(w, r, views.RunURL(run.ID), http.StatusSeeOther)
			return
		}
	}
	s.redirectBack(w, r, views.RunURL(id), views.FlashError, "Retry: "+s.userMessage(r, err))
}

// handlePause pauses (or resumes) a target's schedule.
func (s *Server) handlePause(paused bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "name")
		if err := s.Sched.Pause(r.Context(), name, paused); err != nil {
			action := map[bool]string{true: "Pause", false: "Resume"}[paused]
			s.redirectBack(w, r, views.TargetURL(name), views.FlashError, action+": "+s.userMessage(r, err))
			return
		}
		msg := "Schedule of " + name + " paused: no run starts on schedule until it is resumed."
		if !paused {
			msg = "Schedule of " + name + " resumed."
		}
		s.redirectBack(w, r, views.TargetURL(name), views.FlashOK, msg)
	}
}

// handleDownload mints a short-lived link to a backup's stored object and
// sends the browser there (a presigned S3 URL, or this server's
// /downloads/{token}).
func (s *Server) handleDownload(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "backup")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	d, err := s.Backups.BackupDownload(r.Context(), id, downloadTTL)
	if err != nil {
		s.redirectBack(w, r, views.RunURL(id), views.FlashError, "Download: "+s.userMessage(r, err))
		return
	}
	http.Redirect(w, r, d.URL, http.StatusSeeOther)
}
