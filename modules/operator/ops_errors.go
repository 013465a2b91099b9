package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

// Error codes in the "code" field of an ops error, beside etcdmonitor's
// "error" text, for clients that branch on them.
const (
	opsCodeInvalid       = "invalid_request"
	opsCodeTooLarge      = "body_too_large"
	opsCodeMemberUnknown = "member_not_found"
	opsCodeMisdirected   = "misdirected"
	opsCodeNoAlarm       = "alarm_not_found"
	opsCodeCompacted     = "compacted"
	opsCodeFuture        = "future_revision"
	opsCodeNoSpace       = "no_space"
	opsCodeCorrupt       = "data_corrupt"
	opsCodeUnavailable   = "unavailable"
	opsCodeInternal      = "internal"
)

// opsError is an answer other than 2xx: a status, a code, the message and
// any fields etcdmonitor adds to that error (compact's current_revision).
type opsError struct {
	status int
	code   string
	msg    string
	extra  map[string]any
}

func (e *opsError) Error() string { return e.msg }

func opsErrorf(status int, code, format string, args ...any) *opsError {
	return &opsError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func opsBadRequest(format string, args ...any) *opsError {
	return opsErrorf(http.StatusBadRequest, opsCodeInvalid, format, args...)
}

// with adds fields to the error body.
func (e *opsError) with(kv ...any) *opsError {
	if e.extra == nil {
		e.extra = map[string]any{}
	}
	for i := 0; i+1 < len(kv); i += 2 {
		e.extra[fmt.Sprint(kv[i])] = kv[i+1]
	}
	return e
}

// toOpsError classifies any error a handler returns. A client's mistake is
// never a 500: only what is left unclassified (a storage failure) is.
func toOpsError(err error) *opsError {
	var oe *opsError
	var bre *httpx.BadRequestError
	switch {
	case errors.As(err, &oe):
		return oe
	case errors.As(err, &bre):
		return opsBadRequest("invalid request body: %s", bre.Msg)
	case errors.Is(err, httpx.ErrTooLarge):
		return opsErrorf(http.StatusRequestEntityTooLarge, opsCodeTooLarge, "%s", err)
	case errors.Is(err, raft.ErrUnknownMember):
		return opsErrorf(http.StatusBadRequest, opsCodeMemberUnknown, "member not found: %s", err)
	case errors.Is(err, store.ErrNoAlarm):
		return opsErrorf(http.StatusNotFound, opsCodeNoAlarm, "%s", err)
	case errors.Is(err, store.ErrCompacted):
		return opsErrorf(http.StatusGone, opsCodeCompacted, "%s", err)
	case errors.Is(err, store.ErrFutureRevision):
		return opsErrorf(http.StatusBadRequest, opsCodeFuture, "%s", err)
	case errors.Is(err, store.ErrNoSpace):
		return opsErrorf(http.StatusInsufficientStorage, opsCodeNoSpace, "%s", err)
	case errors.Is(err, store.ErrAlarmCorrupt):
		return opsErrorf(http.StatusServiceUnavailable, opsCodeCorrupt, "%s", err)
	case raft.IsUnavailable(err), errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return opsErrorf(http.StatusServiceUnavailable, opsCodeUnavailable, "cluster unavailable: %s", err)
	}
	return opsErrorf(http.StatusInternalServerError, opsCodeInternal, "internal error: %s", err)
}

// opsFail answers err in etcdmonitor's format: {"error": msg, "code": code}
// plus the error's extra fields.
func (m *Module) opsFail(w http.ResponseWriter, r *http.Request, err error) {
	oe := toOpsError(err)
	if oe.status >= http.StatusInternalServerError {
		m.log.Error("ops request failed", "method", r.Method, "path", r.URL.Path, "status", oe.status, "err", err)
	}
	body := map[string]any{"error": oe.msg, "code": oe.code}
	for k, v := range oe.extra {
		body[k] = v
	}
	httpx.JSON(w, oe.status, body)
}
