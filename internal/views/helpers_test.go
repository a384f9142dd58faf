package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
)

// renderPage renders c and parses it as a browser would.
func renderPage(t *testing.T, c templ.Component) (*html.Node, string) {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, c.Render(context.Background(), &buf))
	src := buf.String()
	doc, err := html.Parse(strings.NewReader(src))
	require.NoError(t, err)
	checkPageInvariants(t, doc)
	return doc, src
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attrOf(n *html.Node, key string) string {
	v, _ := attr(n, key)
	return v
}

// findAll returns every element under n (n included) that match accepts.
func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func testID(id string) func(*html.Node) bool {
	return func(n *html.Node) bool { return attrOf(n, "data-testid") == id }
}

// mustTestID finds the one element with data-testid=id under n.
func mustTestID(t *testing.T, n *html.Node, id string) *html.Node {
	t.Helper()
	found := findAll(n, testID(id))
	require.Len(t, found, 1, "elements with data-testid=%q", id)
	return found[0]
}

// hasClass reports whether n's class list holds c.
func hasClass(n *html.Node, c string) bool {
	return strings.Contains(" "+attrOf(n, "class")+" ", " "+c+" ")
}

// formOf is the form element around n.
func formOf(n *html.Node) *html.Node {
	for p := n; p != nil; p = p.Parent {
		if p.Type == html.ElementNode && p.Data == "form" {
			return p
		}
	}
	return nil
}

// requirePostForm checks that the button with data-testid=id posts to action.
func requirePostForm(t *testing.T, n *html.Node, id, action string) {
	t.Helper()
	btn := mustTestID(t, n, id)
	f := formOf(btn)
	require.NotNil(t, f, "%s is in a form", id)
	require.Equal(t, "post", attrOf(f, "method"), "%s posts", id)
	require.Equal(t, action, attrOf(f, "action"))
}

// checkPageInvariants holds on every page: headings in order, every form
// control labelled, state-changing forms are POSTs, times machine-readable
// with the UTC value on hover, nothing inline a strict CSP would block.
func checkPageInvariants(t *testing.T, doc *html.Node) {
	t.Helper()

	// Headings: one h1, first; no level skipped on the way down.
	heads := findAll(doc, func(n *html.Node) bool {
		return len(n.Data) == 2 && n.Data[0] == 'h' && n.Data[1] >= '1' && n.Data[1] <= '6'
	})
	if len(heads) > 0 {
		require.Equal(t, "h1", heads[0].Data, "the first heading is h1")
		require.Len(t, findAll(doc, tag("h1")), 1, "one h1 per page")
		prev := 1
		for _, h := range heads {
			lvl := int(h.Data[1] - '0')
			require.LessOrEqual(t, lvl, prev+1, "heading %q (%s) skips a level", text(h), h.Data)
			prev = lvl
		}
	}

	// Every input, select and textarea has a label.
	labelled := map[string]bool{}
	for _, l := range findAll(doc, tag("label")) {
		if f := attrOf(l, "for"); f != "" {
			labelled[f] = true
		}
	}
	ids := map[string]bool{}
	for _, n := range findAll(doc, func(n *html.Node) bool { return n.Data == "input" || n.Data == "select" || n.Data == "textarea" }) {
		if typ := attrOf(n, "type"); typ == "hidden" || typ == "submit" {
			continue
		}
		id := attrOf(n, "id")
		inLabel := false
		for p := n.Parent; p != nil; p = p.Parent {
			if p.Type == html.ElementNode && p.Data == "label" {
				inLabel = true
			}
		}
		require.True(t, inLabel || (id != "" && labelled[id]), "form control %s name=%q has no <label>", n.Data, attrOf(n, "name"))
	}
	for _, n := range findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "id"); return ok }) {
		id := attrOf(n, "id")
		require.False(t, ids[id], "duplicate id %q", id)
		ids[id] = true
	}

	// Forms: GET only for the filter; everything else POSTs.
	for _, f := range findAll(doc, tag("form")) {
		m := attrOf(f, "method")
		require.Contains(t, []string{"get", "post"}, m, "form %q has an explicit method", attrOf(f, "action"))
		if m == "get" {
			require.Equal(t, "search", attrOf(f, "role"), "only search forms use GET (%s)", attrOf(f, "action"))
		}
	}

	// Times: RFC 3339 in UTC, the UTC value on hover, text as fallback.
	for _, tm := range findAll(doc, tag("time")) {
		dt := attrOf(tm, "datetime")
		_, err := time.Parse(time.RFC3339, dt)
		require.NoError(t, err, "datetime %q", dt)
		require.True(t, strings.HasSuffix(dt, "Z"), "datetime %q is UTC", dt)
		require.True(t, strings.HasSuffix(attrOf(tm, "title"), " UTC"), "title of %q shows UTC", dt)
		require.NotEmpty(t, text(tm), "time %q has fallback text", dt)
	}

	// CSP: no inline script or style, no event-handler attributes.
	for _, s := range findAll(doc, tag("script")) {
		require.NotEmpty(t, attrOf(s, "src"), "inline <script>")
	}
	require.Empty(t, findAll(doc, tag("style")), "inline <style>")
	for _, n := range findAll(doc, func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			require.False(t, strings.HasPrefix(a.Key, "on"), "inline handler %s on <%s>", a.Key, n.Data)
			require.NotEqual(t, "style", a.Key, "inline style on <%s>", n.Data)
		}
	}

	// Badges say their status in words, with an icon.
	for _, b := range findAll(doc, func(n *html.Node) bool { return hasClass(n, "badge") }) {
		require.Regexp(t, `^\S+ \S.*`, text(b), "badge shows an icon and a word")
	}
}

var (
	utc     = time.UTC
	now     = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ago     = func(d time.Duration) time.Time { return now.Add(-d) }
	ptrTime = func(t time.Time) *time.Time { return &t }
)
