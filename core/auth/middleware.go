package auth

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
)

type principalKey struct{}

// FromContext returns the caller the middleware authenticated, or nil. A
// principal WithPrincipal set wins over the one in the request's scope.
func FromContext(ctx context.Context) *Principal {
	return httpx.ScopedValue[*Principal](ctx, principalKey{}, func(s *httpx.Scope) any { return s.Principal })
}

// WithPrincipal returns ctx carrying p (for tests and internal calls).
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// withCaller passes the authenticated caller on to next: in the request's
// scope when it has one, so the request is not copied for it.
func withCaller(r *http.Request, p *Principal) *http.Request {
	if sc := httpx.ScopeOf(r.Context()); sc != nil {
		sc.Principal = p
		return r
	}
	return r.WithContext(WithPrincipal(r.Context(), p))
}

// routeTable holds the permissions routes declared with Route; routes that
// declared nothing need read for GET, HEAD and OPTIONS and write otherwise.
type routeTable struct {
	mu    sync.RWMutex
	perms map[string]Permission // "METHOD pattern"
}

// Route registers h on r for method and pattern and declares the
// permission it needs. Use it for routes whose need differs from the
// default (read for safe methods, write for the rest): operator actions,
// admin-only endpoints, or a POST that only reads.
func (s *Service) Route(r chi.Router, method, pattern string, perm Permission, h http.HandlerFunc) {
	s.routes.mu.Lock()
	if s.routes.perms == nil {
		s.routes.perms = map[string]Permission{}
	}
	s.routes.perms[method+" "+pattern] = perm
	s.routes.mu.Unlock()
	r.Method(method, pattern, h)
}

func (s *Service) required(r *http.Request) Permission {
	pattern := ""
	if rc := chi.RouteContext(r.Context()); rc != nil {
		pattern = rc.RoutePattern()
	}
	s.routes.mu.RLock()
	p, ok := s.routes.perms[r.Method+" "+pattern]
	s.routes.mu.RUnlock()
	if ok {
		return p
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return PermRead
	}
	return PermWrite
}

// Middleware guards every route it wraps: no valid session is a 401, a
// session without the route's permission a 403, both in the format of the
// API family that owns the path.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx := r.Context()
		if allowsStale(r) {
			ctx = context.WithValue(ctx, staleKey{}, true)
		}
		p, err := s.Authenticate(ctx, TokenFromRequest(r))
		if err != nil {
			s.deny(w, r, err)
			return
		}
		if need := s.required(r); !p.Can(need) {
			httpx.ErrorCode(w, r, http.StatusForbidden, "permission_denied", "permission denied: "+need.String()+" required")
			return
		}
		next.ServeHTTP(w, withCaller(r, p))
	})
}

// Require is a middleware for handlers outside Middleware's reach (core
// routes) that need a given permission.
func (s *Service) Require(perm Permission) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			p := FromContext(r.Context())
			if p == nil {
				var err error
				if p, err = s.Authenticate(r.Context(), TokenFromRequest(r)); err != nil {
					s.deny(w, r, err)
					return
				}
			}
			if !p.Can(perm) {
				httpx.ErrorCode(w, r, http.StatusForbidden, "permission_denied", "permission denied: "+perm.String()+" required")
				return
			}
			next.ServeHTTP(w, withCaller(r, p))
		})
	}
}

func (s *Service) deny(w http.ResponseWriter, r *http.Request, err error) {
	if raft.IsUnavailable(err) {
		httpx.Error(w, r, http.StatusServiceUnavailable, "cannot check the session: "+err.Error())
		return
	}
	if !errors.Is(err, ErrNoSession) {
		s.logger.Warn("session check failed", "err", err)
	}
	httpx.ErrorCode(w, r, http.StatusUnauthorized, "unauthorized", "authentication required: "+ErrNoSession.Error())
}
