package api

import (
	"context"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/lifeboat-dev/lifeboat"
)

// PostgreSQL stores neither a NUL byte nor invalid UTF-8 in text, and
// refuses a query that carries one. Every text a request brings (query and
// form fields, path parameters, header parameters, JSON body strings) is
// checked here before a handler runs, so such input is a 400 naming the
// field, never a database error. store translates the database's refusal
// too, for anything that gets past this.

// badText says what is wrong with s for a text column, or "" when nothing.
func badText(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		return "contains a NUL byte"
	}
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	return ""
}

// textError is the 400 for field.
func textError(field, problem string) error {
	if badText(field) != "" {
		field = strconv.QuoteToASCII(field)
	}
	return lifeboat.Errorf(lifeboat.EINVALID, "%s: %s", field, problem)
}

// checkValues checks the names and values of query or form fields.
func checkValues(vals map[string][]string) error {
	for name, vs := range vals {
		if p := badText(name); p != "" {
			return textError(name, "parameter name "+p)
		}
		for _, v := range vs {
			if p := badText(v); p != "" {
				return textError(name, p)
			}
		}
	}
	return nil
}

// refuseBadText checks every request's query and, for pages, a form's
// fields.
func (s *Server) refuseBadText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := checkValues(r.URL.Query())
		if err == nil && r.Method == http.MethodPost && !strings.HasPrefix(r.URL.Path, "/api/") {
			if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
				if perr := r.ParseForm(); perr == nil {
					err = checkValues(r.PostForm)
				}
			}
		}
		if err != nil {
			s.answerBadText(w, r, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// refusePathText checks a routed page's path parameters.
func (s *Server) refusePathText(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if rc := chi.RouteContext(r.Context()); rc != nil {
			for i, name := range rc.URLParams.Keys {
				if i >= len(rc.URLParams.Values) {
					break
				}
				v := rc.URLParams.Values[i]
				if u, err := url.PathUnescape(v); err == nil {
					v = u // chi routes on the escaped path
				}
				if p := badText(v); p != "" {
					s.answerBadText(w, r, textError(name, p))
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) answerBadText(w http.ResponseWriter, r *http.Request, err error) {
	if r.URL.Path == "/api" || strings.HasPrefix(r.URL.Path, "/api/") {
		s.problem(w, r, err)
		return
	}
	s.pageError(w, r, err)
}

// checkText checks what the generated code parsed for an operation: path,
// query and header parameters and the JSON body, each named as the API
// names it (body.checks[0].sql).
func checkText(f StrictHandlerFunc, _ string) StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		if field, p := findBadText(reflect.ValueOf(req), ""); p != "" {
			return nil, textError(field, p)
		}
		return f(ctx, w, r, req)
	}
}

// findBadText walks v and returns the path of the first string that is
// not text, and what is wrong with it.
func findBadText(v reflect.Value, path string) (string, string) {
	switch v.Kind() {
	case reflect.String:
		return path, badText(v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return "", ""
		}
		return findBadText(v.Elem(), path)
	case reflect.Slice, reflect.Array:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return "", "" // raw bytes, not text
		}
		for i := range v.Len() {
			if f, p := findBadText(v.Index(i), path+"["+strconv.Itoa(i)+"]"); p != "" {
				return f, p
			}
		}
	case reflect.Map:
		iter := v.MapRange()
		for iter.Next() {
			key := iter.Key()
			name := joinField(path, "")
			if key.Kind() == reflect.String {
				name = joinField(path, key.String())
				if p := badText(key.String()); p != "" {
					return path, "has a key that " + p
				}
			}
			if f, p := findBadText(iter.Value(), name); p != "" {
				return f, p
			}
		}
	case reflect.Struct:
		t := v.Type()
		for i := range t.NumField() {
			sf := t.Field(i)
			if !sf.IsExported() {
				continue
			}
			name := path
			switch tag, _, _ := strings.Cut(sf.Tag.Get("json"), ","); {
			case tag == "-":
				continue
			case sf.Anonymous && tag == "":
				// embedded: its fields are the parent's
			case path == "" && sf.Name == "Body":
				name = "body"
			case path == "" && sf.Name == "Params":
				// query and header parameters are named by themselves
			case tag != "":
				name = joinField(path, tag)
			default:
				name = joinField(path, sf.Name)
			}
			if f, p := findBadText(v.Field(i), name); p != "" {
				return f, p
			}
		}
	}
	return "", ""
}

func joinField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
