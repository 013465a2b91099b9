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
		if r.ContentLength > max && max >= 0 {
			httpx.Error(w, r, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("request body too large: %d bytes, limit is %d", r.ContentLength, max))
			return
		}
		// Inside the server's chain the limit goes in the request's scope
		// and the body is replaced on the request requestID copied;
		// called on its own, limitBody copies the request as before.
		// With no limit (max < 0) DecodeJSON is still told not to apply
		// its default.
		if sc := httpx.ScopeOf(r.Context()); sc != nil {
			sc.SetBodyLimit(max)
		} else {
			r = r.WithContext(httpx.WithBodyLimit(r.Context(), max))
		}
		if max >= 0 {
			r.Body = http.MaxBytesReader(innermost(w), r.Body, max)
		}
		next.ServeHTTP(w, r)
	})
}
