package raft

import (
	"testing"

	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

func TestSplitDurable(t *testing.T) {
	ents := func(idx ...uint64) []raftpb.Entry {
		out := make([]raftpb.Entry, len(idx))
		for i, x := range idx {
			out[i].Index = x
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		ents          []raftpb.Entry
		stable        uint64
		durable, rest int
	}{
		{"none committed", nil, 10, 0, 0},
		{"all stable (leader)", ents(5, 6, 7), 7, 3, 0},
		{"stable beyond", ents(5, 6, 7), 20, 3, 0},
		{"partly in this Ready (follower)", ents(5, 6, 7, 8), 6, 2, 2},
		{"none stable", ents(5, 6), 4, 0, 2},
		{"snapshot Ready", ents(5, 6), 0, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, r := splitDurable(tc.ents, tc.stable)
			if len(d) != tc.durable || len(r) != tc.rest {
				t.Fatalf("split at %d: %d durable, %d rest; want %d, %d", tc.stable, len(d), len(r), tc.durable, tc.rest)
			}
			for _, e := range d {
				if e.Index > tc.stable {
					t.Fatalf("entry %d above stable %d applied early", e.Index, tc.stable)
				}
			}
			if len(d) > 0 && len(r) > 0 && r[0].Index != d[len(d)-1].Index+1 {
				t.Fatalf("split lost order: %d then %d", d[len(d)-1].Index, r[0].Index)
			}
		})
	}
}

// A follower that acknowledges an append and then wins an election before
// its Ready is handled (a leadership transfer's MsgTimeoutNow arriving
// while the loop is busy with an fsync) hands the loop one Ready that says
// "leader" and still carries its MsgAppResp as a follower. The leader's
// early send (before its own save) used to send that acknowledgement for
// entries not yet on disk; it must wait for the save.
func TestLeaderHoldsBackDurabilityResponses(t *testing.T) {
	rn := followerRawNode(t)
	steps := []raftpb.Message{
		{Type: raftpb.MsgApp, From: 1, To: 2, Term: 2, LogTerm: 1, Index: 1, Commit: 1,
			Entries: []raftpb.Entry{{Term: 2, Index: 2, Data: []byte("x")}}},
		{Type: raftpb.MsgTimeoutNow, From: 1, To: 2, Term: 2},
		{Type: raftpb.MsgVoteResp, From: 1, To: 2, Term: 3},
		{Type: raftpb.MsgVoteResp, From: 3, To: 2, Term: 3},
	}
	for _, m := range steps {
		if err := rn.Step(m); err != nil {
			t.Fatalf("step %s: %v", m.Type, err)
		}
	}
	rd := rn.Ready()
	if rd.SoftState == nil || rd.SoftState.RaftState != etcdraft.StateLeader {
		t.Fatalf("the Ready does not say leader: %+v", rd.SoftState)
	}
	var acks int
	for _, m := range rd.Messages {
		if m.Type == raftpb.MsgAppResp {
			acks++
		}
	}
	if acks == 0 || len(rd.Entries) == 0 {
		t.Fatalf("the Ready has no follower acknowledgement of unsaved entries: %d entries, messages %v", len(rd.Entries), rd.Messages)
	}
	early, after := splitEarly(rd.Messages)
	for _, m := range early {
		switch m.Type {
		case raftpb.MsgAppResp, raftpb.MsgVoteResp, raftpb.MsgPreVoteResp:
			t.Fatalf("%s to %d would go out before the save", m.Type, m.To)
		}
	}
	if len(after) != acks || len(early)+len(after) != len(rd.Messages) {
		t.Fatalf("split %d early, %d after save of %d messages (%d acknowledgements)", len(early), len(after), len(rd.Messages), acks)
	}
	var apps int
	for _, m := range early {
		if m.Type == raftpb.MsgApp {
			apps++
		}
	}
	if apps == 0 {
		t.Fatal("the new leader's appends no longer go out before its save")
	}
}

// A follower's Ready sends what promises nothing about its disk before its
// save, as a leader's does: a proposal it forwards and a read-index request
// need not wait out its fsync. Its acknowledgement of the append and its
// vote wait.
func TestFollowerSendsForwardsBeforeSave(t *testing.T) {
	rn := followerRawNode(t)
	steps := []raftpb.Message{
		{Type: raftpb.MsgApp, From: 1, To: 2, Term: 2, LogTerm: 1, Index: 1, Commit: 1,
			Entries: []raftpb.Entry{{Term: 2, Index: 2, Data: []byte("x")}}},
		{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 2, Commit: 1},
	}
	for _, m := range steps {
		if err := rn.Step(m); err != nil {
			t.Fatalf("step %s: %v", m.Type, err)
		}
	}
	if err := rn.Propose([]byte("forwarded")); err != nil {
		t.Fatalf("propose on the follower: %v", err)
	}
	rn.ReadIndex([]byte("read"))
	rd := rn.Ready()
	if rd.SoftState != nil && rd.SoftState.RaftState != etcdraft.StateFollower {
		t.Fatalf("not a follower: %+v", rd.SoftState)
	}
	early, after := splitEarly(rd.Messages)
	kinds := func(ms []raftpb.Message) map[raftpb.MessageType]int {
		k := map[raftpb.MessageType]int{}
		for _, m := range ms {
			k[m.Type]++
		}
		return k
	}
	e, a := kinds(early), kinds(after)
	for _, want := range []raftpb.MessageType{raftpb.MsgProp, raftpb.MsgReadIndex, raftpb.MsgHeartbeatResp} {
		if e[want] == 0 {
			t.Errorf("%s does not go out before the save (early %v, after %v)", want, e, a)
		}
	}
	if a[raftpb.MsgAppResp] == 0 || e[raftpb.MsgAppResp] != 0 {
		t.Errorf("the append's acknowledgement is not held for the save (early %v, after %v)", e, a)
	}

	// A vote granted in the next Ready waits for the save too.
	rn.Advance(rd)
	if err := rn.Step(raftpb.Message{Type: raftpb.MsgVote, From: 3, To: 2, Term: 3, LogTerm: 2, Index: 2}); err != nil {
		t.Fatal(err)
	}
	rd = rn.Ready()
	early, after = splitEarly(rd.Messages)
	if e, a := kinds(early), kinds(after); a[raftpb.MsgVoteResp] != 1 || e[raftpb.MsgVoteResp] != 0 {
		t.Errorf("the vote is not held for the save (early %v, after %v)", e, a)
	}
}

// followerRawNode is member 2 of a three-voter group at index 1, term 1,
// with no leader yet: raft alone, no storage or transport behind it.
func followerRawNode(t *testing.T) *etcdraft.RawNode {
	t.Helper()
	s := etcdraft.NewMemoryStorage()
	if err := s.ApplySnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{
		Index: 1, Term: 1, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}},
	}}); err != nil {
		t.Fatal(err)
	}
	rn, err := etcdraft.NewRawNode(&etcdraft.Config{ID: 2, ElectionTick: 10, HeartbeatTick: 1, Storage: s,
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 256, Logger: raftLogger{quietLogger()}})
	if err != nil {
		t.Fatal(err)
	}
	return rn
}
