package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// SessionService opens and checks dashboard sessions (auth.Sessions).
type SessionService interface {
	// Login opens a session for an API token or the admin password.
	Login(ctx context.Context, secret string) (cookie string, expires time.Time, err error)
	PasswordEnabled() bool
	Check(ctx context.Context, cookie string) (lifeboat.Token, error)
	Logout(ctx context.Context, cookie string) error
}

// sessionCookie holds the dashboard session. HttpOnly: no script reads it;
// SameSite=Lax: sent when a link from a chat message opens a run page, never
// with a cross-site POST (and CrossOriginProtection refuses those anyway).
const sessionCookie = "lifeboat_session"

func (s *Server) sessionRoutes(r chi.Router) {
	r.Get(views.LoginURL, s.handleLoginPage)
	r.Post(views.LoginURL, s.handleLogin)
	r.Post(views.LogoutURL, s.handleLogout)
	r.Handle("/static/*", views.StaticHandler())
}

func (s *Server) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	s.renderLogin(w, r, http.StatusOK, localPath(r.URL.Query().Get("next")), "")
}

func (s *Server) renderLogin(w http.ResponseWriter, r *http.Request, status int, next, msg string) {
	v := views.LoginView{Page: views.Page{Title: "Sign in", Now: time.Now()}, Next: next, Error: msg,
		PasswordEnabled: s.Sessions != nil && s.Sessions.PasswordEnabled()}
	templ.Handler(views.LoginPage(v), templ.WithStatus(status)).ServeHTTP(w, r)
}

// handleLogin opens a session for a valid token and goes where the user was
// going. Failures count toward the same per-address limit as the API's.
func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	next := localPath(r.PostFormValue("next"))
	addr := clientAddr(r)
	if wait := s.authFailures().blocked(addr); wait > 0 {
		s.renderLogin(w, r, http.StatusTooManyRequests, next,
			"Too many failed attempts from this address; try again in "+wait.Round(time.Second).String()+".")
		return
	}
	if s.Sessions == nil {
		s.renderLogin(w, r, http.StatusServiceUnavailable, next, "This process does not serve the dashboard.")
		return
	}
	cookie, expires, err := s.Sessions.Login(r.Context(), strings.TrimSpace(r.PostFormValue("secret")))
	if lifeboat.ErrorCode(err) == lifeboat.EUNAUTHORIZED {
		s.authFailures().fail(addr)
		s.renderLogin(w, r, http.StatusUnauthorized, next, "That token (or password) is not valid; a token may have been revoked.")
		return
	}
	if err != nil {
		s.Logger.Error("login failed", "err", err)
		s.renderLogin(w, r, http.StatusInternalServerError, next, "Signing in failed; see lifeboat's log.")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: cookie, Path: "/", Expires: expires,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r)})
	if next == "" {
		next = views.OverviewURL
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil && s.Sessions != nil {
		if err := s.Sessions.Logout(r.Context(), c.Value); err != nil {
			s.Logger.Warn("logout", "err", err)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: s.secureCookies(r)})
	http.Redirect(w, r, views.LoginURL, http.StatusSeeOther)
}

// secureCookies: over TLS, or when lifeboat is published at an https URL
// (behind a proxy that terminates TLS), the cookie never travels in clear.
func (s *Server) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(s.BaseURL, "https://")
}

// sessionToken returns the token of the request's session cookie.
func (s *Server) sessionToken(r *http.Request) (lifeboat.Token, bool) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || s.Sessions == nil {
		return lifeboat.Token{}, false
	}
	tok, err := s.Sessions.Check(r.Context(), c.Value)
	if err != nil {
		if lifeboat.ErrorCode(err) != lifeboat.EUNAUTHORIZED {
			s.Logger.Error("session check", "err", err)
		}
		return lifeboat.Token{}, false
	}
	return tok, true
}

// requireSession lets signed-in browsers through; others go to the login
// page and come back after.
func (s *Server) requireSession(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := s.sessionToken(r)
		if !ok {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, views.LoginURL+"?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
				return
			}
			if isForm(r) {
				// A form sent after the session expired: sign in again and come
				// back to the page it was on (the action itself is not replayed).
				back := ""
				if ref, err := url.Parse(r.Referer()); err == nil && ref.Host == r.Host {
					back = localPath(ref.RequestURI())
				}
				http.Redirect(w, r, views.LoginURL+"?next="+url.QueryEscape(back), http.StatusSeeOther)
				return
			}
			s.problem(w, r, lifeboat.Errorf(lifeboat.EUNAUTHORIZED, "session: sign in first"))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)))
	})
}

// localPath keeps a redirect target on this site: a path, never "//host"
// or a URL.
func localPath(p string) string {
	if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	if u, err := url.Parse(p); err != nil || u.Host != "" || u.Scheme != "" {
		return ""
	}
	return p
}

// isForm reports whether r carries an HTML form.
func isForm(r *http.Request) bool {
	ct := r.Header.Get("Content-Type")
	return strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data")
}
