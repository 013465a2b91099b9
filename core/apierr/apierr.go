// Package apierr is the error a module's HTTP API answers with when it
// does not answer 2xx: a status, a machine-readable code, a message and
// optional extra body fields (compact's current_revision, say).
//
// Handlers return an *Error for the cases they recognise themselves and
// any other error as it is; the module turns what it got into an *Error
// with Classify, which maps the core errors (bad or too large request
// bodies, NOSPACE and CORRUPT alarms, an unavailable cluster, compacted
// and future revisions) and leaves the rest a 500 "internal". A module
// maps its own errors (kv's key_not_found, operator's member_not_found)
// by passing Matchers to Classify. Each module keeps its own writer: this
// package decides what an error is, not how it is written.
package apierr

import (
	"fmt"
	"net/http"
)

// Codes of the errors Classify and BadRequest produce. Modules add their
// own beside them.
const (
	CodeInvalid        = "invalid_request"
	CodeTooLarge       = "body_too_large"
	CodeNoSpace        = "no_space"
	CodeDataCorrupt    = "data_corrupt"
	CodeUnavailable    = "unavailable"
	CodeCompacted      = "compacted"
	CodeFutureRevision = "future_revision"
	CodeInternal       = "internal"
)

// Error is an answer other than 2xx.
type Error struct {
	// Status is the HTTP status.
	Status int
	// Code is the machine-readable code clients branch on.
	Code string
	// Message is the human-readable text.
	Message string
	// Extra holds further body fields, or is nil.
	Extra map[string]any
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf returns an error with the status, the code and the formatted
// message.
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 invalid_request with the formatted message.
func BadRequest(format string, args ...any) *Error {
	return Errorf(http.StatusBadRequest, CodeInvalid, format, args...)
}

// With adds body fields given as key, value pairs (a key is formatted
// with fmt.Sprint; an odd last key is ignored) and returns e.
func (e *Error) With(kv ...any) *Error {
	if e.Extra == nil {
		e.Extra = map[string]any{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e.Extra[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return e
}
