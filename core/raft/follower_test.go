package raft

import (
	"bytes"
	"context"
	"encoding/binary"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/trellis-cp/trellis/internal/testutil"
)

// fakeLeader is member 1 of a two-voter group played by the test: a real
// transport that records what it receives and can send to member 2, whose
// address it returns with its own.
func fakeLeader(t *testing.T) (leader *recorder, tr *transport, addr1, addr2 string) {
	t.Helper()
	addr1, addr2 = testutil.FreeAddr(t), testutil.FreeAddr(t)
	leader = &recorder{}
	tr = newTransport(1, quietLogger(), leader, nil, nil)
	if err := tr.listen(addr1, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(tr.close)
	tr.setPeer(2, addr2)
	return leader, tr, addr1, addr2
}

// gatedSM is a memSM whose Apply holds any batch with an entry of data
// "slow" until the gate is opened.
type gatedSM struct {
	*memSM
	gate chan struct{}
}

func (s *gatedSM) Apply(ents []Applied) error {
	for i := range ents {
		if string(ents[i].Data) == "slow" {
			<-s.gate
		}
	}
	return s.memSM.Apply(ents)
}

// A follower whose apply is slow must not hold up what the leader waits for
// on it: the acknowledgement of entries it has saved (the leader commits on
// it) and the proposals its clients make. The test plays the leader of a
// two-voter group over a real transport and keeps the follower's apply of
// one entry blocked: the follower's Ready loop then sits in that Ready,
// which also saved the next entry.
func TestSlowApplyHoldsNeitherAcksNorForwards(t *testing.T) {
	leader, tr, addr1, addr2 := fakeLeader(t)
	sm := &gatedSM{memSM: newMemSM(), gate: make(chan struct{})}
	n := startSM(t, 2, addr2, t.TempDir(), map[uint64]string{1: addr1, 2: addr2}, nil, sm, func(c *Config) {
		c.ElectionTicks = 1000 // the test is the only leader
	})
	var opened bool
	open := func() {
		if !opened {
			opened = true
			close(sm.gate)
		}
	}
	t.Cleanup(open) // before the node stops

	entry := func(index uint64, data string) raftpb.Entry {
		return raftpb.Entry{Term: 2, Index: index, Data: append(binary.BigEndian.AppendUint64(nil, 0), data...)}
	}
	acked := func(index uint64) func() bool {
		return func() bool {
			leader.mu.Lock()
			defer leader.mu.Unlock()
			for _, m := range leader.msgs {
				if m.Type == raftpb.MsgAppResp && !m.Reject && m.Index >= index {
					return true
				}
			}
			return false
		}
	}
	// The bootstrap log holds the two members at indexes 1 and 2, term 1.
	tr.send([]raftpb.Message{{Type: raftpb.MsgApp, From: 1, To: 2, Term: 2, LogTerm: 1, Index: 2, Commit: 2,
		Entries: []raftpb.Entry{entry(3, "slow")}}})
	waitFor(t, "the follower to acknowledge entry 3", acked(3))

	// Committing 3 and appending 4 in one message puts both in one Ready:
	// 3 applies (and blocks) beside the save of 4.
	tr.send([]raftpb.Message{{Type: raftpb.MsgApp, From: 1, To: 2, Term: 2, LogTerm: 2, Index: 3, Commit: 3,
		Entries: []raftpb.Entry{entry(4, "next")}}})
	waitFor(t, "the follower to acknowledge entry 4 while entry 3 is applying", acked(4))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go n.Propose(ctx, []byte("from a client of the follower"))
	waitFor(t, "the follower to forward a proposal while entry 3 is applying", func() bool {
		leader.mu.Lock()
		defer leader.mu.Unlock()
		for _, m := range leader.msgs {
			if m.Type == raftpb.MsgProp && m.From == 2 && len(m.Entries) == 1 &&
				bytes.HasSuffix(m.Entries[0].Data, []byte("from a client of the follower")) {
				return true
			}
		}
		return false
	})
	if got := sm.AppliedIndex(); got >= 3 {
		t.Fatalf("entry 3 applied (applied index %d) before the gate opened", got)
	}

	open()
	deadline := time.Now().Add(5 * time.Second)
	for sm.AppliedIndex() < 3 {
		if time.Now().After(deadline) {
			t.Fatalf("entry 3 not applied once the gate opened (applied index %d)", sm.AppliedIndex())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The proposals a follower forwards itself go to the leader it knows of;
// the leader, a member without a leader and a removed member leave theirs
// to raft.
func TestForwardOnlyFromAFollowerWithALeader(t *testing.T) {
	_, tr, addr1, addr2 := fakeLeader(t)
	n := startSM(t, 2, addr2, t.TempDir(), map[uint64]string{1: addr1, 2: addr2}, nil, newMemSM(), func(c *Config) {
		c.ElectionTicks = 1000
	})
	if n.forward([]byte("x")) {
		t.Fatal("forwarded with no leader known")
	}
	tr.send([]raftpb.Message{{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 2}})
	waitFor(t, "the follower to learn its leader", func() bool { return n.Leader() == 1 })
	if !n.forward([]byte("x")) {
		t.Fatal("a follower with a leader did not forward")
	}
	n.removed.Store(true)
	if n.forward([]byte("x")) {
		t.Fatal("a removed member forwarded")
	}
	n.removed.Store(false)
	n.lead.Store(2)
	if n.forward([]byte("x")) {
		t.Fatal("the leader forwarded to itself")
	}
	n.lead.Store(1)
}
