package server

import (
	"fmt"
	"net/http"
	"runtime/debug"

	"github.com/trellis-cp/trellis/core/httpx"
)

// recoverer turns a panicking handler into a 500 in the family's format so
// one bad request cannot take the node down, and logs the panic with its
// stack and request id. http.ErrAbortHandler is re-panicked: it is
// net/http's way to abort a response on purpose.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := record(w)
		defer func() {
			p := recover()
			if p == nil {
				return
			}
			if p == http.ErrAbortHandler { //nolint:errorlint // sentinel compared as net/http does
				panic(p)
			}
			s.log.ErrorContext(r.Context(), "panic serving request",
				"panic", fmt.Sprint(p),
				"method", r.Method,
				"path", r.URL.Path,
				"request_id", httpx.RequestID(r.Context()),
				"stack", string(debug.Stack()))
			if rec.wrote {
				// The status line is already sent; a 500 now would be a
				// second header. Aborting the connection is the only way
				// left to tell the client the response is incomplete.
				panic(http.ErrAbortHandler)
			}
			clearHeaders(rec.Header())
			httpx.Error(rec, r, http.StatusInternalServerError, "internal server error")
		}()
		next.ServeHTTP(rec, r)
	})
}

// clearHeaders drops what the panicking handler set (a Content-Type or an
// ETag meant for a success) but keeps the request id.
func clearHeaders(h http.Header) {
	for k := range h {
		if k != HeaderRequestID {
			delete(h, k)
		}
	}
}
