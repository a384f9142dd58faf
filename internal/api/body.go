package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"

	"github.com/lifeboat-dev/lifeboat"
)

// maxBody caps a JSON request body: every body the API takes is small.
const maxBody = 1 << 20

type bodyKey struct{}

// readBody reads an /api/v1 request's body, capped, and keeps its bytes for
// strictBody; the generated code decodes it from the copy.
func (s *Server) readBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/") || r.Body == nil || r.Body == http.NoBody {
			next.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.problem(w, r, lifeboat.Errorf(codeTooLarge, "body: larger than %d bytes", maxBody))
			return
		}
		if err != nil {
			s.problem(w, r, lifeboat.Errorf(lifeboat.EINVALID, "body: %v", err))
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(b))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), bodyKey{}, b)))
	})
}

// strictBody decodes a JSON body again, refusing fields the operation's
// schema does not have: a misspelt field must not be silently ignored.
// (The generated decoder is lenient.)
func strictBody(f StrictHandlerFunc, _ string) StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		raw, _ := ctx.Value(bodyKey{}).([]byte)
		v := reflect.ValueOf(req)
		if len(raw) > 0 && v.Kind() == reflect.Struct {
			if field := v.FieldByName("Body"); field.IsValid() && field.Kind() == reflect.Pointer &&
				field.Type().Elem().Kind() == reflect.Struct {
				dec := json.NewDecoder(bytes.NewReader(raw))
				dec.DisallowUnknownFields()
				if err := dec.Decode(reflect.New(field.Type().Elem()).Interface()); err != nil {
					return nil, bodyError(err)
				}
			}
		}
		return f(ctx, w, r, req)
	}
}

// bodyError names the offending field of a JSON body.
func bodyError(err error) error {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr):
		field := "body"
		if typeErr.Field != "" {
			field = "body." + typeErr.Field
		}
		return lifeboat.Errorf(lifeboat.EINVALID, "%s: expected %s, got %s", field, typeErr.Type, typeErr.Value)
	case errors.As(err, &syntaxErr):
		return lifeboat.Errorf(lifeboat.EINVALID, "body: not valid JSON at byte %d: %v", syntaxErr.Offset, syntaxErr)
	case errors.Is(err, io.EOF):
		return lifeboat.Errorf(lifeboat.EINVALID, "body: is required (a JSON object)")
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return lifeboat.Errorf(lifeboat.EINVALID, "body.%s: unknown field", strings.Trim(name, `"`))
	}
	return lifeboat.Errorf(lifeboat.EINVALID, "body: %s", strings.TrimPrefix(fmt.Sprint(err), "json: "))
}
