package apierr

import (
	"context"
	"errors"
	"net/http"

	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

// Matcher maps the errors one module knows to an *Error, and any other
// error to nil.
type Matcher func(err error) *Error

// Classify turns any error a handler returned into an *Error. An *Error
// in err's chain is returned as it is; then each matcher is tried in
// order, and the first non-nil answer wins; then the core errors are
// mapped:
//
//	*httpx.BadRequestError        400 invalid_request
//	httpx.ErrTooLarge             413 body_too_large
//	store.ErrCompacted            410 compacted
//	store.ErrFutureRevision       400 future_revision
//	store.ErrNoSpace              507 no_space
//	store.ErrAlarmCorrupt         503 data_corrupt
//	raft.IsUnavailable, ctx done  503 unavailable
//
// in that order: an error that wraps a cause keeps its own code (a
// future revision that timed out waiting to be applied is still
// future_revision, not unavailable).
// Whatever is left is a 500 internal: a storage failure, never a
// client's mistake.
func Classify(err error, match ...Matcher) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	for _, m := range match {
		if e := m(err); e != nil {
			return e
		}
	}
	var bre *httpx.BadRequestError
	switch {
	case errors.As(err, &bre):
		return BadRequest("invalid request body: %s", bre.Msg)
	case errors.Is(err, httpx.ErrTooLarge):
		return Errorf(http.StatusRequestEntityTooLarge, CodeTooLarge, "%s", err)
	case errors.Is(err, store.ErrCompacted):
		return Errorf(http.StatusGone, CodeCompacted, "%s", err)
	case errors.Is(err, store.ErrFutureRevision):
		return Errorf(http.StatusBadRequest, CodeFutureRevision, "%s", err)
	case errors.Is(err, store.ErrNoSpace):
		return Errorf(http.StatusInsufficientStorage, CodeNoSpace, "%s", err)
	case errors.Is(err, store.ErrAlarmCorrupt):
		return Errorf(http.StatusServiceUnavailable, CodeDataCorrupt, "%s", err)
	case raft.IsUnavailable(err), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return Errorf(http.StatusServiceUnavailable, CodeUnavailable, "cluster unavailable: %s", err)
	}
	return Errorf(http.StatusInternalServerError, CodeInternal, "internal error: %s", err)
}
