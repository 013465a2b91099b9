package server

import (
	"crypto/rand"
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/trellis-cp/trellis/core/httpx"
)

// HeaderRequestID carries the request id in both directions.
const HeaderRequestID = "X-Request-Id"

// maxRequestIDLen bounds an incoming id: it is logged and echoed, so an
// unbounded one would let a client bloat every log line.
const maxRequestIDLen = 128

// requestID honours an incoming X-Request-Id (so a proxy's or a client's id
// follows the request through the logs) or makes one, and sets it on the
// response. It is the first middleware: it gives the request the
// httpx.Scope the later ones fill in, with the id in it (httpx.RequestID).
// This is the one copy of the request the core chain makes.
func requestID(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := r.Header.Get(HeaderRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		w.Header()[HeaderRequestID] = []string{id}
		next.ServeHTTP(w, r.WithContext(httpx.WithScope(r.Context(), &httpx.Scope{RequestID: id})))
	})
}

// validRequestID accepts short printable ASCII ids; anything else (control
// characters could forge log lines) is replaced by a generated one.
func validRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x21 || c > 0x7e {
			return false
		}
	}
	return true
}

// Request ids made here are a random prefix drawn once per process and a
// counter: unique across nodes and restarts without a getrandom call per
// request (an id names a request in the logs, it guards nothing).
var (
	requestIDPrefix = rand.Text()[:12] + "-"
	requestIDSeq    atomic.Uint64
)

func newRequestID() string {
	return requestIDPrefix + strconv.FormatUint(requestIDSeq.Add(1), 36)
}
