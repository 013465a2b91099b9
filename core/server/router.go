package server

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
)

// Router returns the root router. Modules mount their routes on it (or on
// a Group of it) before Start. The middleware, the 404/405 handlers and the
// core routes are already in place: chi copies the 404/405 handlers into
// sub-routers only when they are mounted, so they must exist first.
func (s *Server) Router() chi.Router { return s.mux }

// newRouter builds the root router. Middleware order matters: the request
// id comes first so every later log line carries it; recovery wraps the
// access log and metrics so a panic is still logged and counted (as a
// 500); the rate limit refuses a flood before any real work (and before
// Options.Middleware, the audit log); the body limit is innermost, closest
// to the handler that reads.
func (s *Server) newRouter() *chi.Mux {
	r := chi.NewRouter()
	r.Use(
		requestID,
		s.recoverer,
		s.accessLog,
		s.instrument,
		s.limitRate,
	)
	r.Use(s.opts.Middleware...)
	r.Use(s.limitBody)
	r.NotFound(func(w http.ResponseWriter, r *http.Request) {
		httpx.Error(w, r, http.StatusNotFound, "not found: "+r.URL.Path)
	})
	r.MethodNotAllowed(s.methodNotAllowed)
	s.mountHealth(r)
	metricsHandler := s.metrics.Handler()
	if s.opts.MetricsGuard != nil {
		metricsHandler = s.opts.MetricsGuard(metricsHandler)
	}
	r.Method(http.MethodGet, "/metrics", metricsHandler)
	return r
}

// methods are the ones a 405's Allow header can list.
var methods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// methodNotAllowed answers 405 in the family's format with the Allow
// header RFC 9110 requires; chi sets Allow only in its default handler, so
// the allowed methods are found again by matching the path.
func (s *Server) methodNotAllowed(w http.ResponseWriter, r *http.Request) {
	var allowed []string
	for _, m := range methods {
		if s.mux.Match(chi.NewRouteContext(), m, r.URL.Path) {
			allowed = append(allowed, m)
		}
	}
	if len(allowed) > 0 {
		w.Header().Set("Allow", strings.Join(allowed, ", "))
	}
	httpx.Error(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path)
}
