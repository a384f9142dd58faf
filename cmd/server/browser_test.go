package main

// The dashboard end to end in a real headless Chromium (Debian's chromium,
// installed by the test command; LIFEBOAT_TEST_CHROMIUM names it), driven
// with chromedp against a real `lifeboat serve`.
//
// Memory: one browser process serves every test of this package (started
// by the first test that needs it, stopped by TestMain); each test gets a
// browser context of its own, like a private window, so parallel tests
// never share cookies (every server here listens on 127.0.0.1, and cookies
// ignore ports).

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/accessibility"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/testenv"
)

// browser is the package's one Chromium.
var browser struct {
	once   sync.Once
	ctx    context.Context // the first tab's context: it owns the browser
	cancel context.CancelFunc
	err    error
	output testenv.SyncBuffer // Chromium's stdout and stderr, for failures
}

func TestMain(m *testing.M) {
	code := m.Run()
	if browser.cancel != nil {
		browser.cancel() // waits for Chromium to exit and removes its profile
	}
	os.Exit(code)
}

func startBrowser(path string) (context.Context, context.CancelFunc, error) {
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("headless", "new"),
		chromedp.Flag("disable-gpu", true),
		// The machines that run the tests may have no internet: no
		// component downloads, no lookups of Google's hosts.
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.WindowSize(1280, 900),
		chromedp.CombinedOutput(&browser.output),
	)
	if os.Geteuid() == 0 {
		// Chromium's sandbox refuses to run as root.
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	stop := func() { cancel(); acancel() }
	if err := chromedp.Do(ctx); err != nil {
		stop()
		return nil, nil, err
	}
	return ctx, stop, nil
}

// tab is one test's browser tab, in a browser context of its own.
type tab struct {
	t    *testing.T
	ctx  context.Context
	base string // lifeboat's http://127.0.0.1:PORT
}

func newTab(t *testing.T, base string) *tab {
	t.Helper()
	path := testenv.Chromium(t)
	browser.once.Do(func() { browser.ctx, browser.cancel, browser.err = startBrowser(path) })
	require.NoError(t, browser.err, "start Chromium %s; its output:\n%s", path, browser.output.String())
	ctx, cancel := chromedp.NewContext(browser.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	// The first Do binds the tab to ctx, which has no deadline; each step
	// below gets its own.
	require.NoError(t, chromedp.Do(ctx), "open a tab")
	return &tab{t: t, ctx: ctx, base: base}
}

const stepTimeout = 30 * time.Second

// do runs steps that return nothing, failing the test with what and the
// page's state when one fails.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.state())
	}
}

// state describes the page for a failure message: where it is and the
// start of its text.
func (b *tab) state() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](
		`location.href + "\n----- page text -----\n" + (document.body ? document.body.innerText.slice(0, 1500) : "(no body)")`))
	if err != nil {
		return "(page state unavailable: " + err.Error() + ")"
	}
	return s
}

// eval evaluates a JavaScript expression in the page and decodes its value.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluate %.80q: %v\n%s", expr, err, b.state())
	}
	return v
}

// waitUntil polls a JavaScript condition until it holds.
func (b *tab) waitUntil(what, cond string, timeout time.Duration) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, timeout+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		b.t.Fatalf("waiting for %s (%s): %v\n%s", what, cond, err, b.state())
	}
}

// open navigates to path on lifeboat and returns the document's status.
func (b *tab) open(path string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v\n%s", path, err, b.state())
	}
	return resp.Status
}

// click clicks the element sel finds and waits for the page it loads,
// returning that document's status.
func (b *tab) click(sel string) int64 {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v\n%s", sel, err, b.state())
	}
	return resp.Status
}

// path is the page's location without scheme and host.
func (b *tab) path() string { return eval[string](b, `location.pathname + location.search`) }

// text is the trimmed text of the first element sel finds (waiting for it).
func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.TextContent(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v\n%s", sel, err, b.state())
	}
	return strings.Join(strings.Fields(s), " ")
}

// count is how many elements match sel now.
func (b *tab) count(sel string) int {
	b.t.Helper()
	return eval[int](b, `document.querySelectorAll(`+strconv.Quote(sel)+`).length`)
}

// screenshot saves the whole page as test-artifacts/browser/NAME.png at
// the repository's root (git-ignored).
func (b *tab) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err, "screenshot %s", name)
	dir := filepath.Join(repoRoot(b.t), "test-artifacts", "browser")
	require.NoError(b.t, os.MkdirAll(dir, 0o755))
	require.NoError(b.t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// colorScheme emulates the viewer's prefers-color-scheme ("light", "dark").
func (b *tab) colorScheme(scheme string) {
	b.t.Helper()
	b.do("emulate prefers-color-scheme: "+scheme, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	}))
	require.True(b.t, eval[bool](b, `matchMedia("(prefers-color-scheme: `+scheme+`)").matches`), "the emulation took")
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		require.NotEqual(t, dir, parent, "no go.mod above the test's folder")
		dir = parent
	}
}

// login signs in through the login form with an API token.
func (b *tab) login(token string) {
	b.t.Helper()
	b.do("fill in the token", chromedp.SetValue(chromedp.CSS(`[data-testid="login-secret"]`), token))
	status := b.click(`[data-testid="login-submit"]`)
	require.EqualValues(b.t, http.StatusOK, status, "the page after signing in\n%s", b.state())
	require.Zero(b.t, b.count(`[data-testid="login-secret"]`), "signed in, not back on the login form\n%s", b.state())
}

// --- accessibility -------------------------------------------------------

// checkAccessibility checks the page in both colour schemes: every form
// control has an accessible name (as Chromium computes it), headings go
// one level at a time under a single h1, and text (status badges among it)
// meets WCAG AA contrast. It returns how many status badges it measured.
func (b *tab) checkAccessibility(page string) (badges int) {
	b.t.Helper()
	problems := append(b.controlNameProblems(), b.headingProblems()...)
	var bodies []string
	for _, scheme := range []string{"light", "dark"} {
		b.colorScheme(scheme)
		bodies = append(bodies, eval[string](b, `getComputedStyle(document.body).backgroundColor`))
		low, n := b.contrastProblems()
		for _, p := range low {
			problems = append(problems, scheme+" scheme: "+p)
		}
		badges = n
	}
	b.colorScheme("light")
	require.Empty(b.t, problems, "%s: accessibility basics", page)
	require.NotEqual(b.t, bodies[0], bodies[1], "%s: the dark scheme changes the page's colours", page)
	return badges
}

// controlNameProblems asks Chromium's accessibility tree for the name of
// every rendered input, select, textarea and button.
func (b *tab) controlNameProblems() []string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	nodes, err := chromedp.Run(ctx, chromedp.Nodes(chromedp.CSSAll(`input:not([type="hidden"]), select, textarea, button`), chromedp.AtLeast(0)))
	require.NoError(b.t, err, "form controls")
	var problems []string
	for _, n := range nodes {
		res, err := chromedp.Call(ctx, accessibility.GetPartialAXTree, accessibility.GetPartialAXTreeParams{
			BackendNodeID: n.BackendNodeID, FetchRelatives: new(false),
		})
		require.NoError(b.t, err, "accessibility node of %s", describeNode(n))
		require.NotEmpty(b.t, res.Nodes, "%s has no accessibility node", describeNode(n))
		ax := res.Nodes[0]
		if ax.Ignored {
			continue // hidden: not exposed, nothing to name
		}
		var name string
		if ax.Name != nil && len(ax.Name.Value) > 0 {
			require.NoError(b.t, json.Unmarshal(ax.Name.Value, &name))
		}
		if strings.TrimSpace(name) == "" {
			problems = append(problems, describeNode(n)+" has no accessible name")
		}
	}
	return problems
}

func describeNode(n *chromedp.Node) string {
	s := strings.ToLower(n.NodeName)
	for _, a := range []string{"data-testid", "id", "name", "type"} {
		if v, ok := n.Attribute(a); ok {
			s += fmt.Sprintf("[%s=%q]", a, v)
		}
	}
	return s
}

// headingProblems: one h1, first, and no level skipped on the way down.
func (b *tab) headingProblems() []string {
	b.t.Helper()
	type heading struct {
		Level int    `json:"level"`
		Text  string `json:"text"`
	}
	hs := eval[[]heading](b, `[...document.querySelectorAll("h1,h2,h3,h4,h5,h6")].map(h => ({level: +h.tagName[1], text: h.textContent.trim().replace(/\s+/g, " ").slice(0, 60)}))`)
	if len(hs) == 0 {
		return []string{"no headings"}
	}
	var problems []string
	h1 := 0
	for _, h := range hs {
		if h.Level == 1 {
			h1++
		}
	}
	if h1 != 1 {
		problems = append(problems, fmt.Sprintf("%d h1 headings, want 1", h1))
	}
	if hs[0].Level != 1 {
		problems = append(problems, fmt.Sprintf("the first heading %q is h%d, not the h1", hs[0].Text, hs[0].Level))
	}
	for i := 1; i < len(hs); i++ {
		if hs[i].Level > hs[i-1].Level+1 {
			problems = append(problems, fmt.Sprintf("heading %q (h%d) skips a level after %q (h%d)",
				hs[i].Text, hs[i].Level, hs[i-1].Text, hs[i-1].Level))
		}
	}
	return problems
}

// contrastJS measures, for every rendered element holding text, its text
// colour against the background it sits on (semi-transparent layers
// composited over the first opaque ancestor), as WCAG 2 computes contrast.
// Status badges are reported apart so the test can insist they exist.
const contrastJS = `(() => {
  const parse = (c) => {
    const m = /^rgba?\(([^)]*)\)$/.exec(c);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return {r: p[0], g: p[1], b: p[2], a: p.length > 3 ? p[3] : 1};
  };
  const over = (top, under) => ({
    r: top.r * top.a + under.r * (1 - top.a),
    g: top.g * top.a + under.g * (1 - top.a),
    b: top.b * top.a + under.b * (1 - top.a), a: 1});
  const lum = (c) => {
    const f = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  };
  const background = (el) => {
    const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (!c) return {error: "unparsed background " + getComputedStyle(e).backgroundColor};
      if (c.a > 0) layers.push(c);
      if (c.a >= 1) break;
    }
    if (!layers.length || layers[layers.length - 1].a < 1) return {error: "no opaque background"};
    let bg = layers.pop();
    while (layers.length) bg = over(layers.pop(), bg);
    return bg;
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (el.closest("svg, script, style, template, [aria-hidden=true]")) continue;
    const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim() !== "");
    const badge = el.classList.contains("badge");
    if (!own && !badge) continue;
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue; // not rendered, or visually hidden
    const cs = getComputedStyle(el);
    if (cs.visibility !== "visible" || +cs.opacity === 0) continue;
    const name = el.tagName.toLowerCase() + (el.dataset.testid ? "[data-testid=" + el.dataset.testid + "]" : "") +
      (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
      ' "' + el.textContent.trim().replace(/\s+/g, " ").slice(0, 40) + '"';
    const fg0 = parse(cs.color);
    const bg = background(el);
    if (!fg0 || bg.error) { out.push({name, badge, error: bg.error || "unparsed colour " + cs.color}); continue; }
    const fg = fg0.a < 1 ? over(fg0, bg) : fg0;
    const l1 = lum(fg), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const size = parseFloat(cs.fontSize), weight = parseInt(cs.fontWeight, 10);
    // WCAG's large text: 18 pt, or 14 pt bold (24 px, 18.66 px).
    const large = size >= 24 || (size >= 18.66 && weight >= 700);
    out.push({name, badge, ratio, need: badge || !large ? 4.5 : 3, color: cs.color, background: "rgb(" + [bg.r, bg.g, bg.b].map(Math.round).join(", ") + ")"});
  }
  return out;
})()`

// contrastProblems lists the text below WCAG AA in the current colour
// scheme, and counts the status badges measured.
func (b *tab) contrastProblems() (problems []string, badges int) {
	b.t.Helper()
	type sample struct {
		Name       string  `json:"name"`
		Badge      bool    `json:"badge"`
		Ratio      float64 `json:"ratio"`
		Need       float64 `json:"need"`
		Color      string  `json:"color"`
		Background string  `json:"background"`
		Error      string  `json:"error"`
	}
	samples := eval[[]sample](b, contrastJS)
	if len(samples) == 0 {
		return []string{"no text measured"}, 0
	}
	for _, s := range samples {
		if s.Badge {
			badges++
		}
		switch {
		case s.Error != "":
			problems = append(problems, fmt.Sprintf("%s: %s", s.Name, s.Error))
		case s.Ratio < s.Need:
			problems = append(problems, fmt.Sprintf("%s: contrast %.2f:1 < %.1f:1 (%s on %s)", s.Name, s.Ratio, s.Need, s.Color, s.Background))
		}
	}
	return problems, badges
}

// --- the tests -----------------------------------------------------------

// browserConfig has two targets on the fixture's source: "app", whose
// checks pass, and "reports", whose SQL check fails.
func (f *fixture) browserConfig(t *testing.T) string {
	t.Helper()
	return f.config(t, f.stateURL, defaultChecks) + fmt.Sprintf(`  - name: reports
    database_url: %q
    storage: main
    checks:
      - {name: enough customers, sql: "SELECT count(*) FROM customers", expect: ">= 100000"}
`, f.sourceURL)
}

var runPath = regexp.MustCompile(`^/runs/(\d+)$`)

// TestBrowserDashboard walks the dashboard as an on-call engineer would:
// sign in with a token, read the overview, open a failed run, start a run
// and watch it finish live.
func TestBrowserDashboard(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.browserConfig(t))
	f.migrate(t, cfg)
	// The history the overview shows: one verified run, one failed check.
	f.mustRun(t, "run", "--config", cfg, "--target", "app")
	r := f.run(t, "run", "--config", cfg, "--target", "reports")
	require.ErrorContains(t, r.err, "enough customers", "the seeded failing run fails its check")
	failedRun := f.firstRunID + 1

	srv := startServe(t, f, cfg)
	b := newTab(t, srv.base)

	// Signing in: every page sends a stranger to the login form.
	b.open("/")
	require.Equal(t, "/login?next=%2F", b.path())
	b.checkAccessibility("login")
	b.do("type a wrong token", chromedp.SetValue(chromedp.CSS(`[data-testid="login-secret"]`), "lbt_notatoken_x"))
	require.EqualValues(t, http.StatusUnauthorized, b.click(`[data-testid="login-submit"]`))
	require.Contains(t, b.text(`[data-testid="login-error"]`), "not valid")
	b.login(srv.token)
	require.Equal(t, "/", b.path(), "back where the login came from")

	// The overview: each target's status as icon and word, the failing one
	// in the banner.
	good := `[data-testid="target-app"] [data-testid="status"] .badge`
	bad := `[data-testid="target-reports"] [data-testid="status"] .badge`
	require.Equal(t, "✓ verified", b.text(good))
	require.Equal(t, "✗ failing", b.text(bad))
	for _, sel := range []string{good, bad} {
		require.Equal(t, "true", eval[string](b, `document.querySelector(`+strconv.Quote(sel+" .badge-icon")+`).getAttribute("aria-hidden")`),
			"the icon is decoration; the word says it")
	}
	require.Equal(t, 1, b.count(`[data-testid="banner"] [data-testid="banner-reports"]`), "the failing target is in the banner\n%s", b.state())
	require.Zero(t, b.count(`[data-testid="banner"] [data-testid="banner-app"]`), "the verified target is not")
	require.Contains(t, b.text(`[data-testid="banner-reports"]`), "enough customers", "the banner says why")
	require.GreaterOrEqual(t, b.checkAccessibility("overview"), 3, "the status badges were measured")
	b.screenshot("overview")
	b.colorScheme("dark")
	b.screenshot("overview-dark")
	b.colorScheme("light")

	// The failed run, one click away: the failed check first, with what
	// was expected and what the restored copy had.
	require.EqualValues(t, http.StatusOK, b.click(`[data-testid="target-reports"] [data-testid="last-run"] a`))
	require.Equal(t, fmt.Sprintf("/runs/%d", failedRun), b.path())
	require.Equal(t, "✗ failed", b.text(`[data-testid="run-status"] .badge`))
	first := `[data-testid="checks"] [data-testid="check"]:first-child`
	require.Contains(t, b.text(first+` th`), "enough customers")
	require.Equal(t, "✗ failed", b.text(first+` [data-testid="check-result"] .badge`))
	require.Equal(t, ">= 100000", b.text(first+` [data-testid="check-expected"]`))
	require.Equal(t, "500", b.text(first+` [data-testid="check-observed"]`))
	require.Contains(t, b.text(`[data-testid="run-error"]`), "enough customers")
	require.Positive(t, b.checkAccessibility("failed run"), "the status badges were measured")
	b.screenshot("run-failed")

	// "Run now", held at the start of its backup: the test keeps the
	// source's customers table locked until pg_dump waits for it and the
	// open page is being watched, so the rest of the run must arrive live.
	admin := testenv.WithDatabase(t, testenv.PGURL(t), dbName(t, f.sourceURL))
	release := lockTable(t, admin, "customers")
	b.open("/")
	require.EqualValues(t, http.StatusOK, b.click(`[data-testid="target-app"] [data-testid="run-now"]`))
	m := runPath.FindStringSubmatch(b.path())
	require.NotNil(t, m, "Run now lands on the run page\n%s", b.state())
	runID, _ := strconv.ParseInt(m[1], 10, 64)
	require.Greater(t, runID, failedRun)
	status := eval[string](b, `document.querySelector('[data-testid="run-status"] .badge').dataset.status`)
	require.Contains(t, []string{"queued", "running"}, status, "the run is held, so still active")
	require.Equal(t, 1, b.count(`[data-testid="log"][data-live-src]`), "an active run's log is tailed")
	waitForLockWait(t, dbName(t, f.sourceURL))

	// Remember this document and watch what arrives in it.
	marker := testenv.RandomName("doc_")
	lastID := eval[int64](b, `Math.max(0, ...[...document.querySelectorAll('[data-testid="log"] li[data-id]')].map(l => +l.dataset.id))`)
	eval[chromedp.Void](b, `(() => {
  window.__lifeboatDoc = `+strconv.Quote(marker)+`;
  const seen = window.__lifeboatSeen = {ids: [], statuses: []};
  const status = () => { const s = document.querySelector('[data-testid="run-status"] .badge'); return s ? s.dataset.status : ""; };
  seen.statuses.push(status());
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes) {
      if (n.nodeType !== 1) continue;
      const lines = n.matches("li[data-id]") ? [n] : n.querySelectorAll("li[data-id]");
      for (const l of lines) seen.ids.push(+l.dataset.id);
    }
    const s = status();
    if (s !== seen.statuses[seen.statuses.length - 1]) seen.statuses.push(s);
  }).observe(document.body, {childList: true, subtree: true});
})()`)
	release()

	b.waitUntil("the run to be shown verified",
		`document.querySelector('[data-testid="run-status"] .badge[data-status="verified"]') !== null`, 2*time.Minute)
	b.waitUntil("every stage to be shown succeeded",
		`[...document.querySelectorAll('[data-testid="stages"] > li > .stage-head > .badge')].filter(x => x.dataset.status === "succeeded").length === 4`, 30*time.Second)
	require.Equal(t, marker, eval[string](b, `window.__lifeboatDoc || ""`), "the page was never reloaded")
	type seen struct {
		IDs      []int64  `json:"ids"`
		Statuses []string `json:"statuses"`
	}
	got := eval[seen](b, `window.__lifeboatSeen`)
	newer := 0
	for _, id := range got.IDs {
		if id > lastID {
			newer++
		}
	}
	require.Positive(t, newer, "log lines arrived in the open page after it loaded (last id %d then)", lastID)
	require.Equal(t, "verified", got.Statuses[len(got.Statuses)-1])
	require.Contains(t, []string{"queued", "running"}, got.Statuses[0], "statuses seen: %v", got.Statuses)
	require.Contains(t, b.text(`[data-testid="log"]`), "pg_restore finished without errors", "the whole log, restore included")
	run := apiRun(t, srv, runID)
	require.Equal(t, lifeboat.RunSucceeded, run.Status, "the API agrees: %s", run.Error)
	require.Equal(t, lifeboat.TriggerDashboard, run.Trigger)
	b.checkAccessibility("run")
	b.screenshot("run")

	// The other pages meet the same accessibility basics.
	for _, p := range []string{"/runs", "/targets/app", "/targets/reports", "/settings"} {
		require.EqualValues(t, http.StatusOK, b.open(p), "GET %s\n%s", p, b.state())
		b.checkAccessibility(p)
	}
	b.screenshot("runs")

	// River's UI is one click away in the navigation, and a link on its
	// page leads back (River's app renders beside it, not over it).
	require.EqualValues(t, http.StatusOK, b.click(`[data-testid="nav-riverui"]`))
	require.Equal(t, "/riverui/", b.path())
	b.waitUntil("River's UI to render", `document.querySelector("#root") && document.querySelector("#root").childElementCount > 0`, 30*time.Second)
	require.True(t, eval[bool](b, `(() => { const a = document.querySelector('[data-testid="riverui-back"]'); const r = a && a.getBoundingClientRect(); return !!r && r.width > 0 && r.height > 0 && getComputedStyle(a).visibility === "visible"; })()`),
		"the way back is shown\n%s", b.state())
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	_, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(`[data-testid="riverui-back"]`)))
	cancel()
	require.NoError(t, err, "follow the way back\n%s", b.state())
	require.Equal(t, "/", b.path())
	require.Equal(t, 1, b.count(`[data-testid="target-app"]`), "back on the overview")
}

// TestBrowserCrossSitePostRefused: a signed-in browser visiting another
// site's page that posts a form to lifeboat starts nothing.
func TestBrowserCrossSitePostRefused(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)
	srv := startServe(t, f, cfg)
	b := newTab(t, srv.base)
	b.open("/login")
	b.login(srv.token)

	action := srv.base + "/targets/app/runs"
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><html lang="en"><title>win a prize</title>
<form method="post" action="%s"><input type="hidden" name="queue" value="true"></form>
<script>document.forms[0].submit()</script></html>`, action)
	}))
	t.Cleanup(attacker.Close)

	// Another port of 127.0.0.1 is another origin but the same site, so
	// the SameSite=Lax cookie does go along: only the cross-origin check
	// stands in the way. localhost is another site altogether.
	for _, page := range []string{attacker.URL, strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1)} {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		responses := chromedp.Events(ctx, network.ResponseReceived)
		require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page)), "open %s", page)
		var status int64
		for ev, err := range responses {
			require.NoError(t, err, "waiting for the forged POST's response (from %s)\n%s", page, b.state())
			if ev.Type == network.ResourceTypeDocument && ev.Response.URL == action {
				status = ev.Response.Status
				break
			}
		}
		cancel()
		require.EqualValues(t, http.StatusForbidden, status, "a POST from %s", page)
		b.waitUntil("the refusal to show", `location.href === `+strconv.Quote(action)+` && document.body && document.body.innerText.includes("cross-origin")`, stepTimeout)
	}
	require.EqualValues(t, 0, testenv.QueryInt(t, f.stateURL, "SELECT count(*) FROM runs"), "no run was started")

	// Still signed in: the refusal was the cross-origin check's, not a
	// missing session's.
	require.EqualValues(t, http.StatusOK, b.open("/"))
	require.Equal(t, "/", b.path())
	require.Equal(t, 1, b.count(`[data-testid="target-app"] [data-testid="run-now"]`), "the overview, signed in\n%s", b.state())
}

// TestBrowserAccessibilityChecks: the checks the dashboard's pages pass
// do find what they look for, in the scheme where it happens.
func TestBrowserAccessibilityChecks(t *testing.T) {
	t.Parallel()
	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!DOCTYPE html><html lang="en"><head><title>bad</title><style>
body { background: #ffffff; color: #111111; }
.badge { color: #aaaaaa; background: rgba(255, 255, 255, 0.5); }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
@media (prefers-color-scheme: dark) { body { background: #000000; color: #eeeeee; } .dark-only { color: #333333; } }
</style></head><body>
<h1>One</h1><h3>Skipped a level</h3><h1>Two</h1>
<input data-testid="unlabelled"> <label for="named">Name</label><input id="named" data-testid="labelled">
<button data-testid="empty-button"></button> <button data-testid="named-button">Go</button>
<span class="badge" data-testid="pale">pale</span>
<p class="dark-only" data-testid="dark-only">fine in light, too dim in dark</p>
<p class="visually-hidden" style="color: #ffffff">for screen readers only</p>
</body></html>`)
	}))
	t.Cleanup(bad.Close)
	b := newTab(t, bad.URL)
	b.open("/")

	names := strings.Join(b.controlNameProblems(), "\n")
	require.Contains(t, names, `input[data-testid="unlabelled"]`)
	require.Contains(t, names, `button[data-testid="empty-button"]`)
	require.NotContains(t, names, `data-testid="labelled"`)
	require.NotContains(t, names, "named-button")

	headings := strings.Join(b.headingProblems(), "\n")
	require.Contains(t, headings, "2 h1 headings")
	require.Contains(t, headings, `"Skipped a level" (h3) skips a level after "One" (h1)`)

	b.colorScheme("light")
	light, badges := b.contrastProblems()
	require.Equal(t, 1, badges)
	require.Len(t, light, 1, "%v", light)
	require.Contains(t, light[0], "data-testid=pale")
	b.colorScheme("dark")
	dark, _ := b.contrastProblems()
	require.Len(t, dark, 2, "%v", dark)
	require.Contains(t, strings.Join(dark, "\n"), "data-testid=dark-only")
}

// lockTable holds an ACCESS EXCLUSIVE lock on table of the database at u
// until the returned func (or the test's end) releases it.
func lockTable(t *testing.T, u, table string) (release func()) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, u)
	require.NoError(t, err)
	tx, err := conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx.Exec(ctx, "LOCK TABLE "+pgx.Identifier{table}.Sanitize()+" IN ACCESS EXCLUSIVE MODE")
	require.NoError(t, err)
	var once sync.Once
	release = func() {
		once.Do(func() {
			_ = tx.Rollback(ctx)
			_ = conn.Close(ctx)
		})
	}
	t.Cleanup(release)
	return release
}

// waitForLockWait returns once a session on database db waits for a lock.
func waitForLockWait(t *testing.T, db string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for testenv.QueryInt(t, testenv.PGURL(t),
		"SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", db) == 0 {
		require.True(t, time.Now().Before(deadline), "no session on %s waits for the test's lock", db)
		time.Sleep(50 * time.Millisecond)
	}
}

// apiRun reads a run through the API with the serve's token.
func apiRun(t *testing.T, srv *served, id int64) lifeboat.Run {
	t.Helper()
	resp, err := srv.client.Get(fmt.Sprintf("%s/api/v1/runs/%d", srv.base, id))
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "body: %s", body)
	var run lifeboat.Run
	require.NoError(t, json.Unmarshal(body, &run))
	return run
}

// TestBrowserRestore restores a backup from the dashboard as an on-call
// engineer would: Restore… beside the backup, the database's URL with its
// password in a field of its own, its name typed to confirm, then the
// restore followed live on its page until it has finished, and its rows
// found in the database. The password never shows on a page, in a URL or
// in lifeboat's log. The commands the pages print for the backup's file
// work as printed.
func TestBrowserRestore(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	cfg := f.writeConfig(t, "lifeboat.yaml", f.config(t, f.stateURL, defaultChecks))
	f.migrate(t, cfg)
	f.mustRun(t, "run", "--config", cfg, "--target", "app")
	backupID := f.firstRunID

	// The database to restore into: empty, owned by a role whose password
	// nothing else uses, so finding it anywhere is a leak.
	base := testenv.PGURL(t)
	role, password := testenv.RandomName("lbdst_role_"), "dst-"+testenv.RandomName("pw")
	testenv.Exec(t, base, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, password))
	t.Cleanup(func() { dropRole(t, base, role) })
	into := testenv.CreateDB(t, "lbinto_")
	db := dbName(t, into)
	testenv.Exec(t, base, fmt.Sprintf("ALTER DATABASE %s OWNER TO %s", pgx.Identifier{db}.Sanitize(), role))
	u, err := url.Parse(into)
	require.NoError(t, err)
	u.User = url.User(role)
	bare := u.String()
	u.User = url.UserPassword(role, password)
	withPassword := u.String()

	srv := startServe(t, f, cfg)
	b := newTab(t, srv.base)
	b.open("/login")
	b.login(srv.token)
	noPassword := func(where string) {
		t.Helper()
		require.NotContains(t, eval[string](b, `document.documentElement.outerHTML`), password, "%s: the page", where)
		require.NotContains(t, b.path(), password, "%s: the URL", where)
	}

	// Restore… beside the stored backup.
	require.EqualValues(t, http.StatusOK, b.open("/targets/app"))
	require.EqualValues(t, http.StatusOK, b.click(fmt.Sprintf(`[data-testid="backup-%d"] [data-testid="restore"]`, backupID)))
	require.Equal(t, fmt.Sprintf("/backups/%d/restore", backupID), b.path())
	b.checkAccessibility("restore form")
	b.do("fill in the form",
		chromedp.SetValue(chromedp.CSS(`[data-testid="restore-url"]`), bare),
		chromedp.SetValue(chromedp.CSS(`[data-testid="restore-password"]`), password),
		chromedp.SetValue(chromedp.CSS(`[data-testid="restore-confirm"]`), db+"_typo"))
	b.screenshot("restore-form")
	// A wrong name: refused, nothing starts, the password is not sent back.
	require.EqualValues(t, http.StatusUnprocessableEntity, b.click(`[data-testid="restore-submit"]`))
	require.Contains(t, b.text(`[data-testid="restore-confirm-error"]`), db)
	noPassword("the refused form")
	require.Empty(t, eval[string](b, `document.querySelector('[data-testid="restore-password"]').value`))
	require.EqualValues(t, 0, testenv.QueryInt(t, f.stateURL, "SELECT count(*) FROM restores"))

	b.do("fill in the form again",
		chromedp.SetValue(chromedp.CSS(`[data-testid="restore-url"]`), bare),
		chromedp.SetValue(chromedp.CSS(`[data-testid="restore-password"]`), password),
		chromedp.SetValue(chromedp.CSS(`[data-testid="restore-confirm"]`), db))
	require.EqualValues(t, http.StatusOK, b.click(`[data-testid="restore-submit"]`))
	m := regexp.MustCompile(`^/restores/(\d+)$`).FindStringSubmatch(b.path())
	require.NotNil(t, m, "the form lands on the restore's page\n%s", b.state())
	restoreID := m[1]
	noPassword("the restore page")

	// Followed live: the page is never reloaded, yet ends up finished.
	marker := testenv.RandomName("doc_")
	eval[chromedp.Void](b, `window.__lifeboatDoc = `+strconv.Quote(marker))
	b.waitUntil("the restore to be shown succeeded",
		`document.querySelector('[data-testid="restore-status"] .badge[data-status="succeeded"]') !== null`, 2*time.Minute)
	require.Equal(t, marker, eval[string](b, `window.__lifeboatDoc || ""`), "the page was never reloaded")
	require.Zero(t, b.count(`[data-testid="restore-live"]`), "no longer live")
	checks := b.count(`[data-testid="checks"] [data-testid="check"]`)
	require.Positive(t, checks, "row counts compared with the manifest")
	require.Equal(t, checks, b.count(`[data-testid="checks"] [data-testid="check-result"] .badge[data-status="passed"]`))
	require.Contains(t, b.text(`[data-testid="log"]`), "restored database matches the backup")
	noPassword("the finished restore page")
	b.checkAccessibility("restore")
	b.screenshot("restore")

	// Its rows are in the database.
	for _, table := range []string{"customers", "orders"} {
		q := "SELECT count(*) FROM " + table
		require.Equal(t, testenv.QueryInt(t, f.sourceURL, q), testenv.QueryInt(t, withPassword, q), "rows of %s", table)
	}
	require.Positive(t, testenv.QueryInt(t, withPassword, "SELECT count(*) FROM orders"))

	// Listed on the restores page and the target's, as the API has it.
	require.EqualValues(t, http.StatusOK, b.open("/restores"))
	require.Contains(t, b.text(`[data-testid="restore-`+restoreID+`"] [data-testid="status"]`), "succeeded")
	b.checkAccessibility("restores")
	require.EqualValues(t, http.StatusOK, b.open("/targets/app"))
	require.Equal(t, 1, b.count(`[data-testid="restores"] [data-testid="restore-`+restoreID+`"]`))
	noPassword("the target page")
	resp, err := srv.client.Get(srv.base + "/api/v1/restores/" + restoreID)
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	var rs lifeboat.Restore
	require.NoError(t, json.Unmarshal(body, &rs))
	require.Equal(t, lifeboat.RestoreSucceeded, rs.Status)
	require.NotContains(t, string(body), password, "the API")
	require.NotContains(t, srv.stdout.String()+srv.stderr.String(), password, "lifeboat's log")
	require.EqualValues(t, 0, testenv.QueryInt(t, f.stateURL,
		"SELECT count(*) FROM restores WHERE database_url LIKE '%' || $1 || '%' OR database_url_sealed IS NOT NULL", password),
		"stored without the password, and the sealed copy erased")

	// The run page says how to use the backup's file; the lifeboat line
	// works as printed (the config and the URL set as it says).
	require.EqualValues(t, http.StatusOK, b.open(fmt.Sprintf("/runs/%d", backupID)))
	cli := b.text(`[data-testid="usage-cli"]`)
	second := testenv.CreateDB(t, "lbinto_")
	args := strings.Fields(strings.NewReplacer(`"$LIFEBOAT_CONFIG"`, cfg, `"$DATABASE_URL"`, second).Replace(cli))
	require.Equal(t, "lifeboat", args[0], cli)
	out := f.mustRun(t, args[1:]...)
	require.Contains(t, out, "restored ")
	require.EqualValues(t, 500, testenv.QueryInt(t, second, "SELECT count(*) FROM customers"))

	// And the by-hand pipeline, run by a shell on the downloaded file.
	pipe := b.text(`[data-testid="usage-pipe"]`)
	key := eval[string](b, `document.querySelector('[data-testid="artifact-key"]').textContent`)
	work := t.TempDir()
	stored, err := os.ReadFile(filepath.Join(f.dir, "backups", filepath.FromSlash(key)))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(work, "app-"+filepath.Base(key)), stored, 0o600))
	third := testenv.CreateDB(t, "lbinto_")
	sh := exec.Command("bash", "-o", "pipefail", "-c", pipe)
	sh.Dir = work
	sh.Env = append(os.Environ(), "DATABASE_URL="+third, "PATH="+ageBinDir(t)+":"+os.Getenv("PATH"))
	shOut, err := sh.CombinedOutput()
	require.NoError(t, err, "%s\n%s", pipe, shOut)
	require.EqualValues(t, 500, testenv.QueryInt(t, third, "SELECT count(*) FROM customers"), "%s", pipe)
}

// ageBinDir returns a folder holding the age command: the one on PATH, or
// one built from the age module version lifeboat uses (its command needs
// modules lifeboat does not, so it is installed as its own module).
func ageBinDir(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("age"); err == nil {
		return filepath.Dir(p)
	}
	list := exec.Command("go", "list", "-m", "-f", "{{.Version}}", "filippo.io/age")
	list.Dir = repoRoot(t)
	version, err := list.Output()
	require.NoError(t, err, "the age module's version")
	dir := t.TempDir()
	install := exec.Command("go", "install", "filippo.io/age/cmd/age@"+strings.TrimSpace(string(version)))
	install.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=")
	out, err := install.CombinedOutput()
	require.NoError(t, err, "install age: %s", out)
	return dir
}
