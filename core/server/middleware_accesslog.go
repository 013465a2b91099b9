package server

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
)

// quietRoutes are polled by probes and scrapers every few seconds; their
// access lines go to debug so they do not drown the rest.
var quietRoutes = map[string]bool{
	"/admin/health":    true,
	"/health/ready":    true,
	"/health/node":     true,
	"/health/cluster":  true,
	"/cluster/healthy": true,
	"/api/v2/health":   true,
	"/api/v2/health/":  true,
	"/metrics":         true,
}

// accessLevel picks the level of a request's line: failures are info
// (client errors) or error (server errors); successful requests are debug,
// so a busy node does not spend its time writing a line per put. Mutations
// are recorded in the audit log either way; log.level: debug shows all.
func accessLevel(route string, status int) slog.Level {
	switch {
	case status >= 500:
		return slog.LevelError
	case quietRoutes[route]:
		return slog.LevelDebug
	case status >= 400:
		return slog.LevelInfo
	}
	return slog.LevelDebug
}

// accessLog writes one line per request. It runs inside recovery, so for a
// panicking handler it logs the 500 recovery is about to write and lets
// the panic continue.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := record(w)
		defer func() {
			p := recover()
			status := rec.Status()
			if p != nil && !rec.wrote {
				status = http.StatusInternalServerError
			}
			route := routePattern(r)
			level := accessLevel(route, status)
			if s.log.Enabled(r.Context(), level) {
				s.log.LogAttrs(r.Context(), level, "request",
					slog.String("method", r.Method),
					slog.String("path", r.URL.Path),
					slog.String("route", route),
					slog.Int("status", status),
					slog.Int64("bytes", rec.bytes),
					slog.Duration("duration", time.Since(start)),
					slog.String("request_id", httpx.RequestID(r.Context())),
					slog.String("remote", r.RemoteAddr))
			}
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}

// unmatchedRoute labels requests no route matched, so a scan of random
// paths adds one label value, not one per path.
const unmatchedRoute = "unmatched"

// routePattern is chi's pattern for the matched route (/api/kv/v3/{op}),
// read after the handler ran, when routing is complete.
func routePattern(r *http.Request) string {
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		if p := rctx.RoutePattern(); p != "" {
			return p
		}
	}
	return unmatchedRoute
}
