package views_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// Secrets the target and settings fixtures are configured with; no page
// may contain them.
const (
	dbPassword  = "pw-7d1c0ffee"
	hookPath    = "T0001/B0002/slacksecret99"
	accessKey   = "AKIAEXAMPLESECRET"
	triggerHint = "trigger-secret-abc"
)

func runsView() views.RunsView {
	since := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	return views.RunsView{
		Page:    page(views.NavRuns),
		Filter:  views.RunsFilter{Target: "shop", Status: lifeboat.RunFailed, Since: since},
		Targets: []string{"crm", "shop"},
		Runs: []views.RunSummary{
			{ID: 42, Target: "shop", Trigger: lifeboat.TriggerSchedule, Status: lifeboat.RunFailed, CreatedAt: ago(time.Hour),
				Duration: 25 * time.Second, StoredBytes: 379e6, FailedStage: lifeboat.StageVerify},
			{ID: 17, Target: "shop", Trigger: lifeboat.TriggerAPI, Status: lifeboat.RunFailed, CreatedAt: ago(50 * time.Hour), Duration: 2 * time.Second,
				FailedStage: lifeboat.StageBackup},
		},
		Cursor:     "c1",
		NextCursor: "opaque+/cursor=",
	}
}

func TestRunsPageFiltersAndPaginates(t *testing.T) {
	t.Parallel()
	doc, _ := renderPage(t, views.RunsPage(runsView()))

	form := mustTestID(t, doc, "filters")
	require.Equal(t, "get", attrOf(form, "method"))
	require.Equal(t, "/runs", attrOf(form, "action"))
	selected := func(name string) string {
		for _, s := range findAll(form, tag("select")) {
			if attrOf(s, "name") != name {
				continue
			}
			for _, o := range findAll(s, tag("option")) {
				if _, ok := attr(o, "selected"); ok {
					return attrOf(o, "value")
				}
			}
			return ""
		}
		t.Fatalf("no select %q", name)
		return ""
	}
	require.Equal(t, "shop", selected("target"))
	require.Equal(t, "failed", selected("status"))
	require.Equal(t, "", selected("trigger"))
	inputs := map[string]string{}
	for _, in := range findAll(form, tag("input")) {
		require.Equal(t, "date", attrOf(in, "type"))
		inputs[attrOf(in, "name")] = attrOf(in, "value")
	}
	require.Equal(t, map[string]string{"since": "2026-11-01", "until": ""}, inputs)
	require.NotEmpty(t, findAll(form, testID("filter-clear")))

	row := mustTestID(t, doc, "run-42")
	require.Contains(t, text(mustTestID(t, row, "status")), "✗ failed in verify")
	require.Equal(t, "/runs/42", attrOf(findAll(row, tag("a"))[0], "href"))
	require.Contains(t, text(row), "379 MB")
	require.Len(t, findAll(mustTestID(t, doc, "runs"), func(n *html.Node) bool { return n.Data == "tr" && n.Parent.Data == "tbody" }), 2)

	next, err := url.Parse(attrOf(mustTestID(t, doc, "next-page"), "href"))
	require.NoError(t, err)
	require.Equal(t, "/runs", next.Path)
	require.Equal(t, url.Values{"cursor": {"opaque+/cursor="}, "target": {"shop"}, "status": {"failed"}, "since": {"2026-11-01"}}, next.Query(),
		"the next page keeps the filters and carries the cursor")
	require.Equal(t, "next", attrOf(mustTestID(t, doc, "next-page"), "rel"))
	require.Equal(t, "/runs?since=2026-11-01&status=failed&target=shop", attrOf(mustTestID(t, doc, "first-page"), "href"))
}

func TestRunsPageLastPageAndEmptyStates(t *testing.T) {
	t.Parallel()
	v := runsView()
	v.NextCursor, v.Cursor = "", ""
	doc, _ := renderPage(t, views.RunsPage(v))
	require.Empty(t, findAll(doc, testID("next-page")), "no next link on the last page")
	require.Empty(t, findAll(doc, testID("first-page")))

	v.Runs = nil
	doc, _ = renderPage(t, views.RunsPage(v))
	require.Contains(t, text(mustTestID(t, doc, "no-runs")), "Nothing matches these filters")

	doc, _ = renderPage(t, views.RunsPage(views.RunsView{Page: page(views.NavRuns)}))
	require.Contains(t, text(mustTestID(t, doc, "no-runs")), "Run now")
	require.Empty(t, findAll(doc, testID("filter-clear")))
	require.Equal(t, "/runs", views.RunsPageURL(views.RunsFilter{}, nil, ""))
}

var london = func() *time.Location {
	z, err := time.LoadLocation("Europe/London")
	if err != nil {
		panic(err)
	}
	return z
}()

func targetView() views.TargetView {
	row := overviewTargets()[1] // crm: failing and overdue
	first := time.Date(2026, 11, 26, 2, 30, 0, 0, time.UTC)
	var upcoming []time.Time
	for i := range 6 {
		upcoming = append(upcoming, first.Add(time.Duration(i)*24*time.Hour))
	}
	active := int64(129)
	return views.TargetView{
		Page:   page(views.NavOverview),
		Target: row,
		Config: views.TargetConfig{
			DatabaseURL: views.RedactURL("postgres://backup:" + dbPassword + "@db.internal:5432/crm?sslmode=require"),
			Storage:     "main", Notify: []string{"ops-chat", "snitch"},
			Checks:    []views.CheckConfig{{Name: "users exist", SQL: "SELECT count(*) FROM users", Expect: ">= 1"}},
			MaxAge:    26 * time.Hour,
			Retention: views.RetentionConfig{KeepLast: 7, KeepDaily: 7, KeepWeekly: 4, MinVerified: 1, UnverifiedGrace: 7 * 24 * time.Hour},
			// The trigger secret is never in the view model: only whether it is set.
			TriggerSecretSet: true,
		},
		Schedule: lifeboat.TargetSchedule{Target: "crm", Schedule: row.Schedule, Timezone: "Europe/London", NextDue: &first, Upcoming: upcoming,
			Skips: []lifeboat.ScheduleSkip{{ScheduledFor: first.Add(-24 * time.Hour), Reason: "a run was active", ActiveRunID: &active}}},
		ScheduleZone: london,
		Backups: []views.BackupRow{
			{RunID: 131, CreatedAt: ago(time.Hour), Storage: "main", Key: "lifeboat/crm/131.dump.zst.age", SHA256: strings.Repeat("a1", 32), StoredBytes: 12e6, Status: lifeboat.RunFailed},
			{RunID: 120, CreatedAt: ago(80 * time.Hour), Storage: "main", Key: "lifeboat/crm/120.dump.zst.age", SHA256: strings.Repeat("b2", 32), StoredBytes: 11e6, Status: lifeboat.RunSucceeded},
		},
		Deliveries: []views.DeliveryRow{
			{Notifier: "ops-chat", Kind: "slack", Event: "run.failed", RunID: 131, State: views.StatusDelivered, Attempts: 1, At: ago(time.Hour)},
			{Notifier: "snitch", Kind: "heartbeat", Event: "run.failed", RunID: 131, State: views.StatusNotSent},
			{Notifier: "ci", Kind: "webhook", Event: "target.overdue", State: views.StatusFailed, Attempts: 5, ResponseCode: 503, LastError: "503 Service Unavailable", At: ago(2 * time.Hour)},
		},
	}
}

func TestTargetPage(t *testing.T) {
	t.Parallel()
	doc, src := renderPage(t, views.TargetPage(targetView()))

	require.Equal(t, "crm", text(findAll(doc, tag("h1"))[0]))
	require.Equal(t, "✗ failing ⏰ overdue", text(mustTestID(t, doc, "target-status")))
	requirePostForm(t, doc, "run-now", "/targets/crm/runs")
	requirePostForm(t, doc, "pause", "/targets/crm/pause")

	// Secrets: masked, and the secret itself appears nowhere.
	require.NotContains(t, src, dbPassword)
	require.Equal(t, "postgres://backup:"+views.Masked+"@db.internal:5432/crm?sslmode=require", text(mustTestID(t, doc, "config-database")))
	require.Contains(t, text(mustTestID(t, doc, "config-trigger-secret")), "enabled, secret "+views.Masked)
	require.Equal(t, "keep the last 7, 7 daily, 4 weekly; always at least 1 verified; unverified backups kept 7 d",
		text(mustTestID(t, doc, "config-retention")))
	require.Contains(t, text(mustTestID(t, doc, "config")), "Overdue after 1 d 2 h")

	// Schedule in words and the next five slots in the target's zone.
	words := text(mustTestID(t, doc, "schedule-words"))
	require.Equal(t, "Every Monday to Friday at 02:30 30 2 * * 1-5 in Europe/London", words)
	slots := findAll(mustTestID(t, doc, "upcoming"), tag("time"))
	require.Len(t, slots, 5, "five of the six given")
	require.Equal(t, "2026-11-26 02:30 GMT", text(slots[0]), "in the target's zone")
	require.Equal(t, "2026-11-26T02:30:00Z", attrOf(slots[0], "datetime"))
	_, converted := attr(slots[0], "data-local")
	require.False(t, converted, "app.js leaves the target's zone alone")
	require.Contains(t, text(mustTestID(t, doc, "skips")), "run #129 was active")

	// History charts.
	for _, m := range views.ChartMetrics {
		fig := mustTestID(t, doc, "history-"+string(m))
		require.Len(t, findAll(fig, testID("chart-"+string(m))), 1)
	}
	require.Contains(t, text(mustTestID(t, doc, "history-restore")), "Restore time")

	// Backups with verified marks and downloads.
	b131 := mustTestID(t, doc, "backup-131")
	require.Equal(t, "✗ failed", text(mustTestID(t, b131, "verified")))
	requirePostForm(t, b131, "download", "/backups/131/download")
	require.Equal(t, "✓ verified", text(mustTestID(t, mustTestID(t, doc, "backup-120"), "verified")))
	require.Contains(t, text(b131), "a1a1a1a1a1a1…")

	// Notifier delivery status.
	require.Contains(t, text(mustTestID(t, doc, "delivery-snitch")), "– not sent")
	ci := text(mustTestID(t, doc, "delivery-ci"))
	require.Contains(t, ci, "✗ failed")
	require.Contains(t, ci, "HTTP 503")
	require.Contains(t, ci, "503 Service Unavailable")
}

func TestTargetPageNeverRunAndPaused(t *testing.T) {
	t.Parallel()
	v := views.TargetView{Page: page(views.NavOverview), Target: views.TargetRow{Name: "fresh", Schedule: "0 3 * * *", Paused: true}}
	doc, _ := renderPage(t, views.TargetPage(v))
	require.Contains(t, text(mustTestID(t, doc, "empty-runs")), "Run now")
	require.Contains(t, text(mustTestID(t, doc, "paused-note")), "⏸ paused")
	requirePostForm(t, doc, "resume", "/targets/fresh/resume")
	require.Empty(t, findAll(doc, testID("upcoming")))
	require.NotEmpty(t, findAll(doc, testID("no-history")))
	require.NotEmpty(t, findAll(doc, testID("no-backups")))
	require.Contains(t, text(mustTestID(t, doc, "no-deliveries")), "notify:")
	require.Equal(t, "–", text(mustTestID(t, doc, "config-database")))
	require.Equal(t, "off", text(mustTestID(t, doc, "config-trigger-secret")))
}

func settingsView() views.SettingsView {
	return views.SettingsView{
		Page: page(views.NavSettings),
		Storages: []views.StorageRow{
			{Name: "main", Kind: "s3", Location: "backups/lifeboat/", Endpoint: views.RedactURL("https://minio:" + accessKey + "@s3.internal:9000"),
				Test: &views.TestResult{OK: true, Message: "put, get and delete a probe object", At: ago(time.Minute)}},
			{Name: "local", Kind: "fs", Location: "/var/backups"},
		},
		Notifiers: []views.NotifierRow{
			{Name: "ops-chat", Kind: "slack", Destination: views.RedactToHost("https://hooks.slack.com/services/" + hookPath),
				Test: &views.TestResult{OK: false, Message: "HTTP 404 from hooks.slack.com", At: ago(time.Minute)}},
			{Name: "ci", Kind: "webhook", Destination: views.RedactToHost("https://ci.internal/hook"), SecretSet: true},
		},
		Tokens: []views.TokenRow{
			{ID: 3, Name: "ci-deploy", Prefix: "lbt_3f9a", CreatedAt: ago(72 * time.Hour), LastUsedAt: ptrTime(ago(time.Hour))},
			{ID: 4, Name: "grafana", Prefix: "lbt_77c1", CreatedAt: ago(24 * time.Hour)},
		},
		CreatedToken: &views.CreatedToken{Name: "grafana", Token: "lbt_77c1_" + triggerHint},
	}
}

func TestSettingsPage(t *testing.T) {
	t.Parallel()
	doc, src := renderPage(t, views.SettingsPage(settingsView()))

	main := mustTestID(t, doc, "storage-main")
	requirePostForm(t, main, "test-storage", "/settings/storages/main/test")
	require.Contains(t, text(mustTestID(t, main, "test-result")), "✓ passed")
	require.Equal(t, "not tested", text(mustTestID(t, mustTestID(t, doc, "storage-local"), "test-result")))
	chat := mustTestID(t, doc, "notifier-ops-chat")
	requirePostForm(t, chat, "test-notifier", "/settings/notifiers/ops-chat/test")
	require.Contains(t, text(mustTestID(t, chat, "test-result")), "✗ failed")
	require.Contains(t, text(chat), "https://hooks.slack.com/"+views.Masked)
	require.Contains(t, text(mustTestID(t, doc, "notifier-ci")), "signing secret "+views.Masked)
	require.NotContains(t, src, hookPath)
	require.NotContains(t, src, accessKey)
	require.Contains(t, text(main), "https://minio:"+views.Masked+"@s3.internal:9000")

	// The new token, once, in a labelled read-only field.
	panel := mustTestID(t, doc, "new-token")
	require.Contains(t, text(panel), "copy it now")
	require.Contains(t, text(panel), "shown once")
	value := mustTestID(t, panel, "new-token-value")
	require.Equal(t, "lbt_77c1_"+triggerHint, attrOf(value, "value"))
	_, ro := attr(value, "readonly")
	require.True(t, ro)

	require.Contains(t, text(mustTestID(t, doc, "token-3")), "lbt_3f9a…")
	requirePostForm(t, mustTestID(t, doc, "token-3"), "revoke", "/settings/tokens/3/revoke")
	requirePostForm(t, mustTestID(t, doc, "token-4"), "revoke", "/settings/tokens/4/revoke")
	require.Contains(t, text(mustTestID(t, doc, "token-4")), "never")
	requirePostForm(t, doc, "create-token", "/settings/tokens")

	// Without a freshly created token, its value is nowhere.
	v := settingsView()
	v.CreatedToken = nil
	v.TokenError = "name: already used by another token"
	v.TokenName = "ci-deploy"
	doc, src = renderPage(t, views.SettingsPage(v))
	require.Empty(t, findAll(doc, testID("new-token")))
	require.NotContains(t, src, triggerHint)
	require.Equal(t, "name: already used by another token", text(mustTestID(t, doc, "token-error")))
	require.Equal(t, "ci-deploy", attrOf(mustTestID(t, doc, "token-name"), "value"))

	doc, _ = renderPage(t, views.SettingsPage(views.SettingsView{Page: page(views.NavSettings)}))
	require.Contains(t, text(mustTestID(t, doc, "no-storages")), "storages:")
	require.Contains(t, text(mustTestID(t, doc, "no-notifiers")), "notifiers:")
	require.NotEmpty(t, findAll(doc, testID("no-tokens")))
}

func TestCSRFHookAddsAFieldToEveryPostForm(t *testing.T) {
	t.Parallel()
	v := settingsView()
	v.Page.CSRF = views.CSRF{Name: "csrf_token", Token: "tok-123"}
	doc, _ := renderPage(t, views.SettingsPage(v))
	posts := findAll(doc, func(n *html.Node) bool { return n.Data == "form" && attrOf(n, "method") == "post" })
	require.Greater(t, len(posts), 5)
	for _, f := range posts {
		hidden := findAll(f, func(n *html.Node) bool { return attrOf(n, "name") == "csrf_token" })
		require.Len(t, hidden, 1, "form %s", attrOf(f, "action"))
		require.Equal(t, "tok-123", attrOf(hidden[0], "value"))
	}

	// Without a token (http.CrossOriginProtection), no field.
	doc, _ = renderPage(t, views.SettingsPage(settingsView()))
	require.Empty(t, findAll(doc, func(n *html.Node) bool { return attrOf(n, "type") == "hidden" }))
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	doc, _ := renderPage(t, views.LoginPage(views.LoginView{Page: views.Page{Title: "Sign in", Now: now},
		Error: "That token is not valid (or was revoked).", Next: "/runs/42", PasswordEnabled: true}))
	require.Empty(t, findAll(doc, testID("nav")), "no navigation before signing in")
	require.Empty(t, findAll(doc, testID("logout")))
	require.Equal(t, "alert", attrOf(mustTestID(t, doc, "login-error"), "role"))
	require.Contains(t, text(mustTestID(t, doc, "login-error")), "not valid")
	in := mustTestID(t, doc, "login-secret")
	require.Equal(t, "password", attrOf(in, "type"))
	label := findAll(doc, func(n *html.Node) bool { return n.Data == "label" && attrOf(n, "for") == attrOf(in, "id") })
	require.Len(t, label, 1)
	require.Equal(t, "API token or admin password", text(label[0]))
	requirePostForm(t, doc, "login-submit", "/login")
	next := findAll(doc, func(n *html.Node) bool { return attrOf(n, "name") == "next" })
	require.Equal(t, "/runs/42", attrOf(next[0], "value"))

	doc, _ = renderPage(t, views.LoginPage(views.LoginView{Page: views.Page{Now: now}}))
	require.Empty(t, findAll(doc, testID("login-error")))
	label = findAll(doc, func(n *html.Node) bool { return n.Data == "label" && attrOf(n, "for") == "login-secret" })
	require.Equal(t, "API token", text(label[0]))
}

func TestErrorPageAndFlashes(t *testing.T) {
	t.Parallel()
	p := page("")
	p.Flashes = []views.Flash{{Kind: views.FlashOK, Message: "Run #12 started."}, {Kind: views.FlashError, Message: "Storage test failed."}}
	doc, _ := renderPage(t, views.ErrorPage(views.ErrorView{Page: p, Status: 404, Title: "No such run", Detail: "run 99 does not exist"}))
	require.Equal(t, "No such run", text(findAll(doc, tag("h1"))[0]))
	require.Contains(t, text(mustTestID(t, doc, "error")), "Error 404")
	require.Equal(t, "run 99 does not exist", text(mustTestID(t, doc, "error-detail")))
	require.Equal(t, "status", attrOf(mustTestID(t, doc, "flash-ok"), "role"))
	require.Equal(t, "alert", attrOf(mustTestID(t, doc, "flash-error"), "role"))
	for _, a := range findAll(mustTestID(t, doc, "nav"), tag("a")) {
		_, current := attr(a, "aria-current")
		require.False(t, current)
	}
}

// TestLayoutLinksVersionedAssets: the head links the stylesheet, script
// and icon through StaticURL, nothing from elsewhere.
func TestLayoutLinksVersionedAssets(t *testing.T) {
	t.Parallel()
	doc, _ := renderPage(t, views.OverviewPage(views.OverviewView{Page: page(views.NavOverview)}))
	links := map[string]string{}
	for _, l := range findAll(doc, tag("link")) {
		links[attrOf(l, "rel")] = attrOf(l, "href")
	}
	require.Equal(t, views.StaticURL("app.css"), links["stylesheet"])
	require.Equal(t, views.StaticURL("favicon.svg"), links["icon"])
	scripts := findAll(doc, tag("script"))
	require.Len(t, scripts, 1)
	require.Equal(t, views.StaticURL("app.js"), attrOf(scripts[0], "src"))
	_, deferred := attr(scripts[0], "defer")
	require.True(t, deferred)
	require.Equal(t, "t · lifeboat", text(findAll(doc, tag("title"))[0]))
	require.Equal(t, "en", attrOf(findAll(doc, tag("html"))[0], "lang"))
}

// allPages are every page with full view models, for checks over all.
func allPages() map[string]templ.Component {
	return map[string]templ.Component{
		"overview": views.OverviewPage(views.OverviewView{Page: page(views.NavOverview), Targets: overviewTargets()}),
		"empty":    views.OverviewPage(views.OverviewView{Page: page(views.NavOverview)}),
		"runs":     views.RunsPage(runsView()),
		"run":      views.RunPage(activeRun()),
		"target":   views.TargetPage(targetView()),
		"settings": views.SettingsPage(settingsView()),
		"login":    views.LoginPage(views.LoginView{Page: views.Page{Now: now}, Error: "no"}),
		"error":    views.ErrorPage(views.ErrorView{Page: page(""), Status: 500}),
	}
}

func TestPagesTitleThemselves(t *testing.T) {
	t.Parallel()
	bare := views.Page{SignedIn: true, Now: now}
	for want, c := range map[string]templ.Component{
		"Overview · lifeboat":        views.OverviewPage(views.OverviewView{Page: bare}),
		"Runs · lifeboat":            views.RunsPage(views.RunsView{Page: bare}),
		"Run #43 of shop · lifeboat": views.RunPage(views.RunView{Page: bare, Run: activeRun().Run}),
		"crm · lifeboat":             views.TargetPage(views.TargetView{Page: bare, Target: views.TargetRow{Name: "crm"}}),
		"Settings · lifeboat":        views.SettingsPage(views.SettingsView{Page: bare}),
		"Sign in · lifeboat":         views.LoginPage(views.LoginView{}),
		"No such run · lifeboat":     views.ErrorPage(views.ErrorView{Page: bare, Status: 404, Title: "No such run"}),
	} {
		doc, _ := renderPage(t, c)
		require.Equal(t, want, text(findAll(doc, tag("title"))[0]))
	}
	doc, _ := renderPage(t, views.RunPage(views.RunView{Page: bare, Run: activeRun().Run}))
	require.Equal(t, "page", attrOf(mustTestID(t, doc, "nav-runs"), "aria-current"), "the run page is under Runs")
}
