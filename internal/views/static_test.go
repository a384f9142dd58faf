package views_test

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lifeboat-dev/lifeboat/internal/views"
)

func TestStaticFilesServedUnderVersionedNames(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(views.StaticHandler())
	defer srv.Close()

	for name, ctype := range map[string]string{
		"app.css": "text/css; charset=utf-8", "app.js": "text/javascript; charset=utf-8", "favicon.svg": "image/svg+xml",
	} {
		u := views.StaticURL(name)
		base := strings.TrimSuffix(name, filepath.Ext(name))
		require.Regexp(t, `^/static/`+regexp.QuoteMeta(base)+`\.[0-9a-f]{8}`+regexp.QuoteMeta(filepath.Ext(name))+`$`, u)

		res, err := http.Get(srv.URL + u)
		require.NoError(t, err)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		require.Equal(t, http.StatusOK, res.StatusCode, u)
		require.Equal(t, ctype, res.Header.Get("Content-Type"))
		require.Contains(t, res.Header.Get("Cache-Control"), "immutable")
		want, err := fs.ReadFile(views.Static, name)
		require.NoError(t, err)
		require.Equal(t, want, body)

		// The plain name is not served: pages always link the version.
		res, err = http.Get(srv.URL + views.StaticPrefix + name)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, http.StatusNotFound, res.StatusCode)
	}
	res, err := http.Post(srv.URL+views.StaticURL("app.css"), "text/plain", nil)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, res.StatusCode)
	require.Panics(t, func() { views.StaticURL("missing.css") })
}

// externalURL finds absolute URLs a browser would fetch or follow.
var externalURL = regexp.MustCompile(`(?i)(https?:)?//[a-z0-9.-]+\.[a-z]{2,}`)

// TestNoExternalURLs: lifeboat often runs without internet, so nothing in
// the templates, Go sources, stylesheet or script points outside it. The SVG
// namespace is an identifier, never fetched; lines marked data-example
// are teaching text.
func TestNoExternalURLs(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("*.templ")
	require.NoError(t, err)
	static, err := filepath.Glob("static/*")
	require.NoError(t, err)
	files = append(files, static...)
	goFiles, err := filepath.Glob("*.go")
	require.NoError(t, err)
	for _, f := range goFiles {
		if !strings.HasSuffix(f, "_test.go") && !strings.HasSuffix(f, "_templ.go") {
			files = append(files, f)
		}
	}
	require.Contains(t, files, "static/app.js")
	require.Contains(t, files, "layout.templ")
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.ReplaceAll(line, `xmlns="http://www.w3.org/2000/svg"`, "")
			if strings.Contains(line, "data-example") {
				continue
			}
			require.False(t, externalURL.MatchString(line), "%s:%d points outside lifeboat: %s", f, i+1, strings.TrimSpace(line))
		}
	}
	// And the rendered pages: every src and href is local.
	for name, c := range allPages() {
		_, src := renderPage(t, c)
		for _, m := range regexp.MustCompile(`(?:src|href|action)="([^"]*)"`).FindAllStringSubmatch(src, -1) {
			require.True(t, strings.HasPrefix(m[1], "/") || strings.HasPrefix(m[1], "#"), "%s links %q", name, m[1])
		}
	}
}
