package apierr

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

func TestClassifyCore(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
		msg    string
	}{
		{&httpx.BadRequestError{Msg: "bad json"}, 400, CodeInvalid, "invalid request body: bad json"},
		{fmt.Errorf("body: %w", httpx.ErrTooLarge), 413, CodeTooLarge, "body: " + httpx.ErrTooLarge.Error()},
		{store.ErrNoSpace, 507, CodeNoSpace, store.ErrNoSpace.Error()},
		{store.ErrAlarmCorrupt, 503, CodeDataCorrupt, store.ErrAlarmCorrupt.Error()},
		{raft.ErrNoLeader, 503, CodeUnavailable, "cluster unavailable: " + raft.ErrNoLeader.Error()},
		{raft.ErrTimeout, 503, CodeUnavailable, "cluster unavailable: " + raft.ErrTimeout.Error()},
		{context.Canceled, 503, CodeUnavailable, "cluster unavailable: " + context.Canceled.Error()},
		{context.DeadlineExceeded, 503, CodeUnavailable, "cluster unavailable: " + context.DeadlineExceeded.Error()},
		{store.ErrCompacted, 410, CodeCompacted, store.ErrCompacted.Error()},
		{store.ErrFutureRevision, 400, CodeFutureRevision, store.ErrFutureRevision.Error()},
		{errors.New("disk on fire"), 500, CodeInternal, "internal error: disk on fire"},
		// A cause wrapped in a store error does not change its code.
		{fmt.Errorf("%w: 9 not applied: %w", store.ErrFutureRevision, context.DeadlineExceeded), 400, CodeFutureRevision,
			"store: revision is in the future: 9 not applied: context deadline exceeded"},
	}
	for _, c := range cases {
		e := Classify(c.err)
		if e.Status != c.status || e.Code != c.code || e.Message != c.msg {
			t.Errorf("Classify(%v) = %d %s %q, want %d %s %q", c.err, e.Status, e.Code, e.Message, c.status, c.code, c.msg)
		}
	}
}

func TestClassifyPassesErrorThrough(t *testing.T) {
	orig := Errorf(http.StatusNotFound, "key_not_found", "key not found").With("key", "a")
	if e := Classify(fmt.Errorf("get: %w", orig)); e != orig {
		t.Errorf("Classify(wrapped *Error) = %+v, want the same error", e)
	}
}

func TestClassifyMatchers(t *testing.T) {
	notFound := errors.New("not found")
	none := func(error) *Error { return nil }
	mine := func(err error) *Error {
		if errors.Is(err, notFound) || errors.Is(err, store.ErrNoSpace) {
			return Errorf(http.StatusNotFound, "mine", "%s", err)
		}
		return nil
	}
	if e := Classify(notFound, none, mine); e.Code != "mine" {
		t.Errorf("module error: code %s, want mine", e.Code)
	}
	if e := Classify(store.ErrNoSpace, none, mine); e.Code != "mine" {
		t.Errorf("matcher did not come before the core errors: code %s", e.Code)
	}
	if e := Classify(store.ErrCompacted, none, mine); e.Code != CodeCompacted {
		t.Errorf("unmatched core error: code %s, want compacted", e.Code)
	}
}
