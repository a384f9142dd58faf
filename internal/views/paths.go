package views

import (
	"net/url"
	"strconv"
)

// The dashboard's URLs, on one screen. Pages link and post to these; the
// router serves them (GET pages; POST actions redirect back, see Flash).
//
//	GET  /                               OverviewPage
//	GET  /runs?target=&status=&trigger=&since=&until=&cursor=
//	                                     RunsPage
//	GET  /runs/{id}                      RunPage
//	POST /runs/{id}/cancel               cancel an active run
//	POST /runs/{id}/retry                a new run from the failed stage
//	GET  /targets/{name}                 TargetPage
//	POST /targets/{name}/runs            "Run now"
//	POST /targets/{name}/pause|resume
//	POST /backups/{run id}/download      redirect to a short-lived URL
//	GET  /backups/{run id}/restore       RestoreFormPage ("Restore…")
//	POST /backups/{run id}/restore       queue it (database_url=, password=, clean=, confirm=)
//	GET  /restores?cursor=               RestoresPage
//	GET  /restores/{id}                  RestorePage (app.js refreshes it while it runs)
//	GET  /riverui/…                      River's UI (a "← lifeboat" link leads back)
//	GET  /settings                       SettingsPage
//	POST /settings/storages/{name}/test
//	POST /settings/notifiers/{name}/test
//	POST /settings/tokens                create (name=)
//	POST /settings/tokens/{id}/revoke
//	GET  /login, POST /login (secret=, next=), POST /logout
//	GET  /static/…                       StaticHandler
//	GET  /api/v1/runs/{id}/logs          live tail (EventSource, session cookie)
const (
	OverviewURL = "/"
	RunsURL     = "/runs"
	SettingsURL = "/settings"
	LoginURL    = "/login"
	LogoutURL   = "/logout"
	TokensURL   = "/settings/tokens"
	// RiverUIURL is River's own UI (the job queue), mounted by the api.
	RiverUIURL = "/riverui/"
)

func esc(s string) string { return url.PathEscape(s) }

func idStr(n int64) string { return strconv.FormatInt(n, 10) }

// RunURL is a run's page.
func RunURL(runID int64) string { return "/runs/" + idStr(runID) }

// RunCancelURL cancels an active run (POST).
func RunCancelURL(runID int64) string { return RunURL(runID) + "/cancel" }

// RunRetryURL starts a new run from a failed one's failed stage (POST).
func RunRetryURL(runID int64) string { return RunURL(runID) + "/retry" }

// RunLogStreamURL is the API's live log tail that app.js follows.
func RunLogStreamURL(runID int64) string { return "/api/v1/runs/" + idStr(runID) + "/logs" }

// TargetURL is a target's page.
func TargetURL(name string) string { return "/targets/" + esc(name) }

// RunNowURL starts a run of the target (POST).
func RunNowURL(target string) string { return TargetURL(target) + "/runs" }

// PauseURL pauses (paused true) or resumes a target's schedule (POST).
func PauseURL(target string, paused bool) string {
	if paused {
		return TargetURL(target) + "/pause"
	}
	return TargetURL(target) + "/resume"
}

// BackupDownloadURL asks for a download link to a run's artifact (POST:
// it mints a presigned URL, which is a state change worth protecting).
func BackupDownloadURL(runID int64) string { return "/backups/" + idStr(runID) + "/download" }

// StorageTestURL checks a storage's reachability (POST).
func StorageTestURL(name string) string { return "/settings/storages/" + esc(name) + "/test" }

// NotifierTestURL sends a notifier's test message (POST).
func NotifierTestURL(name string) string { return "/settings/notifiers/" + esc(name) + "/test" }

// TokenRevokeURL revokes an API token (POST).
func TokenRevokeURL(tokenID int64) string { return TokensURL + "/" + idStr(tokenID) + "/revoke" }
