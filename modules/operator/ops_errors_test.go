package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

func TestToOpsError(t *testing.T) {
	cases := []struct {
		err    error
		status int
		code   string
	}{
		{fmt.Errorf("member 9: %w", raft.ErrUnknownMember), http.StatusBadRequest, opsCodeMemberUnknown},
		{store.ErrNoAlarm, http.StatusNotFound, opsCodeNoAlarm},
		{httpx.ErrTooLarge, http.StatusRequestEntityTooLarge, apierr.CodeTooLarge},
		{store.ErrNoSpace, http.StatusInsufficientStorage, apierr.CodeNoSpace},
		{store.ErrAlarmCorrupt, http.StatusServiceUnavailable, apierr.CodeDataCorrupt},
		// HashKV's revision that timed out waiting to be applied.
		{fmt.Errorf("%w: %w", store.ErrFutureRevision, context.DeadlineExceeded), http.StatusBadRequest, apierr.CodeFutureRevision},
		{errors.New("disk on fire"), http.StatusInternalServerError, apierr.CodeInternal},
	}
	for _, c := range cases {
		if e := toOpsError(c.err); e.Status != c.status || e.Code != c.code {
			t.Errorf("toOpsError(%v) = %d %s, want %d %s", c.err, e.Status, e.Code, c.status, c.code)
		}
	}
	if m := toOpsError(store.ErrNoSpace).Message; m != store.ErrNoSpace.Error() {
		t.Errorf("no_space message %q, want the store's", m)
	}
}
