package api

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5/middleware"

	"github.com/lifeboat-dev/lifeboat"
)

// Codes only HTTP has.
const (
	codeMethodNotAllowed = "method_not_allowed"
	codeTooManyRequests  = "too_many_requests"
	codeTooLarge         = "body_too_large"
)

// statusOf maps error codes to HTTP statuses: the one place that does.
func statusOf(code string) int {
	switch code {
	case lifeboat.EINVALID:
		return http.StatusBadRequest
	case lifeboat.ENOTFOUND:
		return http.StatusNotFound
	case lifeboat.ECONFLICT:
		return http.StatusConflict
	case lifeboat.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case lifeboat.EFORBIDDEN:
		return http.StatusForbidden
	case lifeboat.EGONE:
		return http.StatusGone
	case codeMethodNotAllowed:
		return http.StatusMethodNotAllowed
	case codeTooManyRequests:
		return http.StatusTooManyRequests
	case codeTooLarge:
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// problemBody is an RFC 9457 problem document.
type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// problem writes err as application/problem+json. Internal errors are
// logged and their details withheld.
func (s *Server) problem(w http.ResponseWriter, r *http.Request, err error) {
	code := lifeboat.ErrorCode(err)
	status := statusOf(code)
	detail := "internal error"
	var e *lifeboat.Error
	if errors.As(err, &e) && status != http.StatusInternalServerError {
		detail = e.Error()
	} else {
		s.Logger.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err,
			"request_id", middleware.GetReqID(r.Context()))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problemBody{
		Type: "https://lifeboat.dev/problems/" + code, Title: http.StatusText(status), Status: status, Detail: detail,
	})
}

func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		start := time.Now()
		next.ServeHTTP(ww, r)
		s.Logger.LogAttrs(r.Context(), slog.LevelDebug, "http", slog.String("method", r.Method),
			slog.String("path", r.URL.Path), slog.Int("status", ww.Status()), slog.Duration("took", time.Since(start)))
	})
}
