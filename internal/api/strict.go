package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
	"gopkg.in/yaml.v3"

	"github.com/lifeboat-dev/lifeboat"
)

// The generated strict server (openapi.gen.go) parses parameters and
// bodies and calls the methods of StrictServerInterface on *Server; this
// file adapts it to lifeboat's errors.

// requestKey carries the request to operations whose responses write
// themselves (rawResponse).
type requestKey struct{}

// withRequest puts the request in the operation's context.
func withRequest(f StrictHandlerFunc, _ string) StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		return f(context.WithValue(ctx, requestKey{}, r), w, r, req)
	}
}

// requestOf returns the request an operation serves.
func requestOf(ctx context.Context) *http.Request {
	r, _ := ctx.Value(requestKey{}).(*http.Request)
	return r
}

// rawResponse is a response that writes itself with the request at hand:
// the live log tail, the metrics scrape and the spec.
type rawResponse struct {
	r     *http.Request
	serve http.HandlerFunc
}

func raw(ctx context.Context, serve http.HandlerFunc) rawResponse {
	return rawResponse{r: requestOf(ctx), serve: serve}
}

func (x rawResponse) visit(w http.ResponseWriter) error {
	x.serve(w, x.r)
	return nil
}

func (x rawResponse) VisitGetRunLogsResponse(w http.ResponseWriter) error { return x.visit(w) }
func (x rawResponse) VisitGetMetricsResponse(w http.ResponseWriter) error { return x.visit(w) }
func (x rawResponse) VisitGetSpecResponse(w http.ResponseWriter) error    { return x.visit(w) }
func (x rawResponse) VisitReadyzResponse(w http.ResponseWriter) error     { return x.visit(w) }

// requestError answers a request the generated code could not parse: a 400
// naming the parameter (or the body) and the problem.
func (s *Server) requestError(w http.ResponseWriter, r *http.Request, err error) {
	var (
		format   *InvalidParamFormatError
		required *RequiredParamError
		header   *RequiredHeaderError
		many     *TooManyValuesForParamError
		unmarsh  *UnmarshalingParamError
		le       *lifeboat.Error
	)
	switch {
	case errors.As(err, &le):
		// already says what is wrong
	case errors.As(err, &format) && len(r.URL.Query()[format.ParamName]) > 1:
		err = lifeboat.Errorf(lifeboat.EINVALID, "%s: given %d times, expected once", format.ParamName,
			len(r.URL.Query()[format.ParamName]))
	case errors.As(err, &format):
		err = lifeboat.Errorf(lifeboat.EINVALID, "%s: %q is not valid (%v)", format.ParamName,
			paramValue(r, format.ParamName), unwrapAll(format.Err))
	case errors.As(err, &unmarsh):
		err = lifeboat.Errorf(lifeboat.EINVALID, "%s: %v", unmarsh.ParamName, unwrapAll(unmarsh.Err))
	case errors.As(err, &required):
		err = lifeboat.Errorf(lifeboat.EINVALID, "%s: is required", required.ParamName)
	case errors.As(err, &header):
		err = lifeboat.Errorf(lifeboat.EINVALID, "%s: header is required", header.ParamName)
	case errors.As(err, &many):
		err = lifeboat.Errorf(lifeboat.EINVALID, "%s: given %d times, expected once", many.ParamName, many.Count)
	default: // the strict server's body decoding
		err = bodyError(unwrapAll(err))
	}
	s.problem(w, r, err)
}

// paramValue finds a parameter's raw value for an error message.
func paramValue(r *http.Request, name string) string {
	if v := chi.URLParam(r, name); v != "" {
		return v
	}
	if v, ok := r.URL.Query()[name]; ok && len(v) > 0 {
		return v[0]
	}
	return r.Header.Get(name)
}

// unwrapAll returns the innermost error: strconv's, not the binder's
// wrappings that repeat the parameter's name.
func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// checkQuery refuses query parameters openapi.yaml does not list for the
// operation: a misspelt filter must not silently widen a list.
func (s *Server) checkQuery(f StrictHandlerFunc, operation string) StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		known := queryParams()[operation]
		for name := range r.URL.Query() {
			if !slices.Contains(known, name) {
				if len(known) == 0 {
					return nil, lifeboat.Errorf(lifeboat.EINVALID, "%s: unknown query parameter (this operation takes none)", name)
				}
				return nil, lifeboat.Errorf(lifeboat.EINVALID, "%s: unknown query parameter (known: %s)",
					name, strings.Join(known, ", "))
			}
		}
		return f(ctx, w, r, req)
	}
}

// queryParams maps each operation (as the generated code names it:
// operationId with a capital) to the query parameters the spec lists.
var queryParams = sync.OnceValue(func() map[string][]string {
	m, err := specQueryParams(lifeboat.OpenAPI)
	if err != nil {
		panic(fmt.Sprintf("openapi.yaml: %v", err)) // embedded and tested: cannot happen at run time
	}
	return m
})

func specQueryParams(spec []byte) (map[string][]string, error) {
	type param struct {
		Ref  string `yaml:"$ref"`
		Name string `yaml:"name"`
		In   string `yaml:"in"`
	}
	var doc struct {
		Paths      map[string]map[string]yaml.Node `yaml:"paths"`
		Components struct {
			Parameters map[string]param `yaml:"parameters"`
		} `yaml:"components"`
	}
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for path, item := range doc.Paths {
		for method, node := range item {
			var op struct {
				OperationID string  `yaml:"operationId"`
				Parameters  []param `yaml:"parameters"`
			}
			if err := node.Decode(&op); err != nil || op.OperationID == "" {
				continue // not an operation (e.g. path-level parameters)
			}
			name := strings.ToUpper(op.OperationID[:1]) + op.OperationID[1:]
			out[name] = []string{}
			for _, p := range op.Parameters {
				if p.Ref != "" {
					ref, ok := doc.Components.Parameters[strings.TrimPrefix(p.Ref, "#/components/parameters/")]
					if !ok {
						return nil, fmt.Errorf("%s %s: unknown parameter %s", method, path, p.Ref)
					}
					p = ref
				}
				if p.In == "query" {
					out[name] = append(out[name], p.Name)
				}
			}
		}
	}
	return out, nil
}
