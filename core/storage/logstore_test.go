package storage

import (
	"io"
	"log/slog"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func ents(term uint64, from, to uint64) []raftpb.Entry {
	var out []raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, raftpb.Entry{Term: term, Index: i, Data: []byte{byte(i)}})
	}
	return out
}

func reopen(t *testing.T, s *LogStore, dir string) *LogStore {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := OpenLogStore(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestLogStoreSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenLogStore(dir, quiet())
	if err != nil {
		t.Fatal(err)
	}
	hs := raftpb.HardState{Term: 2, Vote: 1, Commit: 5}
	if err := s.Save(hs, ents(1, 1, 3), true); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(raftpb.HardState{}, ents(2, 4, 6), true); err != nil {
		t.Fatal(err)
	}
	if c, _ := s.Fsyncs(); c != 2 {
		t.Fatalf("fsyncs: %d, want one per Save", c)
	}
	s = reopen(t, s, dir)
	defer s.Close()
	gotHS, _, _ := s.Storage().InitialState()
	if gotHS.Term != 2 || gotHS.Vote != 1 || gotHS.Commit != 5 {
		t.Fatalf("hard state after restart: %+v", gotHS)
	}
	last, _ := s.Storage().LastIndex()
	if last != 6 {
		t.Fatalf("last index after restart: %d", last)
	}
	if term, _ := s.Storage().Term(5); term != 2 {
		t.Fatalf("term of 5: %d", term)
	}
}

func TestLogStoreTruncatesConflictingTail(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenLogStore(dir, quiet())
	if err := s.Save(raftpb.HardState{Term: 1, Commit: 2}, ents(1, 1, 6), true); err != nil {
		t.Fatal(err)
	}
	// A new leader overwrites 4.. with a shorter tail of term 2.
	if err := s.Save(raftpb.HardState{Term: 2, Commit: 2}, ents(2, 4, 4), true); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	defer s.Close()
	last, _ := s.Storage().LastIndex()
	if last != 4 {
		t.Fatalf("stale tail survived restart: last index %d", last)
	}
	if term, _ := s.Storage().Term(4); term != 2 {
		t.Fatalf("entry 4 has term %d, want the new leader's 2", term)
	}
}

func TestLogStoreSnapshotAndCompaction(t *testing.T) {
	dir := t.TempDir()
	s, _ := OpenLogStore(dir, quiet())
	if err := s.Save(raftpb.HardState{Term: 1, Commit: 100}, ents(1, 1, 100), true); err != nil {
		t.Fatal(err)
	}
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if _, err := s.CreateSnapshot(90, &cs, nil, 10); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Storage().FirstIndex()
	if first != 81 {
		t.Fatalf("first index after compaction: %d, want 81", first)
	}
	s = reopen(t, s, dir)
	snap, _ := s.Storage().Snapshot()
	if snap.Metadata.Index != 90 || len(snap.Metadata.ConfState.Voters) != 3 {
		t.Fatalf("snapshot after restart: %+v", snap.Metadata)
	}
	first, _ = s.Storage().FirstIndex()
	last, _ := s.Storage().LastIndex()
	if first != 91 || last != 100 {
		t.Fatalf("after restart the log spans %d..%d, want 91..100", first, last)
	}
	if _, err := s.Storage().Entries(50, 60, 1<<20); err == nil {
		t.Fatal("compacted entries still readable")
	}
	// A snapshot received from the leader replaces the whole log.
	recv := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 500, Term: 3, ConfState: cs}}
	if err := s.SaveSnapshot(recv); err != nil {
		t.Fatal(err)
	}
	if first, _ := s.Storage().FirstIndex(); first != 501 {
		t.Fatalf("first index after received snapshot: %d", first)
	}
	s = reopen(t, s, dir)
	defer s.Close()
	if first, _ := s.Storage().FirstIndex(); first != 501 {
		t.Fatalf("first index after restart: %d", first)
	}
	if last, _ := s.Storage().LastIndex(); last != 500 {
		t.Fatalf("old entries came back after restart: last index %d", last)
	}
}
