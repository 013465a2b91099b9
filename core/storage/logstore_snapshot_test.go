package storage

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// restartRaft starts a raft node on the log the way a restarting member
// does; raft panics when the log's hard state does not fit its snapshot.
func restartRaft(t *testing.T, s *LogStore) (err error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("raft refused the log: %v", p)
		}
	}()
	snap, _ := s.Storage().Snapshot()
	_, err = raft.NewRawNode(&raft.Config{
		ID: 2, ElectionTick: 10, HeartbeatTick: 1, Storage: s.Storage(),
		MaxSizePerMsg: 1 << 20, MaxInflightMsgs: 16, Applied: snap.Metadata.Index,
	})
	return err
}

// A follower far behind receives a snapshot: the Ready loop records it
// (SaveSnapshot) before it saves that Ready's hard state. Killed in
// between (test/robustness, failpoint raftBeforeSnapshotRestore), the node
// used to find a snapshot at 986 beside a commit index of 357 and never
// started again: "state.commit 357 is out of range [986, 986]".
func TestLogStoreCrashAfterReceivedSnapshot(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 357}, ents(2, 1, 400), true); err != nil {
		t.Fatal(err)
	}
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if err := s.SaveSnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 986, Term: 3, ConfState: cs}}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir) // the crash: the Ready's own Save never ran
	defer s.Close()
	hs, _, _ := s.Storage().InitialState()
	if hs.Commit != 986 || hs.Term != 3 || hs.Vote != 0 {
		t.Fatalf("hard state after restart %+v, want commit 986, term 3, no vote", hs)
	}
	if first, _ := s.Storage().FirstIndex(); first != 987 {
		t.Fatalf("first index %d, want 987", first)
	}
	if last, _ := s.Storage().LastIndex(); last != 986 {
		t.Fatalf("old entries came back: last index %d", last)
	}
	if err := restartRaft(t, s); err != nil {
		t.Fatal(err)
	}
	// An older snapshot than the one held changes nothing.
	if err := s.SaveSnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 500, Term: 3, ConfState: cs}}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	if snap, _ := s.Storage().Snapshot(); snap.Metadata.Index != 986 {
		t.Fatalf("snapshot after an older one was offered: %d", snap.Metadata.Index)
	}
}

// A log whose hard state is behind its snapshot (a crash tore the hard
// state off the snapshot record SaveSnapshot writes with it, or a log
// written before SaveSnapshot raised it) opens with the commit index
// raised to the snapshot, so a member stuck in that state starts again.
func TestLogStoreRepairsCommitBelowSnapshot(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	snap := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 986, Term: 3, ConfState: raftpb.ConfState{Voters: []uint64{1, 2, 3}}}}
	sb, _ := snap.Marshal()
	hb, _ := (&raftpb.HardState{Term: 3, Vote: 1, Commit: 357}).Marshal()
	recs := appendRecord(appendRecord(nil, recSnapshotInstall, sb), recHardState, hb)
	if err := s.wal.write(recs, 987, 0, &snap, &raftpb.HardState{Term: 3, Vote: 1, Commit: 357}); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	defer s.Close()
	if hs, _, _ := s.Storage().InitialState(); hs.Commit != 986 || hs.Term != 3 || hs.Vote != 1 {
		t.Fatalf("hard state %+v, want commit raised to 986, term and vote kept", hs)
	}
	if err := restartRaft(t, s); err != nil {
		t.Fatal(err)
	}
}
