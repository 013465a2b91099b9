package server

import (
	"bufio"
	"net"
	"net/http"
)

// recorder wraps a ResponseWriter to learn the status and size of a
// response and whether its header is already on the wire (recovery must
// not write a 500 after that). One recorder is shared by every middleware
// of a request (see record). It keeps the writer's abilities: Flush for
// SSE, Hijack, and Unwrap so http.ResponseController reaches the
// connection (e.g. to lift the write deadline for a watch stream).
type recorder struct {
	http.ResponseWriter
	status   int
	bytes    int64
	wrote    bool
	hijacked bool
}

// record returns w's recorder, wrapping w if no middleware has done so.
func record(w http.ResponseWriter) *recorder {
	if rec, ok := w.(*recorder); ok {
		return rec
	}
	return &recorder{ResponseWriter: w}
}

func (r *recorder) WriteHeader(code int) {
	// 1xx informational headers (103 Early Hints) do not commit the
	// response; 101 Switching Protocols does.
	if !r.wrote && (code >= 200 || code == http.StatusSwitchingProtocols) {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Flush sends buffered data; SSE handlers type-assert http.Flusher.
func (r *recorder) Flush() {
	if !r.wrote {
		r.status, r.wrote = http.StatusOK, true
	}
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

// Hijack hands the connection over (WebSocket upgrades); it fails cleanly
// on HTTP/2, where the underlying writer cannot hijack.
func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(r.ResponseWriter).Hijack()
	if err == nil {
		r.hijacked, r.wrote = true, true
		if r.status == 0 {
			r.status = http.StatusSwitchingProtocols
		}
	}
	return conn, rw, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// Status is the response status, 0 if nothing has been written yet.
func (r *recorder) Status() int { return r.status }

var (
	_ http.Flusher  = (*recorder)(nil)
	_ http.Hijacker = (*recorder)(nil)
)

// innermost unwraps w to the writer net/http created: http.MaxBytesReader
// asks that writer, through an unexported method, to close the connection
// after an oversized body, and a wrapper would hide it.
func innermost(w http.ResponseWriter) http.ResponseWriter {
	for {
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return w
		}
		w = u.Unwrap()
	}
}
