package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"gopkg.in/yaml.v3"

	"github.com/lifeboat-dev/lifeboat"
	"github.com/lifeboat-dev/lifeboat/internal/views"
)

// GetDocs serves the API reference, rendered from openapi.yaml.
func (s *Server) GetDocs(ctx context.Context, _ GetDocsRequestObject) (GetDocsResponseObject, error) {
	doc, err := apiDoc()
	if err != nil {
		return nil, err
	}
	doc.Page = views.Page{Title: "API reference", Now: time.Now()}
	return raw(ctx, templ.Handler(views.APIDocs(doc)).ServeHTTP), nil
}

func (x rawResponse) VisitGetDocsResponse(w http.ResponseWriter) error { return x.visit(w) }

// apiDoc is the reference's view model, built once from the embedded spec.
var apiDoc = sync.OnceValues(func() (views.APIDoc, error) { return buildAPIDoc(lifeboat.OpenAPI) })

type specSchema struct {
	Ref         string                 `yaml:"$ref"`
	Type        any                    `yaml:"type"`
	Format      string                 `yaml:"format"`
	Enum        []any                  `yaml:"enum"`
	Items       *specSchema            `yaml:"items"`
	Description string                 `yaml:"description"`
	Required    []string               `yaml:"required"`
	Properties  map[string]*specSchema `yaml:"properties"`
}

type specParam struct {
	Ref         string      `yaml:"$ref"`
	Name        string      `yaml:"name"`
	In          string      `yaml:"in"`
	Required    bool        `yaml:"required"`
	Description string      `yaml:"description"`
	Schema      *specSchema `yaml:"schema"`
}

type specContent map[string]struct {
	Schema *specSchema `yaml:"schema"`
}

type specResponse struct {
	Ref         string      `yaml:"$ref"`
	Description string      `yaml:"description"`
	Content     specContent `yaml:"content"`
}

type specOperation struct {
	OperationID string                         `yaml:"operationId"`
	Summary     string                         `yaml:"summary"`
	Description string                         `yaml:"description"`
	Security    *[]map[string][]string         `yaml:"security"`
	Parameters  []specParam                    `yaml:"parameters"`
	RequestBody *struct{ Content specContent } `yaml:"requestBody"`
	Responses   map[string]specResponse        `yaml:"responses"`
}

func buildAPIDoc(spec []byte) (views.APIDoc, error) {
	var doc struct {
		Info struct {
			Title, Version, Description string
		} `yaml:"info"`
		Paths      map[string]map[string]specOperation `yaml:"paths"`
		Components struct {
			Parameters map[string]specParam    `yaml:"parameters"`
			Responses  map[string]specResponse `yaml:"responses"`
			Schemas    map[string]*specSchema  `yaml:"schemas"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		return views.APIDoc{}, fmt.Errorf("openapi.yaml: %w", err)
	}
	out := views.APIDoc{Title: doc.Info.Title, Version: doc.Info.Version, Description: doc.Info.Description}
	for path, item := range doc.Paths {
		for method, op := range item {
			o := views.APIOperation{ID: op.OperationID, Method: strings.ToUpper(method), Path: path,
				Summary: op.Summary, Description: op.Description, Public: op.Security != nil && len(*op.Security) == 0}
			for _, p := range op.Parameters {
				if p.Ref != "" {
					p = doc.Components.Parameters[refName(p.Ref)]
				}
				o.Parameters = append(o.Parameters, views.APIField{Name: p.Name, In: p.In, Required: p.Required || p.In == "path",
					Type: typeName(p.Schema), Description: p.Description})
			}
			if op.RequestBody != nil {
				o.Body = contentName(op.RequestBody.Content)
			}
			for status, r := range op.Responses {
				if r.Ref != "" {
					r = doc.Components.Responses[refName(r.Ref)]
				}
				o.Responses = append(o.Responses, views.APIResponse{Status: status, Description: r.Description,
					Schema: contentName(r.Content)})
			}
			sort.Slice(o.Responses, func(i, j int) bool { return o.Responses[i].Status < o.Responses[j].Status })
			out.Operations = append(out.Operations, o)
		}
	}
	methodOrder := map[string]int{"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
	sort.Slice(out.Operations, func(i, j int) bool {
		a, b := out.Operations[i], out.Operations[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return methodOrder[a.Method] < methodOrder[b.Method]
	})
	for name, s := range doc.Components.Schemas {
		sc := views.APISchema{Name: name, Description: s.Description}
		for prop, ps := range s.Properties {
			sc.Fields = append(sc.Fields, views.APIField{Name: prop, Type: typeName(ps),
				Required: slices.Contains(s.Required, prop), Description: ps.Description})
		}
		sort.Slice(sc.Fields, func(i, j int) bool { return sc.Fields[i].Name < sc.Fields[j].Name })
		out.Schemas = append(out.Schemas, sc)
	}
	sort.Slice(out.Schemas, func(i, j int) bool { return out.Schemas[i].Name < out.Schemas[j].Name })
	return out, nil
}

func refName(ref string) string { return ref[strings.LastIndex(ref, "/")+1:] }

// contentName names a body: its schema when it has a named one, else the
// media type.
func contentName(c specContent) string {
	types := make([]string, 0, len(c))
	for mt := range c {
		types = append(types, mt)
	}
	sort.Strings(types)
	for _, mt := range types {
		if s := c[mt].Schema; s != nil && s.Ref != "" {
			return refName(s.Ref)
		}
	}
	return strings.Join(types, ", ")
}

// typeName renders a schema's type in a few words: "integer (int64)",
// "array of Run", "string: a | b".
func typeName(s *specSchema) string {
	if s == nil {
		return ""
	}
	if s.Ref != "" {
		return refName(s.Ref)
	}
	var t string
	switch v := s.Type.(type) {
	case string:
		t = v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		t = strings.Join(parts, " or ")
	}
	if t == "array" && s.Items != nil {
		return "array of " + typeName(s.Items)
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, e := range s.Enum {
			vals[i] = fmt.Sprint(e)
		}
		t += ": " + strings.Join(vals, " | ")
	}
	return t
}
