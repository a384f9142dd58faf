package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// testTimeout bounds one storage or notifier test.
const testTimeout = 30 * time.Second

// handleSettings shows storages and notifiers with their last test, and
// the API tokens.
func (s *Server) handleSettings(w http.ResponseWriter, r *http.Request) {
	v, err := s.settingsView(r.Context(), s.page(w, r))
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	render(w, r, http.StatusOK, views.SettingsPage(v))
}

func (s *Server) settingsView(ctx context.Context, p views.Page) (views.SettingsView, error) {
	v := views.SettingsView{Page: p}
	if s.Dashboard == nil {
		return v, lifeboat.Errorf(lifeboat.EINTERNAL, "the dashboard's configuration is not wired in this process")
	}
	var err error
	v.Restore = s.Dashboard.RestoreSetup(ctx)
	if v.Storages, err = s.Dashboard.Storages(ctx); err != nil {
		return v, err
	}
	if v.Notifiers, err = s.Dashboard.Notifiers(ctx); err != nil {
		return v, err
	}
	for i := range v.Storages {
		v.Storages[i].Test = s.testResults.get(testStorage, v.Storages[i].Name)
	}
	for i := range v.Notifiers {
		v.Notifiers[i].Test = s.testResults.get(testNotifier, v.Notifiers[i].Name)
	}
	if s.Evidence != nil {
		if k, err := s.Evidence.EvidenceKey(ctx); err != nil {
			s.Logger.Error("evidence signing key", "err", err)
			v.EvidenceKeyError = "The signing key could not be read: lifeboat's log says why."
		} else {
			v.EvidenceKey = &k
		}
	}
	if s.Tokens == nil {
		return v, nil
	}
	toks, err := s.Tokens.List(ctx)
	if err != nil {
		return v, err
	}
	for _, t := range toks {
		if t.RevokedAt == nil {
			v.Tokens = append(v.Tokens, views.TokenRow{ID: t.ID, Name: t.Name, Prefix: t.Hint,
				CreatedAt: t.CreatedAt, LastUsedAt: t.LastUsedAt})
		}
	}
	return v, nil
}

// handleTokenCreate creates a token and shows it once, in this response:
// not redirected, so the secret never travels in a URL or a cookie and
// is not kept in the browser's cache (no-store). A name the token service
// refuses is shown beside the form.
func (s *Server) handleTokenCreate(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	name := strings.TrimSpace(r.PostFormValue("name"))
	if s.Tokens == nil {
		s.redirectBack(w, r, views.SettingsURL, views.FlashError, "This process issues no tokens.")
		return
	}
	tok, secret, err := s.Tokens.Create(r.Context(), name)
	status := http.StatusOK
	var invalid *lifeboat.Error
	if err != nil && !(errors.As(err, &invalid) && invalid.Code == lifeboat.EINVALID) {
		s.redirectBack(w, r, views.SettingsURL, views.FlashError, "Create token: "+s.userMessage(r, err))
		return
	}
	v, verr := s.settingsView(r.Context(), s.page(w, r))
	if verr != nil {
		s.pageError(w, r, verr)
		return
	}
	if err != nil {
		status, v.TokenError, v.TokenName = http.StatusBadRequest, invalid.Message, name
	} else {
		v.CreatedToken = &views.CreatedToken{Name: tok.Name, Token: secret}
	}
	render(w, r, status, views.SettingsPage(v))
}

// handleTokenRevoke revokes a token, which ends its dashboard sessions too.
func (s *Server) handleTokenRevoke(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "token")
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	if s.Tokens == nil {
		s.redirectBack(w, r, views.SettingsURL, views.FlashError, "This process manages no tokens.")
		return
	}
	tok, err := s.Tokens.Revoke(r.Context(), id, "")
	if err != nil {
		s.redirectBack(w, r, views.SettingsURL, views.FlashError, "Revoke: "+s.userMessage(r, err))
		return
	}
	msg := fmt.Sprintf("Token %q revoked: it no longer works, and its dashboard sessions have ended.", tok.Name)
	if own, ok := TokenOf(r.Context()); ok && own.ID == id {
		msg += " That was this session's token: sign in with another."
	}
	s.redirectBack(w, r, views.SettingsURL, views.FlashOK, msg)
}

// testKind is what a "Test" button tests.
type testKind string

const (
	testStorage  testKind = "storage"
	testNotifier testKind = "notifier"
)

// handleTest runs a storage or notifier test (the catalog's, as the API's
// test operations) and keeps its result for the settings page, in this
// process: a test is a moment's evidence, not state worth a table.
func (s *Server) handleTest(kind testKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := chi.URLParam(r, "name")
		label := map[testKind]string{testStorage: "Storage", testNotifier: "Notifier"}[kind] + " " + name
		c, err := s.catalog()
		if err != nil {
			s.redirectBack(w, r, views.SettingsURL, views.FlashError, label+": "+s.userMessage(r, err))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), testTimeout)
		defer cancel()
		var res lifeboat.ProbeResult
		if kind == testStorage {
			res, err = c.TestStorage(ctx, name)
		} else {
			res, err = c.TestNotifier(ctx, name)
		}
		if err != nil { // an unknown name, or no test at all
			s.redirectBack(w, r, views.SettingsURL, views.FlashError, label+": "+s.userMessage(r, err))
			return
		}
		result := s.recordTest(ctx, kind, name, res)
		if res.OK {
			s.redirectBack(w, r, views.SettingsURL, views.FlashOK, label+": "+result.Message)
		} else {
			s.redirectBack(w, r, views.SettingsURL, views.FlashError, label+": test failed: "+result.Message)
		}
	}
}

// recordTest keeps a test's result for the settings page, whether the
// page's button or the API ran it (TestStorage, TestNotifier), and returns
// it.
func (s *Server) recordTest(ctx context.Context, kind testKind, name string, res lifeboat.ProbeResult) views.TestResult {
	took := " (" + views.FormatDuration(time.Duration(res.TookMillis*float64(time.Millisecond))) + ")"
	result := views.TestResult{OK: res.OK, At: time.Now()}
	if res.OK {
		result.Message = s.testPassed(ctx, kind, name) + took
	} else {
		// A probe's error names what failed and never holds a URL or a
		// secret (lifeboat.ProbeResult); it is the point of the test.
		result.Message = truncate(res.Error, 300) + took
	}
	s.testResults.set(kind, name, result)
	return result
}

// testPassed says what a passed test proved.
func (s *Server) testPassed(ctx context.Context, kind testKind, name string) string {
	if kind == testStorage {
		return "wrote, read back and deleted a probe object"
	}
	if kinds, err := s.notifierKinds(ctx); err == nil && kinds[name] == "heartbeat" {
		return "reached its host; no ping was sent, since a ping would tell the monitor a backup succeeded"
	}
	return "test message sent"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// testResults are the last test of each storage and notifier.
type testResults struct {
	mu sync.Mutex
	m  map[string]views.TestResult
}

func (t *testResults) key(kind testKind, name string) string { return string(kind) + "/" + name }

func (t *testResults) get(kind testKind, name string) *views.TestResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	if r, ok := t.m[t.key(kind, name)]; ok {
		return &r
	}
	return nil
}

func (t *testResults) set(kind testKind, name string, r views.TestResult) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil {
		t.m = map[string]views.TestResult{}
	}
	t.m[t.key(kind, name)] = r
}
