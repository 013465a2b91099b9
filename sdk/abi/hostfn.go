package abi

// Host function names in module HostModule, with their wasm signatures.
// Pointers and lengths are i32; a negative i32 result is an error code (see
// Errno) whose message the guest may fetch with last_error.
const (
	FnLastError = "last_error" // (buf, limit i32) -> i32 length of the last error message

	FnLogEnabled = "log_enabled" // (level i32) -> i32 1 if enabled
	FnLog        = "log"         // (level, rec_ptr, rec_len i32); rec is a LogRecord

	FnConfigGet = "config_get" // (key_ptr, key_len, buf, limit i32) -> i32 value length | errno
	FnClockNow  = "clock_now"  // () -> i64 Unix nanoseconds

	FnHTTPRequest  = "http_request"   // (req_ptr, req_len i32) -> i32 handle | errno
	FnHTTPResponse = "http_response"  // (handle, buf, limit i32) -> i32 head length | errno
	FnHTTPBodyRead = "http_body_read" // (handle, buf, limit i32) -> i32 n (0 at EOF) | errno
	FnHTTPClose    = "http_close"     // (handle i32) -> i32 0 | errno

	FnTCPDial        = "tcp_dial"         // (addr_ptr, addr_len i32) -> i32 handle | errno
	FnTCPRead        = "tcp_read"         // (handle, buf, limit i32) -> i32 n (0 at EOF) | errno
	FnTCPWrite       = "tcp_write"        // (handle, ptr, len i32) -> i32 n | errno
	FnTCPSetDeadline = "tcp_set_deadline" // (handle, which i32, unix_nano i64) -> i32 0 | errno
	FnTCPClose       = "tcp_close"        // (handle i32) -> i32 0 | errno

	FnFileOpen  = "file_open"  // (path_ptr, path_len, flags i32) -> i32 handle | errno
	FnFileRead  = "file_read"  // (handle, buf, limit i32) -> i32 n (0 at EOF) | errno
	FnFileWrite = "file_write" // (handle, ptr, len i32) -> i32 n | errno
	FnFileClose = "file_close" // (handle i32) -> i32 0 | errno

	FnMetricCounterAdd = "metric_counter_add" // (name_ptr, name_len i32, delta f64) -> i32 0 | errno
	FnMetricGaugeSet   = "metric_gauge_set"   // (name_ptr, name_len i32, value f64) -> i32 0 | errno
)

// Errno is a host function's error code, always negative.
type Errno int32

// The error codes of ABI v1. A guest that sees one may call last_error for
// a message that says what was refused and why.
const (
	ErrnoDenied    Errno = -1 // the manifest does not grant this host, path or key
	ErrnoNotFound  Errno = -2 // no such config key, file or handle target
	ErrnoInvalid   Errno = -3 // malformed argument (bad pointer, encoding, flags)
	ErrnoIO        Errno = -4 // the operation failed (connection refused, HTTP error, disk)
	ErrnoTimeout   Errno = -5 // the call's deadline or a set deadline passed
	ErrnoBadHandle Errno = -6 // the handle is not open or is of another type
	ErrnoLimit     Errno = -7 // too many open handles, or a value over a size limit
)

var errnoNames = map[Errno]string{
	ErrnoDenied:    "denied",
	ErrnoNotFound:  "not found",
	ErrnoInvalid:   "invalid argument",
	ErrnoIO:        "i/o error",
	ErrnoTimeout:   "timeout",
	ErrnoBadHandle: "bad handle",
	ErrnoLimit:     "limit exceeded",
}

func (e Errno) String() string {
	if s, ok := errnoNames[e]; ok {
		return s
	}
	return "unknown error"
}

// Log levels, the values of log/slog's levels so either side converts with
// a cast.
const (
	LevelDebug int32 = -4
	LevelInfo  int32 = 0
	LevelWarn  int32 = 4
	LevelError int32 = 8
)

// File open flags for file_open. Zero opens for reading.
const (
	FileWrite    int32 = 1 << 0 // open for writing (read-write grants only)
	FileCreate   int32 = 1 << 1 // create if missing
	FileTruncate int32 = 1 << 2 // truncate on open
	FileAppend   int32 = 1 << 3 // writes go to the end
)

// Deadline selectors for tcp_set_deadline.
const (
	DeadlineRead  int32 = 1
	DeadlineWrite int32 = 2
)
