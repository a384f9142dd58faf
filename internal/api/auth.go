package api

import (
	"context"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/lifeboat-dev/lifeboat"
)

// TokenService issues and checks API tokens (auth.Tokens).
type TokenService interface {
	// Authenticate returns the live token whose secret is raw, or an
	// EUNAUTHORIZED error that does not say what was wrong.
	Authenticate(ctx context.Context, raw string) (lifeboat.Token, error)
	Create(ctx context.Context, name string) (lifeboat.Token, string, error)
	List(ctx context.Context) ([]lifeboat.Token, error)
	Revoke(ctx context.Context, id int64, name string) (lifeboat.Token, error)
}

type tokenKey struct{}

// TokenOf returns the token a request was authenticated with.
func TokenOf(ctx context.Context) (lifeboat.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(lifeboat.Token)
	return t, ok
}

// authenticate guards /api/v1: a bearer token is required. Failed attempts
// are counted per client address; past the allowance the address gets 429
// without its token being looked at, so guessing is slow.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/v1/") {
			next.ServeHTTP(w, r)
			return
		}
		addr := clientAddr(r)
		if wait := s.authFailures().blocked(addr); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
			s.problem(w, r, lifeboat.Errorf(codeTooManyRequests,
				"Authorization: too many failed attempts from %s; retry in %s", addr, wait.Round(time.Second)))
			return
		}
		var tok lifeboat.Token
		var err error
		if _, hasAuth := r.Header["Authorization"]; !hasAuth && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
			// A signed-in dashboard reads through the API (EventSource
			// cannot send a header); it changes nothing through it.
			if t, ok := s.sessionToken(r); ok {
				next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
				return
			}
		}
		tok, err = s.checkBearer(r)
		if err != nil {
			if lifeboat.ErrorCode(err) == lifeboat.EUNAUTHORIZED {
				s.authFailures().fail(addr)
				w.Header().Set("WWW-Authenticate", `Bearer realm="lifeboat"`)
			}
			s.problem(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, tok)))
	})
}

func (s *Server) checkBearer(r *http.Request) (lifeboat.Token, error) {
	scheme, raw, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(raw) == "" {
		return lifeboat.Token{}, lifeboat.Errorf(lifeboat.EUNAUTHORIZED,
			`Authorization: expected "Bearer <token>" (create one with lifeboat token create)`)
	}
	if s.Tokens == nil { // a Server wired without tokens serves no API
		return lifeboat.Token{}, lifeboat.Errorf(lifeboat.EUNAUTHORIZED, "Authorization: this process accepts no tokens")
	}
	return s.Tokens.Authenticate(r.Context(), strings.TrimSpace(raw))
}

// clientAddr is the connection's peer address. Forwarded headers are not
// trusted: anyone could set them to dodge the failure limit.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// Failed authentications allowed per address: a burst of 10, then one
// every 6 seconds.
const (
	authFailureBurst = 10
	authFailureEvery = 6 * time.Second
	authFailureAddrs = 10000 // addresses remembered before forgiven ones are dropped
)

// failureLimiter counts failed authentications per client address.
type failureLimiter struct {
	mu    sync.Mutex
	addrs map[string]*rate.Limiter
}

func (s *Server) authFailures() *failureLimiter {
	s.failuresOnce.Do(func() { s.failures = &failureLimiter{addrs: map[string]*rate.Limiter{}} })
	return s.failures
}

// blocked returns how long addr must wait, or 0.
func (f *failureLimiter) blocked(addr string) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.addrs[addr]
	if !ok {
		return 0
	}
	if tokens := l.Tokens(); tokens < 1 {
		return time.Duration((1 - tokens) * float64(authFailureEvery))
	}
	return 0
}

// fail counts one failure of addr.
func (f *failureLimiter) fail(addr string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l, ok := f.addrs[addr]
	if !ok {
		if len(f.addrs) >= authFailureAddrs {
			for a, l := range f.addrs { // forget addresses whose allowance is whole again
				if l.Tokens() >= authFailureBurst {
					delete(f.addrs, a)
				}
			}
		}
		l = rate.NewLimiter(rate.Every(authFailureEvery), authFailureBurst)
		f.addrs[addr] = l
	}
	l.Allow()
}

// ListTokens lists tokens without their secrets.
func (s *Server) ListTokens(ctx context.Context, _ ListTokensRequestObject) (ListTokensResponseObject, error) {
	toks, err := s.Tokens.List(ctx)
	if err != nil {
		return nil, err
	}
	return ListTokens200JSONResponse{Tokens: toks}, nil
}

// CreateToken issues a token; its secret is in this response only.
func (s *Server) CreateToken(ctx context.Context, in CreateTokenRequestObject) (CreateTokenResponseObject, error) {
	tok, secret, err := s.Tokens.Create(ctx, in.Body.Name)
	if err != nil {
		return nil, err
	}
	return CreateToken201JSONResponse{Token: tok, Secret: secret}, nil
}

// RevokeToken revokes a token by id.
func (s *Server) RevokeToken(ctx context.Context, in RevokeTokenRequestObject) (RevokeTokenResponseObject, error) {
	if in.Id <= 0 {
		return nil, lifeboat.Errorf(lifeboat.EINVALID, "id: %d is not a token id", in.Id)
	}
	tok, err := s.Tokens.Revoke(ctx, in.Id, "")
	if err != nil {
		return nil, err
	}
	return RevokeToken200JSONResponse(tok), nil
}
