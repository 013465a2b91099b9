package kv

import (
	"errors"
	"net/http"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// Error codes of this module, in etcdmonitor's "code" field, beside
// apierr's shared ones. key_not_found and permission_denied are
// etcdmonitor's own; KV_TAB_NOT_FOUND is what it answers for a tab_id
// when multi-cluster tabs are off.
const (
	codeKeyTooLarge   = "key_too_large"
	codeValueTooLarge = "value_too_large"
	codeNotFound      = "key_not_found"
	codeCompareFailed = "compare_failed"
	codeNotFile       = "not_a_file"
	codeNotDir        = "not_a_directory"
	codeDirNotEmpty   = "dir_not_empty"
	codeRootReadOnly  = "root_read_only"
	codeTabNotFound   = "KV_TAB_NOT_FOUND"
)

// toAPIError classifies any error a handler returns: this module's own
// errors, then apierr's core ones. Only what is left unclassified is a
// 500: a storage failure, never a bad request.
func toAPIError(err error) *apierr.Error {
	return apierr.Classify(err, kvError)
}

// kvError maps the errors this module answers differently from
// apierr.Classify, or that Classify does not know; nil for the rest.
// A body over the limit is value_too_large here, and the alarms say how
// to clear them.
func kvError(err error) *apierr.Error {
	switch {
	case errors.Is(err, httpx.ErrTooLarge), errors.Is(err, store.ErrValueTooLarge):
		return apierr.Errorf(http.StatusRequestEntityTooLarge, codeValueTooLarge, "%s", err)
	case errors.Is(err, store.ErrNoSpace):
		return apierr.Errorf(http.StatusInsufficientStorage, apierr.CodeNoSpace,
			"database space exceeded: writes are refused until space is freed (compact, defragment) and the NOSPACE alarm is disarmed")
	case errors.Is(err, store.ErrAlarmCorrupt):
		return apierr.Errorf(http.StatusServiceUnavailable, apierr.CodeDataCorrupt,
			"a member's data is corrupt: writes are refused until the CORRUPT alarm is disarmed")
	case errors.Is(err, store.ErrNotFound):
		return apierr.Errorf(http.StatusNotFound, codeNotFound, "key not found")
	case errors.Is(err, store.ErrEmptyKey):
		return apierr.BadRequest("key is required")
	case errors.Is(err, store.ErrKeyTooLarge):
		return apierr.Errorf(http.StatusBadRequest, codeKeyTooLarge, "%s", err)
	}
	return nil
}

// writeError answers in etcdmonitor's ErrorResponse shape.
func writeError(w http.ResponseWriter, e *apierr.Error) {
	httpx.JSON(w, e.Status, errorResponse(e))
}

// errorResponse is e in etcdmonitor's ErrorResponse shape, for
// writeError and the watch stream's last event.
func errorResponse(e *apierr.Error) ErrorResponse {
	return ErrorResponse{Error: e.Message, Code: e.Code, Message: e.Message}
}
