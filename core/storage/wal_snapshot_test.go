package storage

import (
	"os"
	"path/filepath"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// SaveSnapshot's one write (snapshot, then the hard state raised to cover
// it) torn at every byte: the log opens either as it was before or with
// the snapshot as its base and a commit index covering it, and raft
// starts from it. Never a snapshot beside the old entries or a commit
// below the snapshot.
func TestWALSaveSnapshotCrashPoints(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 64<<10)
	defer s.Close()
	old := payloadEnts(2, 1, 400)
	if err := s.Save(raftpb.HardState{Term: 2, Vote: 1, Commit: 357}, old, true); err != nil {
		t.Fatal(err)
	}
	start := s.wal.off
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if err := s.SaveSnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 986, Term: 3, ConfState: cs}}); err != nil {
		t.Fatal(err)
	}
	end := s.wal.off
	src := crashCopy(t, dir)
	seg := filepath.Base(lastSegmentPath(t, src))
	full, _ := os.ReadFile(filepath.Join(src, seg))
	for cut := start; cut <= end; cut++ {
		d := t.TempDir()
		b := append([]byte(nil), full...)
		clear(b[cut:])
		os.WriteFile(filepath.Join(d, seg), b, 0o600)
		r, err := openLogStore(d, quiet(), 64<<10)
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		snap, _ := r.Storage().Snapshot()
		hs, _, _ := r.Storage().InitialState()
		switch snap.Metadata.Index {
		case 0: // crash before the snapshot record was whole
			checkEnts(t, r, old)
			if hs.Commit != 357 || hs.Term != 2 {
				t.Fatalf("cut at %d: hard state %+v, want the old one", cut, hs)
			}
		case 986:
			checkEnts(t, r, nil)
			if first, _ := r.Storage().FirstIndex(); first != 987 {
				t.Fatalf("cut at %d: first index %d", cut, first)
			}
			if hs.Commit != 986 || hs.Term != 3 {
				t.Fatalf("cut at %d: hard state %+v, want commit 986 term 3", cut, hs)
			}
		default:
			t.Fatalf("cut at %d: snapshot %d", cut, snap.Metadata.Index)
		}
		if err := restartRaft(t, r); err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		r.Close()
	}
}

// CreateSnapshot crash points: the snapshot record synced but no segment
// deleted yet, and only some of the segments deleted. Both open to the
// same log as a completed compaction.
func TestWALCreateSnapshotCrashPoints(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	defer s.Close()
	for i := uint64(1); i <= 300; i++ {
		if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: i}, payloadEnts(1, i, i), true); err != nil {
			t.Fatal(err)
		}
	}
	beforeCompact := crashCopy(t, dir) // segments as they are before the snapshot
	cs := raftpb.ConfState{Voters: []uint64{1}}
	snap, err := s.CreateSnapshot(280, &cs, nil, 10)
	if err != nil {
		t.Fatal(err)
	}
	after := crashCopy(t, dir)
	// Crash after the snapshot record, before any deletion: the record is
	// in the last segment, which is the same file in both copies.
	segs, _ := listSegments(after)
	last := segs[len(segs)-1]
	b, _ := os.ReadFile(last.path)
	os.WriteFile(filepath.Join(beforeCompact, filepath.Base(last.path)), b, 0o600)
	// Crash midway: only the oldest segment gone.
	midway := crashCopy(t, beforeCompact)
	oldest, _ := listSegments(midway)
	os.Remove(oldest[0].path)
	for name, d := range map[string]string{"before deletion": beforeCompact, "midway": midway, "after": after} {
		r, err := openLogStore(d, quiet(), 4<<10)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, _ := r.Storage().Snapshot(); got.Metadata.Index != snap.Metadata.Index {
			t.Fatalf("%s: snapshot %d", name, got.Metadata.Index)
		}
		checkEnts(t, r, payloadEnts(1, 281, 300))
		if err := restartRaft(t, r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r.Close()
	}
}

// A snapshot received from the leader, then entries after it, then more
// segments and a compaction: the log replays to the received snapshot and
// the entries after it only.
func TestWALInstalledSnapshotThenRestart(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: 50}, payloadEnts(1, 1, 60), true); err != nil {
		t.Fatal(err)
	}
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if err := s.SaveSnapshot(raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 500, Term: 4, ConfState: cs}}); err != nil {
		t.Fatal(err)
	}
	var want []raftpb.Entry
	for i := uint64(501); i <= 700; i++ {
		e := payloadEnts(4, i, i)
		want = append(want, e...)
		if err := s.Save(raftpb.HardState{Term: 4, Commit: i}, e, true); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, dir)
	checkEnts(t, s, want)
	if _, err := s.CreateSnapshot(650, &cs, nil, 10); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	defer s.Close()
	checkEnts(t, s, want[150:])
	if err := restartRaft(t, s); err != nil {
		t.Fatal(err)
	}
}
