package views

import "strings"

// APIDoc is the API reference page: openapi.yaml, made readable.
type APIDoc struct {
	Page        Page
	Title       string
	Version     string
	Description string
	Operations  []APIOperation
	Schemas     []APISchema
}

// APIOperation is one method on one path.
type APIOperation struct {
	ID          string // operationId, the anchor
	Method      string // GET, POST, …
	Path        string
	Summary     string
	Description string
	Public      bool // no token needed
	Parameters  []APIField
	Body        string // the request body's schema name or media type; "" for none
	Responses   []APIResponse
}

// APIField is a parameter or a schema property.
type APIField struct {
	Name        string
	In          string // path, query, header; "" for properties
	Type        string
	Required    bool
	Description string
}

// APIResponse is one status an operation answers with.
type APIResponse struct {
	Status      string
	Description string
	Schema      string // schema name, or the media type
}

// APISchema is a component schema with its properties.
type APISchema struct {
	Name        string
	Description string
	Fields      []APIField
}

// paragraphs splits a spec description at blank lines.
func paragraphs(s string) []string {
	var out []string
	for _, p := range strings.Split(strings.TrimSpace(s), "\n\n") {
		if p = strings.TrimSpace(strings.ReplaceAll(p, "\n", " ")); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// mdSpan is a run of a description's text, in `backticks` (Code) or not.
type mdSpan struct {
	Text string
	Code bool
}

// inlineCode splits the spec's Markdown-ish text at backticks: the spans
// they enclose are code. An unpaired backtick stays as it is.
func inlineCode(s string) []mdSpan {
	var out []mdSpan
	for s != "" {
		i := strings.IndexByte(s, '`')
		j := -1
		if i >= 0 {
			j = strings.IndexByte(s[i+1:], '`')
		}
		if i < 0 || j < 0 {
			out = append(out, mdSpan{Text: s})
			break
		}
		if i > 0 {
			out = append(out, mdSpan{Text: s[:i]})
		}
		out = append(out, mdSpan{Text: s[i+1 : i+1+j], Code: true})
		s = s[i+2+j:]
	}
	return out
}
