package raft

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/internal/testutil"
)

// slowSyncSM is memSM whose Sync, which the Ready loop calls at every raft
// snapshot, takes delay: with a snapshot after every apply it holds the loop
// between a membership change's apply (its proposer already answered) and
// the Advance that tells raft the change is applied.
type slowSyncSM struct {
	*memSM
	delay time.Duration
}

func (s *slowSyncSM) Sync() error { time.Sleep(s.delay); return nil }

// Two membership changes in a row: the second used to be proposed while
// raft still counted the first as pending (applied by the state machine,
// not yet Advanced), and raft dropped it without a word, so it timed out.
// In CI that was TestAbsentLearnerIsNotPromoted's AddMember racing the
// node's own announcement of its address. The second change must wait for
// raft to see the first applied.
func TestConsecutiveConfChangesBothApply(t *testing.T) {
	addr := testutil.FreeAddr(t)
	n := startSM(t, 1, addr, t.TempDir(), map[uint64]string{1: addr}, nil,
		&slowSyncSM{memSM: newMemSM(), delay: 300 * time.Millisecond},
		func(c *Config) { c.SnapshotCount, c.RequestTimeout = 1, 3*time.Second })
	waitFor(t, "a leader", func() bool { return n.Leader() != 0 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := n.UpdateMember(ctx, Member{ID: 1, PeerAddr: addr, Name: "one"}); err != nil {
		t.Fatalf("first change: %v", err)
	}
	if _, err := n.AddMember(ctx, Member{ID: 2, PeerAddr: testutil.FreeAddr(t)}); err != nil {
		t.Fatalf("second change, right after the first: %v", err)
	}
}
