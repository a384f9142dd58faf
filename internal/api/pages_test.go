package api_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
	"github.com/lifeboat-dev/lifeboat/internal/app"
	"github.com/lifeboat-dev/lifeboat/internal/jobs"
	"github.com/lifeboat-dev/lifeboat/internal/lbtest"
	"github.com/lifeboat-dev/lifeboat/internal/store"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// pagesBundle is a lifeboat with a signed-in browser and two finished
// runs: "good" verified, "bad" failed on a check. Targets: good (fs,
// scheduled, chat + webhook), bad (S3, chat), fresh (scheduled, never run).
type pagesBundle struct {
	srv    *httptest.Server
	b      *http.Client
	runner *jobs.Runner
	store  *store.Store
	chat   *recorder
	hook   *recorder
	// secrets are every secret the config holds, by what it is.
	secrets   map[string]string
	good, bad int64
	// logs is everything the server logged.
	logs *testenv.SyncBuffer
	// token is an API token, for the API's own calls.
	token string
}

// recorder is an HTTP receiver that keeps every body it gets.
type recorder struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []string
}

func newRecorder(t *testing.T, status int) *recorder {
	t.Helper()
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.bodies = append(rec.bodies, string(body))
		rec.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (r *recorder) received() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

func pagesSetup(t *testing.T) *pagesBundle {
	t.Helper()
	pb := &pagesBundle{chat: newRecorder(t, http.StatusOK), hook: newRecorder(t, http.StatusNoContent)}
	stateURL := testenv.CreateDB(t, "lbstate_")
	sourceURL := testenv.CreateDB(t, "lbsrc_")
	testenv.Exec(t, sourceURL, testenv.SeedSQL)
	dir := t.TempDir()
	testenv.WriteAgeKey(t, dir)
	s3 := testenv.S3HTTP(t)
	chatToken, hookToken := testenv.RandomName("chat-token-"), testenv.RandomName("hook-token-")
	hookSecret := "whsec_" + base64.StdEncoding.EncodeToString([]byte(testenv.RandomName("hook-secret-")))
	doc := fmt.Sprintf(`database_url: ${STATE_URL}
restore:
  sandbox_dir: ${SANDBOX_DIR}
encryption:
  age_identity_file: ./age.key
storages:
  - {name: main, kind: fs, path: ./backups}
  - {name: vault, kind: s3, bucket: %s, prefix: lb/, endpoint: %q, region: %s, access_key_id: %q, secret_access_key: "${S3_SECRET}"}
outbound:
  allow: [127.0.0.0/8]
notifiers:
  - {name: chat, kind: slack, url: "%s/services/%s"}
  - {name: hook, kind: webhook, url: "%s/in/%s", secret: "${HOOK_SECRET}"}
  - {name: down, kind: slack, url: "http://127.0.0.1:1/services/nobody-listens"}
targets:
  - name: good
    database_url: ${SOURCE_URL}
    storage: main
    schedule: "0 3 * * *"
    timezone: Europe/Berlin
    notify: [chat, hook]
    checks:
      - {name: customers exist, sql: "SELECT count(*) FROM customers", expect: ">= 500"}
  - name: bad
    database_url: ${SOURCE_URL}
    storage: vault
    notify: [chat]
    checks:
      - {name: a million customers, sql: "SELECT count(*) FROM customers", expect: ">= 1000000"}
  - name: fresh
    database_url: ${SOURCE_URL}
    storage: main
    schedule: "@daily"
`, testenv.RandomName("lb-"), s3.Endpoint, s3.Region, s3.AccessKey, pb.chat.URL, chatToken, pb.hook.URL, hookToken)
	env := map[string]string{"STATE_URL": stateURL, "SANDBOX_DIR": testenv.SandboxDir(t), "SOURCE_URL": sourceURL,
		"S3_SECRET": s3.SecretKey, "HOOK_SECRET": hookSecret, "PG_BIN_DIR": os.Getenv("PG_BIN_DIR")}
	pb.logs = &testenv.SyncBuffer{}
	w := lbtest.Wire(t, stateURL, doc, dir, env, pb.logs)
	pb.store = w.Store
	var err error
	pb.runner, err = jobs.New(w.Deps, jobs.Options{Workers: 2})
	require.NoError(t, err)
	require.NoError(t, pb.runner.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = pb.runner.Stop(ctx)
	})

	pb.secrets = map[string]string{"S3 secret key": s3.SecretKey, "chat URL token": chatToken,
		"webhook URL token": hookToken, "webhook secret": hookSecret, "age identity": "AGE-SECRET-KEY-"}
	u, err := url.Parse(sourceURL)
	require.NoError(t, err)
	pass, ok := u.User.Password()
	require.True(t, ok, "the test's database URLs carry a password")
	pb.secrets["database password"] = pass

	cat := app.NewCatalog(w.Config, w.Store, pb.runner, w.Deps)
	require.NoError(t, cat.Load(context.Background()))
	s := &api.Server{Runs: pb.runner, Sched: pb.runner, Reader: w.Store, DB: w.Pool, Spec: lifeboat.OpenAPI, Logger: w.Log,
		Health: w.Store, Pages: w.Store, TargetSource: app.NewAPICatalog(cat), Retrier: pb.runner,
		Deliveries: pb.runner, Backups: pb.runner, Catalog: app.NewAPICatalog(cat), Dashboard: app.Dashboard{Config: cat.Config}}
	srv, token := serveAPI(t, s, w.Store)
	pb.srv, pb.token = srv, token
	pb.b = browser(t)
	resp := postForm(t, pb.b, srv.URL+"/login", url.Values{"secret": {token}}, nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode)

	ctx := context.Background()
	good, _, err := pb.runner.RequestRun(ctx, lifeboat.RunRequest{Target: "good", Trigger: lifeboat.TriggerAPI})
	require.NoError(t, err)
	bad, _, err := pb.runner.RequestRun(ctx, lifeboat.RunRequest{Target: "bad", Trigger: lifeboat.TriggerSchedule})
	require.NoError(t, err)
	pb.good, pb.bad = good.ID, bad.ID
	pb.waitRun(t, pb.good, lifeboat.RunSucceeded)
	pb.waitRun(t, pb.bad, lifeboat.RunFailed)
	require.NoError(t, pb.runner.WaitDeliveries(ctx, pb.good))
	return pb
}

// waitRun waits for the run to finish with status want.
func (pb *pagesBundle) waitRun(t *testing.T, id int64, want lifeboat.RunStatus) lifeboat.Run {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	run, err := pb.runner.WaitRun(ctx, id)
	require.NoError(t, err)
	require.Equal(t, want, run.Status, "run %d: %s", id, run.Error)
	return run
}

// page GETs path with the signed-in browser, requires status want, checks
// the HTML holds no configured secret, and returns the parsed document.
func (pb *pagesBundle) page(t *testing.T, path string, want int) *html.Node {
	t.Helper()
	resp, err := pb.b.Get(pb.srv.URL + path)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, want, resp.StatusCode, "GET %s: %s", path, body)
	require.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	pb.requireNoSecrets(t, path, body)
	doc, err := html.Parse(bytes.NewReader(body))
	require.NoError(t, err)
	return doc
}

func (pb *pagesBundle) requireNoSecrets(t *testing.T, what string, body []byte) {
	t.Helper()
	for name, secret := range pb.secrets {
		require.NotContains(t, string(body), secret, "%s shows the %s", what, name)
	}
}

// post sends a form from this site (as a browser does, Sec-Fetch-Site
// same-origin, Referer the page it was on) and returns the response, its
// body read.
func (pb *pagesBundle) post(t *testing.T, path string, form url.Values, referer string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, pb.srv.URL+path, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	if referer != "" {
		req.Header.Set("Referer", pb.srv.URL+referer)
	}
	resp, err := pb.b.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	pb.requireNoSecrets(t, "POST "+path, body)
	return resp, body
}

// action posts a form that must redirect (303) and returns where to.
func (pb *pagesBundle) action(t *testing.T, path, referer string) string {
	t.Helper()
	resp, body := pb.post(t, path, nil, referer)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "POST %s: %s", path, body)
	return resp.Header.Get("Location")
}

// byTestID is the first element with data-testid id under n, or nil.
func byTestID(n *html.Node, id string) *html.Node {
	all := allByTestID(n, id)
	if len(all) == 0 {
		return nil
	}
	return all[0]
}

func allByTestID(n *html.Node, id string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && attrOf(n, "data-testid") == id {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func mustTestID(t *testing.T, n *html.Node, id string) *html.Node {
	t.Helper()
	f := byTestID(n, id)
	require.NotNil(t, f, "no data-testid=%q", id)
	return f
}

func attrOf(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestDashboardPages(t *testing.T) {
	t.Parallel()
	pb := pagesSetup(t)

	t.Run("overview", func(t *testing.T) {
		doc := pb.page(t, "/", http.StatusOK)
		good := mustTestID(t, doc, "target-good")
		require.Contains(t, text(mustTestID(t, good, "status")), "✓ verified")
		require.NotContains(t, text(mustTestID(t, good, "last-verified")), "never")
		require.NotNil(t, byTestID(mustTestID(t, good, "history"), "sparkline"))
		require.Contains(t, text(mustTestID(t, good, "last-run")), "#"+itoa(pb.good))
		require.NotEmpty(t, text(mustTestID(t, good, "last-run-duration")))
		require.Regexp(t, `\d`, text(mustTestID(t, good, "last-run-size")), "the stored size")
		require.NotContains(t, text(mustTestID(t, good, "next-run")), "manual", "scheduled")

		bad := mustTestID(t, doc, "target-bad")
		require.Contains(t, text(mustTestID(t, bad, "status")), "✗ failing")
		require.Contains(t, text(mustTestID(t, bad, "last-verified")), "never")
		require.Contains(t, text(mustTestID(t, bad, "next-run")), "manual only")
		spark := byTestID(mustTestID(t, bad, "history"), "sparkline")
		require.NotNil(t, spark)
		require.Contains(t, attrOf(spark, "aria-label"), "1 failed")

		fresh := mustTestID(t, doc, "target-fresh")
		require.Contains(t, text(mustTestID(t, fresh, "status")), "never run")
		require.NotNil(t, byTestID(fresh, "no-runs"))
		require.NotContains(t, text(mustTestID(t, fresh, "next-run")), "manual", "its first slot, before any tick")

		// The banner names the failing target, and only it.
		banner := mustTestID(t, doc, "banner")
		require.Contains(t, text(banner), "1 target needs attention")
		require.NotNil(t, byTestID(banner, "banner-bad"))
		require.Nil(t, byTestID(banner, "banner-good"))
		require.Contains(t, text(byTestID(banner, "banner-bad")), "a million customers")
		require.Equal(t, "3 targets: 1 failing, 1 never run, 1 verified", text(mustTestID(t, doc, "summary")))
		require.NotNil(t, mustTestID(t, doc, "nav"))
	})

	t.Run("failed run", func(t *testing.T) {
		doc := pb.page(t, "/runs/"+itoa(pb.bad), http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "run-status")), "failed")
		require.Contains(t, text(mustTestID(t, doc, "run-error")), "a million customers")
		require.Contains(t, text(mustTestID(t, doc, "stage-verify")), "failed")
		require.Contains(t, text(mustTestID(t, doc, "stage-backup")), "succeeded")
		// Checks: the failed one first, with what was expected and seen.
		checks := allByTestID(mustTestID(t, doc, "checks"), "check")
		require.NotEmpty(t, checks)
		first := checks[0]
		require.Contains(t, text(first), "a million customers")
		require.Contains(t, text(mustTestID(t, first, "check-result")), "failed")
		require.Equal(t, ">= 1000000", text(mustTestID(t, first, "check-expected")))
		require.Equal(t, "500", text(mustTestID(t, first, "check-observed")))
		for _, c := range checks[1:] {
			require.Contains(t, text(mustTestID(t, c, "check-result")), "passed", "failed checks come first")
		}
		require.Contains(t, text(mustTestID(t, doc, "checks-summary")), "1 of")
		require.Regexp(t, `^[0-9a-f]{64}$`, text(mustTestID(t, doc, "artifact-sha256")))
		require.Contains(t, text(mustTestID(t, doc, "artifact-key")), "bad/")
		require.NotNil(t, byTestID(mustTestID(t, doc, "run-actions"), "retry"))
		require.Nil(t, byTestID(mustTestID(t, doc, "run-actions"), "cancel"), "a finished run")
		// The log, grouped by stage; a finished run is not tailed.
		log := mustTestID(t, doc, "log")
		for _, st := range []string{"backup", "restore", "verify", "report"} {
			require.NotNil(t, byTestID(log, "log-"+st), st)
		}
		require.Empty(t, attrOf(log, "data-live-src"))
		require.Contains(t, text(mustTestID(t, doc, "delivery-chat")), "delivered")
		require.Contains(t, text(mustTestID(t, doc, "trigger")), "schedule")
	})

	t.Run("verified run", func(t *testing.T) {
		doc := pb.page(t, "/runs/"+itoa(pb.good), http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "run-status")), "verified")
		require.Nil(t, byTestID(doc, "run-error"))
		require.Contains(t, text(mustTestID(t, doc, "checks-summary")), "passed")
		require.NotNil(t, byTestID(doc, "figures"))
		deliveries := text(mustTestID(t, doc, "deliveries"))
		require.Contains(t, deliveries, "run.succeeded")
		require.Contains(t, text(mustTestID(t, doc, "delivery-hook")), "delivered")
		require.Contains(t, text(mustTestID(t, doc, "delivery-chat")), "delivered")
	})

	t.Run("not found", func(t *testing.T) {
		for _, path := range []string{"/runs/999999999", "/runs/nope", "/targets/nope", "/no/such/page", "/restores/nope"} {
			doc := pb.page(t, path, http.StatusNotFound)
			require.Contains(t, text(mustTestID(t, doc, "error")), "Not found", path)
		}
		// Under /api/ an unknown path stays problem+json.
		resp, err := pb.b.Get(pb.srv.URL + "/api/v1/no-such-thing")
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusNotFound, resp.StatusCode)
		require.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
		doc := pb.page(t, "/runs?status=exploded", http.StatusBadRequest)
		require.Contains(t, text(mustTestID(t, doc, "error-detail")), "status")
	})

	t.Run("target page", func(t *testing.T) {
		doc := pb.page(t, "/targets/good", http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "target-status")), "verified")
		db := text(mustTestID(t, doc, "config-database"))
		require.Contains(t, db, "postgres://")
		require.Contains(t, db, "••••••", "the password is masked")
		// Schedule in words and the next five slots in the target's zone.
		require.Contains(t, text(mustTestID(t, doc, "schedule-words")), "Europe/Berlin")
		upcoming := mustTestID(t, doc, "upcoming")
		require.Len(t, findAll(upcoming, "li"), 5)
		require.Contains(t, text(upcoming), "03:00")
		for _, m := range []string{"duration", "size", "restore"} {
			require.NotNil(t, byTestID(mustTestID(t, doc, "history-"+m), "chart-"+m), m)
		}
		backup := mustTestID(t, doc, "backup-"+itoa(pb.good))
		require.Contains(t, text(mustTestID(t, backup, "verified")), "verified")
		require.NotNil(t, byTestID(backup, "download"))
		require.Contains(t, text(mustTestID(t, doc, "delivery-chat")), "delivered")
		require.Contains(t, text(mustTestID(t, doc, "delivery-hook")), "delivered")
		require.NotNil(t, byTestID(doc, "pause"))

		bad := pb.page(t, "/targets/bad", http.StatusOK)
		require.Contains(t, text(mustTestID(t, bad, "target-status")), "failing")
		require.Contains(t, text(mustTestID(t, mustTestID(t, bad, "backup-"+itoa(pb.bad)), "verified")), "failed")
	})

	t.Run("settings", func(t *testing.T) {
		doc := pb.page(t, "/settings", http.StatusOK)
		sandbox := text(mustTestID(t, doc, "sandbox-mode"))
		require.Contains(t, sandbox, "restores in a sandbox")
		require.Contains(t, sandbox, testenv.SandboxDir(t))
		require.Nil(t, byTestID(doc, "superuser-warning"), "no superuser was accepted")
		require.Contains(t, text(mustTestID(t, doc, "storage-main")), "fs")
		vault := text(mustTestID(t, doc, "storage-vault"))
		require.Contains(t, vault, "s3://")
		chat := text(mustTestID(t, doc, "notifier-chat"))
		require.Contains(t, chat, "http://127.0.0.1")
		require.Contains(t, chat, "••••••", "the URL's path is masked")
		require.Contains(t, text(mustTestID(t, doc, "notifier-hook")), "signing secret")
		require.Len(t, allByTestID(mustTestID(t, doc, "tokens"), "revoke"), 1, "the token we signed in with")

		// A token is shown once, in the answer to its creation.
		resp, body := pb.post(t, "/settings/tokens", url.Values{"name": {"ci deploy"}}, "/settings")
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		created, err := html.Parse(bytes.NewReader(body))
		require.NoError(t, err)
		secret := attrOf(mustTestID(t, created, "new-token-value"), "value")
		require.True(t, strings.HasPrefix(secret, "lbt_"), secret)
		pb.secrets["new API token"] = secret
		doc = pb.page(t, "/settings", http.StatusOK)
		require.Nil(t, byTestID(doc, "new-token"), "never shown again")
		rows := allByTestID(mustTestID(t, doc, "tokens"), "revoke")
		require.Len(t, rows, 2)
		resp2, _ := send(t, http.MethodGet, pb.srv.URL+"/api/v1/tokens", "Bearer "+secret, "")
		require.Equal(t, http.StatusOK, resp2.StatusCode, "the new token works")

		// A name the token service refuses is said beside the form.
		resp, body = pb.post(t, "/settings/tokens", url.Values{"name": {" "}}, "/settings")
		require.Equal(t, http.StatusBadRequest, resp.StatusCode)
		bad, err := html.Parse(bytes.NewReader(body))
		require.NoError(t, err)
		require.Contains(t, text(mustTestID(t, bad, "token-error")), "name")

		// Revoking it: a flash, and the token stops working.
		var revoke string
		for _, f := range findAll(mustTestID(t, doc, "tokens"), "form") {
			if row := f.Parent.Parent; row != nil && strings.Contains(text(row), "ci deploy") {
				revoke = attrOf(f, "action")
			}
		}
		require.NotEmpty(t, revoke)
		loc := pb.action(t, revoke, "/settings")
		require.Equal(t, "/settings", loc)
		doc = pb.page(t, loc, http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "flash-ok")), `"ci deploy" revoked`)
		require.Len(t, allByTestID(mustTestID(t, doc, "tokens"), "revoke"), 1)
		resp2, _ = send(t, http.MethodGet, pb.srv.URL+"/api/v1/tokens", "Bearer "+secret, "")
		require.Equal(t, http.StatusUnauthorized, resp2.StatusCode)
		require.Nil(t, byTestID(pb.page(t, loc, http.StatusOK), "flash-ok"), "a flash is shown once")
	})

	t.Run("test buttons", func(t *testing.T) {
		// A test run through the API shows on Settings too.
		doc := pb.page(t, "/settings", http.StatusOK)
		require.Contains(t, text(mustTestID(t, mustTestID(t, doc, "notifier-chat"), "test-result")), "not tested")
		req, err := http.NewRequest(http.MethodPost, pb.srv.URL+"/api/v1/notifiers/chat/test", nil)
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+pb.token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		doc = pb.page(t, "/settings", http.StatusOK)
		require.Contains(t, text(mustTestID(t, mustTestID(t, doc, "notifier-chat"), "test-result")), "passed")

		for _, st := range []string{"main", "vault"} {
			loc := pb.action(t, "/settings/storages/"+st+"/test", "/settings")
			require.Equal(t, "/settings", loc)
			doc := pb.page(t, loc, http.StatusOK)
			require.Contains(t, text(mustTestID(t, doc, "flash-ok")), "Storage "+st+": wrote, read back and deleted")
			require.Contains(t, text(mustTestID(t, mustTestID(t, doc, "storage-"+st), "test-result")), "passed")
		}

		pb.action(t, "/settings/notifiers/chat/test", "/settings")
		require.Contains(t, strings.Join(pb.chat.received(), "\n"), "test message")
		pb.action(t, "/settings/notifiers/hook/test", "/settings")
		require.Contains(t, strings.Join(pb.hook.received(), "\n"), `"lifeboat.test"`)
		doc = pb.page(t, "/settings", http.StatusOK)
		require.Contains(t, text(mustTestID(t, mustTestID(t, doc, "notifier-hook"), "test-result")), "passed")

		// A notifier nobody answers: the test fails and says why.
		pb.action(t, "/settings/notifiers/down/test", "/settings")
		doc = pb.page(t, "/settings", http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "flash-error")), "Notifier down: test failed")
		result := text(mustTestID(t, mustTestID(t, doc, "notifier-down"), "test-result"))
		require.Contains(t, result, "failed")
		require.Contains(t, result, "refused")

		pb.action(t, "/settings/storages/nope/test", "/settings")
		require.Contains(t, text(mustTestID(t, pb.page(t, "/settings", http.StatusOK), "flash-error")), `"nope"`)
	})

	t.Run("run now", func(t *testing.T) {
		loc := pb.action(t, "/targets/good/runs", "/")
		m := regexp.MustCompile(`^/runs/(\d+)$`).FindStringSubmatch(loc)
		require.NotNil(t, m, "redirected to the new run: %s", loc)
		id, _ := strconv.ParseInt(m[1], 10, 64)
		doc := pb.page(t, loc, http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "flash-ok")), "Run #"+m[1]+" of good started")
		require.Equal(t, "dashboard", text(mustTestID(t, doc, "trigger")))
		run := pb.waitRun(t, id, lifeboat.RunSucceeded)
		require.Equal(t, lifeboat.TriggerDashboard, run.Trigger)

		// An unknown target: back where the form was, saying why.
		loc = pb.action(t, "/targets/nope/runs", "/")
		require.Equal(t, "/", loc)
		require.Contains(t, text(mustTestID(t, pb.page(t, loc, http.StatusOK), "flash-error")), `"nope"`)
	})

	t.Run("cancel and retry", func(t *testing.T) {
		run, _, err := pb.runner.RequestRun(context.Background(), lifeboat.RunRequest{Target: "fresh", Trigger: lifeboat.TriggerAPI})
		require.NoError(t, err)
		loc := pb.action(t, "/runs/"+itoa(run.ID)+"/cancel", "/runs/"+itoa(run.ID))
		require.Equal(t, "/runs/"+itoa(run.ID), loc)
		doc := pb.page(t, loc, http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "flash-ok")), "canceled")
		require.Contains(t, text(mustTestID(t, doc, "run-status")), "canceled")
		pb.waitRun(t, run.ID, lifeboat.RunCanceled)
		// Canceling it again is refused, and said.
		loc = pb.action(t, "/runs/"+itoa(run.ID)+"/cancel", "/runs/"+itoa(run.ID))
		require.NotNil(t, byTestID(pb.page(t, loc, http.StatusOK), "flash-error"))

		loc = pb.action(t, "/runs/"+itoa(pb.bad)+"/retry", "/runs/"+itoa(pb.bad))
		m := regexp.MustCompile(`^/runs/(\d+)$`).FindStringSubmatch(loc)
		require.NotNil(t, m, loc)
		require.NotEqual(t, itoa(pb.bad), m[1])
		doc = pb.page(t, loc, http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "flash-ok")), "retries run #"+itoa(pb.bad))
		require.Equal(t, "retry", text(mustTestID(t, doc, "trigger")))
		id, _ := strconv.ParseInt(m[1], 10, 64)
		pb.waitRun(t, id, lifeboat.RunFailed)
	})

	t.Run("pause and resume", func(t *testing.T) {
		loc := pb.action(t, "/targets/good/pause", "/targets/good")
		require.Equal(t, "/targets/good", loc)
		doc := pb.page(t, loc, http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "flash-ok")), "paused")
		require.Contains(t, text(mustTestID(t, doc, "target-status")), "paused")
		require.NotNil(t, byTestID(doc, "paused-note"))
		require.Contains(t, text(mustTestID(t, mustTestID(t, pb.page(t, "/", http.StatusOK), "target-good"), "next-run")), "paused")

		loc = pb.action(t, "/targets/good/resume", "/targets/good")
		doc = pb.page(t, loc, http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "target-status")), "verified")
		require.Len(t, findAll(mustTestID(t, doc, "upcoming"), "li"), 5)
	})

	t.Run("download", func(t *testing.T) {
		loc := pb.action(t, "/backups/"+itoa(pb.good)+"/download", "/targets/good")
		require.True(t, strings.HasPrefix(loc, "/downloads/"), loc)
		resp, err := pb.b.Get(pb.srv.URL + loc)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusOK, resp.StatusCode)
		run, err := pb.store.RunGet(context.Background(), pb.good)
		require.NoError(t, err)
		require.Equal(t, run.Artifact.StoredBytes, int64(len(body)))

		loc = pb.action(t, "/backups/999999999/download", "/targets/good")
		require.Equal(t, "/targets/good", loc)
		require.NotNil(t, byTestID(pb.page(t, loc, http.StatusOK), "flash-error"))
	})

	t.Run("restore", func(t *testing.T) { testRestorePages(t, pb) })

	t.Run("runs list", func(t *testing.T) {
		// History beyond a page, for a target no longer configured.
		_, err := pb.store.Pool().Exec(context.Background(), `INSERT INTO runs (target, trigger, status, created_at, finished_at)
			SELECT 'archived', 'schedule', 'succeeded', now() - make_interval(hours => g), now() - make_interval(hours => g)
			FROM generate_series(1, 60) g`)
		require.NoError(t, err)

		doc := pb.page(t, "/runs?target=archived", http.StatusOK)
		rows := findAll(mustTestID(t, doc, "runs"), "tr")[1:] // after the head
		require.Len(t, rows, 50)
		next := mustTestID(t, doc, "next-page")
		href := attrOf(next, "href")
		require.Contains(t, href, "target=archived", "the next page keeps the filter")
		var seen []int64
		for _, r := range rows {
			require.Contains(t, text(r), "archived")
			id, err := strconv.ParseInt(strings.TrimPrefix(attrOf(r, "data-testid"), "run-"), 10, 64)
			require.NoError(t, err)
			seen = append(seen, id)
		}
		selected := false
		for _, o := range findAll(doc, "option") {
			if attrOf(o, "value") == "archived" {
				_, selected = attrNode(o, "selected")
			}
		}
		require.True(t, selected, "the target filter shows its value")

		doc = pb.page(t, href, http.StatusOK)
		rows = findAll(mustTestID(t, doc, "runs"), "tr")[1:]
		require.Len(t, rows, 10)
		require.Nil(t, byTestID(doc, "next-page"), "the last page")
		require.NotNil(t, byTestID(doc, "first-page"))
		for _, r := range rows {
			id, err := strconv.ParseInt(strings.TrimPrefix(attrOf(r, "data-testid"), "run-"), 10, 64)
			require.NoError(t, err)
			require.Less(t, id, seen[len(seen)-1], "older than the first page, no overlap")
		}

		doc = pb.page(t, "/runs?status=failed", http.StatusOK)
		failed := findAll(mustTestID(t, doc, "runs"), "tr")[1:]
		require.Len(t, failed, 2, "bad's run and its retry")
		for _, r := range failed {
			require.Contains(t, text(mustTestID(t, r, "status")), "failed")
			require.Contains(t, text(r), "bad")
		}
		doc = pb.page(t, "/runs?trigger=dashboard&target=good", http.StatusOK)
		require.Len(t, findAll(mustTestID(t, doc, "runs"), "tr")[1:], 1)
		// Dates are days (UTC here), both ends included.
		now := time.Now().UTC()
		until := now.AddDate(0, 0, -2)
		end := time.Date(until.Year(), until.Month(), until.Day()+1, 0, 0, 0, 0, time.UTC)
		want := 0
		for g := 1; g <= 60; g++ {
			if now.Add(-time.Duration(g) * time.Hour).Before(end) {
				want++
			}
		}
		doc = pb.page(t, "/runs?target=archived&until="+until.Format(time.DateOnly), http.StatusOK)
		require.Len(t, findAll(mustTestID(t, doc, "runs"), "tr")[1:], want)
		goodRun, err := pb.store.RunGet(context.Background(), pb.good)
		require.NoError(t, err)
		day := goodRun.CreatedAt.UTC().Format(time.DateOnly)
		doc = pb.page(t, "/runs?target=good&since="+day+"&until="+day, http.StatusOK)
		require.NotNil(t, byTestID(doc, "run-"+itoa(pb.good)), "until includes its whole day")
		doc = pb.page(t, "/runs?target=nothing-here", http.StatusOK)
		require.Contains(t, text(mustTestID(t, doc, "no-runs")), "No runs match")
	})

	t.Run("cross-site post", func(t *testing.T) {
		before, _, err := pb.store.RunList(context.Background(), lifeboat.RunFilter{Target: "good", Limit: 100})
		require.NoError(t, err)
		for _, h := range []map[string]string{{"Sec-Fetch-Site": "cross-site"}, {"Origin": "https://evil.example"}} {
			resp := postForm(t, pb.b, pb.srv.URL+"/targets/good/runs", url.Values{}, h)
			require.Equal(t, http.StatusForbidden, resp.StatusCode)
		}
		after, _, err := pb.store.RunList(context.Background(), lifeboat.RunFilter{Target: "good", Limit: 100})
		require.NoError(t, err)
		require.Len(t, after, len(before), "no run was started")
	})

	t.Run("signed out", func(t *testing.T) {
		anon := browser(t)
		resp := get(t, anon, pb.srv.URL+"/runs/"+itoa(pb.good))
		require.Equal(t, http.StatusSeeOther, resp.StatusCode)
		require.Equal(t, "/login?next="+url.QueryEscape("/runs/"+itoa(pb.good)), resp.Header.Get("Location"))
		resp = postForm(t, anon, pb.srv.URL+"/targets/good/runs", url.Values{}, nil)
		require.Equal(t, http.StatusSeeOther, resp.StatusCode, "a form goes to the login page")
		require.Equal(t, "/login?next=", resp.Header.Get("Location"))
		raw, _ := send(t, http.MethodPost, pb.srv.URL+"/targets/good/runs", "", "")
		require.Equal(t, http.StatusUnauthorized, raw.StatusCode, "not a form: a problem, not a page")
	})
}

// findAll is every element named tag under n.
func findAll(n *html.Node, tag string) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attrNode(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}
