package views_test

import (
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lifeboat-dev/lifeboat/internal/views"
)

func textOf(n *html.Node) string {
	if n.Type == html.TextNode {
		return n.Data
	}
	var s string
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		s += textOf(c)
	}
	return s
}

// Settings says where runs restore, and a superuser accepted on a restore
// server is an alert, its URL's password masked.
func TestSettingsRestoreSetup(t *testing.T) {
	t.Parallel()
	v := views.SettingsView{Page: page(views.NavSettings),
		Restore: views.RestoreSetup{Mode: "sandbox", Jobs: 4, SandboxDir: "/var/lib/lifeboat/lifeboat-sandbox"}}
	doc, _ := renderPage(t, views.SettingsPage(v))
	require.Contains(t, textOf(mustTestID(t, doc, "sandbox-mode")), "/var/lib/lifeboat/lifeboat-sandbox")
	require.Empty(t, findAll(doc, testID("superuser-warning")))

	v.Restore = views.RestoreSetup{Mode: "server", Jobs: 2, AllowSuperuser: true,
		Server: views.RedactURL("postgres://postgres:hunter2-secret@restore-host/postgres")}
	doc, src := renderPage(t, views.SettingsPage(v))
	warn := textOf(mustTestID(t, doc, "superuser-warning"))
	require.Contains(t, warn, "restore.allow_superuser")
	require.Equal(t, "alert", attrOf(mustTestID(t, doc, "superuser-warning"), "role"))
	require.Contains(t, textOf(mustTestID(t, doc, "restore-setup")), "restore-host")
	require.NotContains(t, src, "hunter2-secret")
	require.Empty(t, findAll(doc, testID("sandbox-mode")))
}
