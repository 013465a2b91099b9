package server

import (
	"net/http"
	"time"
)

// instrument records trellis_http_requests_total and
// trellis_http_request_duration_seconds, labelled by route pattern (never
// the raw path: ids in paths would make unbounded series).
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := record(w)
		defer func() {
			p := recover()
			status := rec.Status()
			if p != nil && !rec.wrote {
				status = http.StatusInternalServerError
			}
			if status == 0 {
				// A handler that writes nothing gets an implicit 200.
				status = http.StatusOK
			}
			s.metrics.ObserveHTTP(routePattern(r), r.Method, status, time.Since(start))
			if p != nil {
				panic(p)
			}
		}()
		next.ServeHTTP(rec, r)
	})
}
