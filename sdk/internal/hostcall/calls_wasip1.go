//go:build wasip1

package hostcall

import (
	"unsafe"

	"github.com/trellis-cp/trellis/sdk/abi"
)

//go:wasmimport trellis_v1 last_error
func hLastError(buf unsafe.Pointer, limit uint32) int32

//go:wasmimport trellis_v1 log_enabled
func hLogEnabled(level int32) int32

//go:wasmimport trellis_v1 log
func hLog(level int32, rec unsafe.Pointer, n uint32)

//go:wasmimport trellis_v1 config_get
func hConfigGet(key unsafe.Pointer, keyLen uint32, buf unsafe.Pointer, limit uint32) int32

//go:wasmimport trellis_v1 clock_now
func hClockNow() int64

//go:wasmimport trellis_v1 http_request
func hHTTPRequest(req unsafe.Pointer, n uint32) int32

//go:wasmimport trellis_v1 http_response
func hHTTPResponse(h int32, buf unsafe.Pointer, limit uint32) int32

//go:wasmimport trellis_v1 http_body_read
func hHTTPBodyRead(h int32, buf unsafe.Pointer, limit uint32) int32

//go:wasmimport trellis_v1 http_close
func hHTTPClose(h int32) int32

//go:wasmimport trellis_v1 tcp_dial
func hTCPDial(addr unsafe.Pointer, n uint32) int32

//go:wasmimport trellis_v1 tcp_read
func hTCPRead(h int32, buf unsafe.Pointer, limit uint32) int32

//go:wasmimport trellis_v1 tcp_write
func hTCPWrite(h int32, p unsafe.Pointer, n uint32) int32

//go:wasmimport trellis_v1 tcp_set_deadline
func hTCPSetDeadline(h int32, which int32, unixNano int64) int32

//go:wasmimport trellis_v1 tcp_close
func hTCPClose(h int32) int32

//go:wasmimport trellis_v1 file_open
func hFileOpen(path unsafe.Pointer, n uint32, flags int32) int32

//go:wasmimport trellis_v1 file_read
func hFileRead(h int32, buf unsafe.Pointer, limit uint32) int32

//go:wasmimport trellis_v1 file_write
func hFileWrite(h int32, p unsafe.Pointer, n uint32) int32

//go:wasmimport trellis_v1 file_close
func hFileClose(h int32) int32

//go:wasmimport trellis_v1 metric_counter_add
func hMetricCounterAdd(name unsafe.Pointer, n uint32, delta float64) int32

//go:wasmimport trellis_v1 metric_gauge_set
func hMetricGaugeSet(name unsafe.Pointer, n uint32, value float64) int32

// fail builds the error for a negative result, fetching the host's message.
func fail(op string, code int32) error {
	return &Error{Op: op, Errno: abi.Errno(code), Msg: lastError()}
}

// maxChunk bounds one read or write: the host copies through a buffer of
// at most this size.
const maxChunk = 1 << 20

func clamp(p []byte) []byte {
	if len(p) > maxChunk {
		return p[:maxChunk]
	}
	return p
}

// ptr is the address of p's first byte, or nil for an empty slice (the host
// reads nothing then).
func ptr(p []byte) unsafe.Pointer { return unsafe.Pointer(unsafe.SliceData(p)) }

func sptr(s string) unsafe.Pointer { return unsafe.Pointer(unsafe.StringData(s)) }

func lastError() string {
	var small [256]byte
	n := hLastError(ptr(small[:]), uint32(len(small)))
	if n <= 0 {
		return ""
	}
	if int(n) <= len(small) {
		return string(small[:n])
	}
	big := make([]byte, n)
	if m := hLastError(ptr(big), uint32(len(big))); m > 0 && int(m) <= len(big) {
		return string(big[:m])
	}
	return ""
}

// LogEnabled reports whether the host logs at level; one cheap call, so a
// plugin skips building a message nobody will read.
func LogEnabled(level int32) bool { return hLogEnabled(level) != 0 }

// Log sends an encoded abi.LogRecord.
func Log(level int32, rec []byte) { hLog(level, ptr(rec), uint32(len(rec))) }

// ConfigGet reads a config value the manifest grants.
func ConfigGet(key string) (string, error) {
	var small [256]byte
	n := hConfigGet(sptr(key), uint32(len(key)), ptr(small[:]), uint32(len(small)))
	if n < 0 {
		return "", fail("config "+key, n)
	}
	if int(n) <= len(small) {
		return string(small[:n]), nil
	}
	big := make([]byte, n)
	m := hConfigGet(sptr(key), uint32(len(key)), ptr(big), uint32(len(big)))
	if m < 0 {
		return "", fail("config "+key, m)
	}
	return string(big[:min(int(m), len(big))]), nil
}

// ClockNow is the host's wall clock in Unix nanoseconds.
func ClockNow() int64 { return hClockNow() }

// HTTPRequest sends an encoded abi.HTTPRequest and returns a response
// handle once the head has arrived.
func HTTPRequest(req []byte) (int32, error) {
	h := hHTTPRequest(ptr(req), uint32(len(req)))
	if h < 0 {
		return 0, fail("http request", h)
	}
	return h, nil
}

// HTTPResponse returns the encoded abi.HTTPHead of a response.
func HTTPResponse(h int32) ([]byte, error) {
	buf := make([]byte, 1024)
	for {
		n := hHTTPResponse(h, ptr(buf), uint32(len(buf)))
		if n < 0 {
			return nil, fail("http response", n)
		}
		if int(n) <= len(buf) {
			return buf[:n], nil
		}
		buf = make([]byte, n)
	}
}

// HTTPBodyRead reads the next chunk of a response body; 0 means EOF.
func HTTPBodyRead(h int32, p []byte) (int, error) {
	p = clamp(p)
	n := hHTTPBodyRead(h, ptr(p), uint32(len(p)))
	if n < 0 {
		return 0, fail("http body", n)
	}
	return int(n), nil
}

// HTTPClose releases a response.
func HTTPClose(h int32) error {
	if n := hHTTPClose(h); n < 0 {
		return fail("http close", n)
	}
	return nil
}

// TCPDial connects to host:port.
func TCPDial(addr string) (int32, error) {
	h := hTCPDial(sptr(addr), uint32(len(addr)))
	if h < 0 {
		return 0, fail("dial "+addr, h)
	}
	return h, nil
}

// TCPRead reads up to len(p) bytes; 0 means EOF.
func TCPRead(h int32, p []byte) (int, error) {
	p = clamp(p)
	n := hTCPRead(h, ptr(p), uint32(len(p)))
	if n < 0 {
		return 0, fail("tcp read", n)
	}
	return int(n), nil
}

// TCPWrite writes up to len(p) bytes and returns how many were written.
func TCPWrite(h int32, p []byte) (int, error) {
	p = clamp(p)
	n := hTCPWrite(h, ptr(p), uint32(len(p)))
	if n < 0 {
		return 0, fail("tcp write", n)
	}
	return int(n), nil
}

// TCPSetDeadline sets the read and/or write deadline (0 clears it).
func TCPSetDeadline(h, which int32, unixNano int64) error {
	if n := hTCPSetDeadline(h, which, unixNano); n < 0 {
		return fail("tcp deadline", n)
	}
	return nil
}

// TCPClose closes a connection.
func TCPClose(h int32) error {
	if n := hTCPClose(h); n < 0 {
		return fail("tcp close", n)
	}
	return nil
}

// FileOpen opens a file under an allowed path.
func FileOpen(path string, flags int32) (int32, error) {
	h := hFileOpen(sptr(path), uint32(len(path)), flags)
	if h < 0 {
		return 0, fail("open "+path, h)
	}
	return h, nil
}

// FileRead reads up to len(p) bytes; 0 means EOF.
func FileRead(h int32, p []byte) (int, error) {
	p = clamp(p)
	n := hFileRead(h, ptr(p), uint32(len(p)))
	if n < 0 {
		return 0, fail("file read", n)
	}
	return int(n), nil
}

// FileWrite writes up to len(p) bytes.
func FileWrite(h int32, p []byte) (int, error) {
	p = clamp(p)
	n := hFileWrite(h, ptr(p), uint32(len(p)))
	if n < 0 {
		return 0, fail("file write", n)
	}
	return int(n), nil
}

// FileClose closes a file.
func FileClose(h int32) error {
	if n := hFileClose(h); n < 0 {
		return fail("file close", n)
	}
	return nil
}

// MetricCounterAdd adds delta to the plugin's counter name.
func MetricCounterAdd(name string, delta float64) error {
	if n := hMetricCounterAdd(sptr(name), uint32(len(name)), delta); n < 0 {
		return fail("counter "+name, n)
	}
	return nil
}

// MetricGaugeSet sets the plugin's gauge name.
func MetricGaugeSet(name string, value float64) error {
	if n := hMetricGaugeSet(sptr(name), uint32(len(name)), value); n < 0 {
		return fail("gauge "+name, n)
	}
	return nil
}
