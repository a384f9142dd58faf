package views_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// byTestID finds the element with data-testid=id.
func byTestID(n *html.Node, id string) *html.Node {
	if n.Type == html.ElementNode {
		for _, a := range n.Attr {
			if a.Key == "data-testid" && a.Val == id {
				return n
			}
		}
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := byTestID(c, id); f != nil {
			return f
		}
	}
	return nil
}

var inline = map[string]bool{"span": true, "a": true, "code": true, "strong": true, "time": true}

// blockish spans are laid out apart from their neighbours: badges
// (inline-flex) and .sub lines (block).
func blockish(n *html.Node) bool {
	for _, a := range n.Attr {
		if a.Key == "class" {
			for _, c := range strings.Fields(a.Val) {
				if c == "badge" || c == "sub" {
					return true
				}
			}
		}
	}
	return false
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		// Elements separate words the way a browser lays them out (badges,
		// table cells, dt/dd); Fields below collapses the extra spaces.
		if n.Type == html.ElementNode && (!inline[n.Data] || blockish(n)) {
			b.WriteString(" ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func render(t *testing.T, v views.HomeView) *html.Node {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, views.Home(v).Render(context.Background(), &buf))
	doc, err := html.Parse(&buf)
	require.NoError(t, err)
	return doc
}

func TestHomeShowsTargetsAndLastRuns(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	doc := render(t, views.HomeView{Targets: []views.HomeTarget{
		{Name: "shop", Storage: "s3", Schedule: "0 3 * * *", LastRun: &lifeboat.Run{ID: 7, Status: lifeboat.RunFailed, CreatedAt: created}},
		{Name: "crm", Storage: "fs"},
	}})
	require.Nil(t, byTestID(doc, "empty"))
	shop := byTestID(doc, "target-shop")
	require.NotNil(t, shop)
	last := byTestID(shop, "last-run")
	require.Contains(t, text(last), "✖ failed", "status has an icon and a word")
	require.Contains(t, text(last), "2026-11-25 03:00 UTC")
	require.Contains(t, text(shop), "0 3 * * *")
	crm := byTestID(doc, "target-crm")
	require.Contains(t, text(byTestID(crm, "last-run")), "never run")
	require.Contains(t, text(crm), "manual only")
}

func TestHomeEmptyStateTeaches(t *testing.T) {
	t.Parallel()
	doc := render(t, views.HomeView{})
	empty := byTestID(doc, "empty")
	require.NotNil(t, empty)
	require.Contains(t, text(empty), "targets:")
	require.Nil(t, byTestID(doc, "targets"))
}
