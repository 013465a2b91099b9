package server

import (
	"fmt"
	"net/http"

	"github.com/trellis-cp/trellis/core/httpx"
)

// limitBody caps request bodies at Options.MaxBodyBytes, or at the route's
// entry in Options.BodyLimits. A declared
// Content-Length over the cap is refused at once with 413 in the family's
// format, before the handler runs; a chunked body is cut by
// http.MaxBytesReader, whose error httpx.DecodeJSON maps to ErrTooLarge.
func (s *Server) limitBody(next http.Handler) http.Handler {
	def := s.opts.MaxBodyBytes
	routes := s.opts.BodyLimits
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		max := def
		if len(routes) > 0 {
			if n, ok := routes[r.Method+" "+r.URL.Path]; ok {
				max = n
			}
		}
		if max < 0 {
			// No limit: still tell DecodeJSON not to apply its default.
			next.ServeHTTP(w, r.WithContext(httpx.WithBodyLimit(r.Context(), max)))
			return
		}
		if r.ContentLength > max {
			httpx.Error(w, r, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body too large: %d bytes, limit is %d", r.ContentLength, max))
			return
		}
		r2 := r.WithContext(httpx.WithBodyLimit(r.Context(), max))
		r2.Body = http.MaxBytesReader(innermost(w), r.Body, max)
		next.ServeHTTP(w, r2)
	})
}
