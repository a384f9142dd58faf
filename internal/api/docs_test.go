package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
	"gopkg.in/yaml.v3"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/api"
)

func TestAPIDocsListEveryOperation(t *testing.T) {
	t.Parallel()
	st := stateStore(t)
	srv, _ := serveAPI(t, &api.Server{Reader: st, Spec: lifeboat.OpenAPI, Logger: testLogger(t)}, st)

	// No token needed: the reference is public, like the spec.
	resp, body := send(t, http.MethodGet, srv.URL+"/api/docs", "", "")
	require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
	require.Contains(t, resp.Header.Get("Content-Type"), "text/html")
	doc, err := html.Parse(strings.NewReader(string(body)))
	require.NoError(t, err)
	sections := map[string]string{} // data-testid → text
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		for _, a := range n.Attr {
			if a.Key == "data-testid" {
				sections[a.Val] = text(n)
			}
			if (a.Key == "href" || a.Key == "src") && strings.Contains(a.Val, "://") {
				t.Errorf("the reference links outside lifeboat: %s", a.Val)
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)

	var spec struct {
		Paths map[string]map[string]struct {
			OperationID string `yaml:"operationId"`
			Summary     string `yaml:"summary"`
		} `yaml:"paths"`
		Components struct {
			Schemas map[string]yaml.Node `yaml:"schemas"`
		} `yaml:"components"`
	}
	require.NoError(t, yaml.Unmarshal(lifeboat.OpenAPI, &spec))
	for path, item := range spec.Paths {
		for method, op := range item {
			got, ok := sections["op-"+op.OperationID]
			require.True(t, ok, "%s %s (%s) is not in the reference", method, path, op.OperationID)
			require.Contains(t, got, strings.ToUpper(method)+" "+path)
			// `code` is rendered as <code>, which text() sets apart.
			require.Contains(t, strings.ReplaceAll(got, " ", ""), strings.NewReplacer("`", "", " ", "").Replace(op.Summary))
		}
	}
	for name := range spec.Components.Schemas {
		require.Contains(t, sections, "schema-"+name)
	}
	require.Contains(t, sections["op-createToken"], "TokenCreate", "the request body is named")
	require.Contains(t, sections["op-listRuns"], "cursor", "parameters are listed")
	require.Contains(t, sections["op-healthz"], "no token")
	require.NotContains(t, sections["op-listRuns"], "no token")
	// Markdown backticks become <code>, never shown raw.
	require.NotContains(t, string(body), "`")
	require.Contains(t, string(body), "<code>")
}

// text is a node's text content, whitespace collapsed.
func text(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
			sb.WriteString(" ")
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(sb.String()), " ")
}
