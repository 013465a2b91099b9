package audit

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// failFirst returns a write hook that fails the first n writes with err,
// and the count of writes tried.
func failFirst(n int64, err error) (func() error, *atomic.Int64) {
	var tries atomic.Int64
	return func() error {
		if tries.Add(1) <= n {
			return err
		}
		return nil
	}, &tries
}

// A write that fails while leadership moves is tried again and lands: the
// entry is in the log once, nothing counted as failed.
func TestFlushRetriesWhileUnavailable(t *testing.T) {
	for _, err := range []error{raft.ErrTimeout, fmt.Errorf("store: txn: %w", raft.ErrNoLeader)} {
		t.Run(err.Error(), func(t *testing.T) {
			l := newLog(t, Options{})
			hook, tries := failFirst(writeAttempts-1, err)
			l.writeHook = hook
			l.Record(Entry{Operation: "POST /v1/operator/raft/transfer-leader", Status: 200, Success: true})
			waitTotal(t, l, 1)
			if got := tries.Load(); got != writeAttempts {
				t.Errorf("%d writes tried, want %d", got, writeAttempts)
			}
			if got := l.failed.Load(); got != 0 {
				t.Errorf("failed = %d, want 0", got)
			}
		})
	}
}

// Tries are bounded: a cluster that stays unavailable loses the batch after
// writeAttempts, counted as failed, and the flusher goes on with the next.
func TestFlushGivesUpAfterAttempts(t *testing.T) {
	l := newLog(t, Options{})
	hook, tries := failFirst(writeAttempts, raft.ErrTimeout)
	l.writeHook = hook
	l.Record(Entry{Operation: "POST /lost", Status: 200, Success: true})
	testutil.Eventually(t, 10*time.Second, "the batch counted as failed", func() bool { return l.failed.Load() == 1 })
	if got := tries.Load(); got != writeAttempts {
		t.Errorf("%d writes tried, want %d", got, writeAttempts)
	}
	l.Record(Entry{Operation: "POST /kept", Status: 200, Success: true})
	waitTotal(t, l, 1)
}

// Errors that another try cannot fix, and a stopping node, are not retried.
func TestFlushDoesNotRetryOtherErrors(t *testing.T) {
	for _, err := range []error{errors.New("store: value too large"), raft.ErrStopped} {
		t.Run(err.Error(), func(t *testing.T) {
			l := newLog(t, Options{})
			hook, tries := failFirst(1, err)
			l.writeHook = hook
			l.Record(Entry{Operation: "POST /once", Status: 200, Success: true})
			testutil.Eventually(t, 10*time.Second, "the batch counted as failed", func() bool { return l.failed.Load() == 1 })
			if got := tries.Load(); got != 1 {
				t.Errorf("%d writes tried, want 1", got)
			}
		})
	}
}
