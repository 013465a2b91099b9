package kv

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

// Error codes, in etcdmonitor's "code" field. key_not_found and
// permission_denied are etcdmonitor's own; KV_TAB_NOT_FOUND is what it
// answers for a tab_id when multi-cluster tabs are off.
const (
	codeInvalid        = "invalid_request"
	codeKeyTooLarge    = "key_too_large"
	codeValueTooLarge  = "value_too_large"
	codeNotFound       = "key_not_found"
	codeCompareFailed  = "compare_failed"
	codeCompacted      = "compacted"
	codeFutureRevision = "future_revision"
	codeNotFile        = "not_a_file"
	codeNotDir         = "not_a_directory"
	codeDirNotEmpty    = "dir_not_empty"
	codeRootReadOnly   = "root_read_only"
	codeUnavailable    = "unavailable"
	codeNoSpace        = "no_space"
	codeDataCorrupt    = "data_corrupt"
	codeTabNotFound    = "KV_TAB_NOT_FOUND"
	codeInternal       = "internal"
)

// apiError is an answer other than 200: a status, a code and a message.
type apiError struct {
	status int
	code   string
	msg    string
}

func (e *apiError) Error() string { return e.msg }

func errorf(status int, code, format string, args ...any) *apiError {
	return &apiError{status: status, code: code, msg: fmt.Sprintf(format, args...)}
}

func badRequest(format string, args ...any) *apiError {
	return errorf(http.StatusBadRequest, codeInvalid, format, args...)
}

// toAPIError classifies any error a handler returns. Only what is left
// unclassified is a 500: a storage failure, never a bad request.
func toAPIError(err error) *apiError {
	var ae *apiError
	var bre *httpx.BadRequestError
	switch {
	case errors.As(err, &ae):
		return ae
	case errors.As(err, &bre):
		return badRequest("invalid request body: %s", bre.Msg)
	case errors.Is(err, httpx.ErrTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, codeValueTooLarge, "%s", err)
	case errors.Is(err, store.ErrNoSpace):
		return errorf(http.StatusInsufficientStorage, codeNoSpace,
			"database space exceeded: writes are refused until space is freed (compact, defragment) and the NOSPACE alarm is disarmed")
	case errors.Is(err, store.ErrAlarmCorrupt):
		return errorf(http.StatusServiceUnavailable, codeDataCorrupt,
			"a member's data is corrupt: writes are refused until the CORRUPT alarm is disarmed")
	case raft.IsUnavailable(err), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return errorf(http.StatusServiceUnavailable, codeUnavailable, "cluster unavailable: %s", err)
	case errors.Is(err, store.ErrCompacted):
		return errorf(http.StatusGone, codeCompacted, "%s", err)
	case errors.Is(err, store.ErrFutureRevision):
		return errorf(http.StatusBadRequest, codeFutureRevision, "%s", err)
	case errors.Is(err, store.ErrNotFound):
		return errorf(http.StatusNotFound, codeNotFound, "key not found")
	case errors.Is(err, store.ErrEmptyKey):
		return badRequest("key is required")
	case errors.Is(err, store.ErrKeyTooLarge):
		return errorf(http.StatusBadRequest, codeKeyTooLarge, "%s", err)
	case errors.Is(err, store.ErrValueTooLarge):
		return errorf(http.StatusRequestEntityTooLarge, codeValueTooLarge, "%s", err)
	}
	return errorf(http.StatusInternalServerError, codeInternal, "internal error: %s", err)
}

// writeError answers in etcdmonitor's ErrorResponse shape.
func writeError(w http.ResponseWriter, e *apiError) {
	httpx.JSON(w, e.status, ErrorResponse{Error: e.msg, Code: e.code, Message: e.msg})
}
