package api

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// PageReader reads what only the dashboard shows (store.Store).
type PageReader interface {
	// RunHistory is each target's newest runs, newest first, at most
	// perTarget each, with the restore and failed stages only.
	RunHistory(ctx context.Context, targets []string, perTarget int) (map[string][]lifeboat.Run, error)
	// LogTail is a run's last n log lines, oldest first.
	LogTail(ctx context.Context, runID int64, n int) ([]lifeboat.LogLine, error)
	RunStatuses(ctx context.Context, ids []int64) (map[int64]lifeboat.RunStatus, error)
	// DeliveriesLatest is each webhook notifier's newest delivery about
	// any of runIDs.
	DeliveriesLatest(ctx context.Context, runIDs []int64) ([]lifeboat.Delivery, error)
	// RestoreList is restores newest first, of target ("": all), before
	// beforeID (0: from the newest), and whether more follow.
	RestoreList(ctx context.Context, target string, beforeID int64, limit int) ([]lifeboat.Restore, bool, error)
}

// DashboardConfig is the configuration as the pages show it, beside what
// TargetSource and CatalogAdmin give. Secrets are masked before they reach
// this package (views.Redacted has no constructor but the redactors), so
// no page can render one (app.Dashboard).
type DashboardConfig interface {
	// TargetDatabaseURL is ENOTFOUND for a target that is not configured.
	TargetDatabaseURL(ctx context.Context, target string) (views.Redacted, error)
	Storages(ctx context.Context) ([]views.StorageRow, error)
	Notifiers(ctx context.Context) ([]views.NotifierRow, error)
	// AgeIdentityFile is the configured age identity's path ("": none),
	// shown in the commands that restore a backup by hand.
	AgeIdentityFile(ctx context.Context) string
	// RestoreSetup says where runs restore: a sandbox, or a restore server.
	RestoreSetup(ctx context.Context) views.RestoreSetup
}

// pageRoutes mounts the dashboard's pages and their actions (views/paths.go
// lists them); the caller has required a session. Every action is a POST
// (CrossOriginProtection refuses other sites') that redirects back with a
// flash.
func (s *Server) pageRoutes(r chi.Router) {
	r.Get(views.OverviewURL, s.handleOverview)
	r.Get(views.RunsURL, s.handleRuns)
	r.Get("/runs/{id}", s.handleRun)
	r.Post("/runs/{id}/cancel", s.handleCancel)
	r.Post("/runs/{id}/retry", s.handleRetry)
	r.Get("/targets/{name}", s.handleTarget)
	r.Post("/targets/{name}/runs", s.handleRunNow)
	r.Post("/targets/{name}/pause", s.handlePause(true))
	r.Post("/targets/{name}/resume", s.handlePause(false))
	r.Post("/backups/{id}/download", s.handleDownload)
	r.Get("/backups/{id}/restore", s.handleRestoreForm)
	r.Post("/backups/{id}/restore", s.handleRestoreCreate)
	r.Get(views.RestoresURL, s.handleRestores)
	r.Get("/restores/{id}", s.handleRestore)
	r.Post("/runs/{id}/baseline", s.handleAcceptBaseline)
	r.Get(views.EvidenceAllURL, s.handleEvidence)
	r.Get(views.EvidenceAllURL+".json", s.handleEvidenceJSON)
	r.Get("/targets/{name}/evidence", s.handleEvidence)
	r.Get("/targets/{name}/evidence.json", s.handleEvidenceJSON)
	r.Get(views.SettingsURL, s.handleSettings)
	r.Post("/settings/storages/{name}/test", s.handleTest(testStorage))
	r.Post("/settings/notifiers/{name}/test", s.handleTest(testNotifier))
	r.Post(views.TokensURL, s.handleTokenCreate)
	r.Post("/settings/tokens/{id}/revoke", s.handleTokenRevoke)
	s.riverUIRoutes(r)
}

// page is the frame of a signed-in page, with the flashes the last action
// left (read once: the cookie is cleared by this response).
func (s *Server) page(w http.ResponseWriter, r *http.Request) views.Page {
	return views.Page{SignedIn: true, Now: time.Now(), Flashes: s.takeFlashes(w, r), RiverUI: s.RiverUI != nil}
}

// render writes c with status; templ.Handler renders to a buffer first, so
// a render error is a 500, never half a page.
func render(w http.ResponseWriter, r *http.Request, status int, c templ.Component) {
	w.Header().Set("Cache-Control", "no-store")
	templ.Handler(c, templ.WithStatus(status)).ServeHTTP(w, r)
}

// pageError renders err as views.ErrorPage with the status its code maps
// to. Only an *lifeboat.Error's own message is shown (it is written for
// users); a cause it wraps and any other error are logged, never shown.
func (s *Server) pageError(w http.ResponseWriter, r *http.Request, err error) {
	code := lifeboat.ErrorCode(err)
	status := statusOf(code)
	v := views.ErrorView{Page: s.page(w, r), Status: status}
	var e *lifeboat.Error
	if errors.As(err, &e) && status != http.StatusInternalServerError {
		v.Title, v.Detail = http.StatusText(status), e.Message
		if code == lifeboat.ENOTFOUND {
			v.Title = "Not found"
		}
	} else {
		s.Logger.Error("page failed", "method", r.Method, "path", r.URL.Path, "err", err,
			"request_id", middleware.GetReqID(r.Context()))
		v.Title, v.Detail = "Something went wrong", "The page could not be shown; lifeboat's log has the details."
	}
	render(w, r, status, views.ErrorPage(v))
}

// userMessage is what a flash says about a failed action: the message of
// an *lifeboat.Error written for users, or a pointer to the log.
func (s *Server) userMessage(r *http.Request, err error) string {
	var e *lifeboat.Error
	if errors.As(err, &e) && statusOf(e.Code) != http.StatusInternalServerError && e.Message != "" {
		return e.Message
	}
	s.Logger.Error("action failed", "method", r.Method, "path", r.URL.Path, "err", err,
		"request_id", middleware.GetReqID(r.Context()))
	return "That did not work; lifeboat's log has the details."
}

// Flashes travel in a short-lived cookie from the action that redirects to
// the page that shows them: not in the URL, where a link could forge one
// and a reload or a shared link would repeat it. The page that reads them
// clears the cookie.
const (
	flashCookie = "lifeboat_flash"
	flashMaxAge = 60 // seconds: only the redirect that follows needs it
	flashMax    = 4  // flashes kept; more is a bug
	flashMaxLen = 300
)

type flashJSON struct {
	K views.FlashKind `json:"k"`
	M string          `json:"m"`
}

// flash queues a message for the next page this browser shows.
func (s *Server) flash(w http.ResponseWriter, r *http.Request, kind views.FlashKind, msg string) {
	fs := readFlashes(r)
	if len(msg) > flashMaxLen {
		msg = msg[:flashMaxLen] + "…"
	}
	fs = append(fs, views.Flash{Kind: kind, Message: msg})
	if len(fs) > flashMax {
		fs = fs[len(fs)-flashMax:]
	}
	out := make([]flashJSON, len(fs))
	for i, f := range fs {
		out[i] = flashJSON{f.Kind, f.Message}
	}
	b, _ := json.Marshal(out)
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: base64.RawURLEncoding.EncodeToString(b), Path: "/",
		MaxAge: flashMaxAge, HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r)})
}

// takeFlashes returns the queued flashes and clears them.
func (s *Server) takeFlashes(w http.ResponseWriter, r *http.Request) []views.Flash {
	fs := readFlashes(r)
	if _, err := r.Cookie(flashCookie); err == nil {
		http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: "", Path: "/", MaxAge: -1,
			HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r)})
	}
	return fs
}

func readFlashes(r *http.Request) []views.Flash {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c.Value)
	var in []flashJSON
	if err != nil || json.Unmarshal(b, &in) != nil {
		return nil
	}
	var out []views.Flash
	for _, f := range in {
		switch f.K {
		case views.FlashOK, views.FlashError, views.FlashInfo:
			out = append(out, views.Flash{Kind: f.K, Message: f.M})
		}
		if len(out) == flashMax {
			break
		}
	}
	return out
}

// redirectBack ends an action: a flash, then 303 to the page the form was
// on (its Referer, when it is this site's) or fallback.
func (s *Server) redirectBack(w http.ResponseWriter, r *http.Request, fallback string, kind views.FlashKind, msg string) {
	s.flash(w, r, kind, msg)
	http.Redirect(w, r, backURL(r, fallback), http.StatusSeeOther)
}

// backURL is the local path of the request's Referer when it points at
// this host, else fallback.
func backURL(r *http.Request, fallback string) string {
	u, err := url.Parse(r.Referer())
	if err != nil || u.Host != r.Host || (u.Scheme != "http" && u.Scheme != "https") {
		return fallback
	}
	if p := localPath(u.RequestURI()); p != "" {
		return p
	}
	return fallback
}

// pathID reads a positive integer path parameter.
func pathID(r *http.Request, what string) (int64, error) {
	raw := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || id <= 0 {
		return 0, &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: "No " + what + " " + strconv.Quote(raw) + "."}
	}
	return id, nil
}

// notFound answers a path no route serves: problem+json under /api/, where
// clients read JSON, and the HTML error page anywhere else, as a page that
// does not exist is usually a browser's (a mistyped or stale link).
func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	err := &lifeboat.Error{Code: lifeboat.ENOTFOUND, Message: "no such route: " + r.URL.Path}
	if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
		s.problem(w, r, err)
		return
	}
	_, signedIn := s.sessionToken(r)
	p := views.Page{SignedIn: signedIn, Now: time.Now(), RiverUI: signedIn && s.RiverUI != nil}
	render(w, r, http.StatusNotFound, views.ErrorPage(views.ErrorView{Page: p, Status: http.StatusNotFound,
		Title: "Not found", Detail: "No page at " + r.URL.Path + "."}))
}
