package storage

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// payloadEnts are entries whose data says which index and term wrote
// them, so a test can tell an entry from the one it replaced.
func payloadEnts(term, from, to uint64) []raftpb.Entry {
	var out []raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, raftpb.Entry{Term: term, Index: i, Data: []byte(fmt.Sprintf("entry %d term %d %s", i, term, strings.Repeat("x", int(i%50))))})
	}
	return out
}

// checkEnts fails unless the log holds exactly want from want[0].Index on.
func checkEnts(t *testing.T, s *LogStore, want []raftpb.Entry) {
	t.Helper()
	first, _ := s.Storage().FirstIndex()
	last, _ := s.Storage().LastIndex()
	if len(want) == 0 {
		if last >= first {
			t.Fatalf("log holds %d..%d, want no entries", first, last)
		}
		return
	}
	if first != want[0].Index || last != want[len(want)-1].Index {
		t.Fatalf("log holds %d..%d, want %d..%d", first, last, want[0].Index, want[len(want)-1].Index)
	}
	got, err := s.Storage().Entries(first, last+1, 1<<40)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if got[i].Index != want[i].Index || got[i].Term != want[i].Term || !bytes.Equal(got[i].Data, want[i].Data) {
			t.Fatalf("entry %d: got index %d term %d %q, want term %d %q", want[i].Index, got[i].Index, got[i].Term, got[i].Data, want[i].Term, want[i].Data)
		}
	}
}

func openSmall(t *testing.T, dir string, segSize int64) *LogStore {
	t.Helper()
	s, err := openLogStore(dir, quiet(), segSize)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// crashCopy copies the log's directory as a crash would leave it: what
// was written, without the Close. The copy is opened instead of the
// original.
func crashCopy(t *testing.T, dir string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

func lastSegmentPath(t *testing.T, dir string) string {
	t.Helper()
	segs, err := listSegments(dir)
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments of %s: %v (%d)", dir, err, len(segs))
	}
	return segs[len(segs)-1].path
}

func TestWALRoundTrip(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, defaultSegmentSize)
	want := payloadEnts(1, 1, 50)
	for i := 0; i < 50; i += 10 {
		if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: uint64(i)}, want[i:i+10], true); err != nil {
			t.Fatal(err)
		}
	}
	checkEnts(t, s, want)
	if n, _ := s.Fsyncs(); n != 5 {
		t.Fatalf("fsyncs %d, want one per Save", n)
	}
	// A Save that only moves the commit index need not sync.
	if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: 50}, nil, false); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Fsyncs(); n != 5 {
		t.Fatalf("fsyncs %d after an unsynced Save", n)
	}
	if s.Size() < firstSegmentSize {
		t.Fatalf("size %d, want at least the preallocated first segment", s.Size())
	}
	s = reopen(t, s, dir)
	defer s.Close()
	checkEnts(t, s, want)
	if hs, _, _ := s.Storage().InitialState(); hs != (raftpb.HardState{Term: 1, Vote: 1, Commit: 50}) {
		t.Fatalf("hard state after restart %+v", hs)
	}
}

// The log opens after a crash at every byte of the last write: the torn
// records are cut off, what came before survives, and the log takes
// appends and opens again afterwards.
func TestWALTornTailEveryOffset(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 64<<10)
	defer s.Close()
	base := payloadEnts(1, 1, 5)
	if err := s.Save(raftpb.HardState{Term: 1, Commit: 3}, base, true); err != nil {
		t.Fatal(err)
	}
	start := s.wal.off
	tail := payloadEnts(1, 6, 7)
	if err := s.Save(raftpb.HardState{Term: 1, Commit: 7}, tail, true); err != nil {
		t.Fatal(err)
	}
	end := s.wal.off
	src := crashCopy(t, dir)
	seg := filepath.Base(lastSegmentPath(t, src))
	full, err := os.ReadFile(filepath.Join(src, seg))
	if err != nil {
		t.Fatal(err)
	}
	for cut := start; cut < end; cut++ {
		for _, mode := range []string{"truncated", "zeroed"} {
			d := t.TempDir()
			b := append([]byte(nil), full...)
			if mode == "truncated" {
				b = b[:cut] // the file as a crash before preallocation would leave it
			} else {
				clear(b[cut:]) // the rest of a preallocated segment never written
			}
			if err := os.WriteFile(filepath.Join(d, seg), b, 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := openLogStore(d, quiet(), 64<<10)
			if err != nil {
				t.Fatalf("cut at %d (%s): %v", cut, mode, err)
			}
			last, _ := r.Storage().LastIndex()
			hs, _, _ := r.Storage().InitialState()
			want := base
			switch {
			case last == 7:
				want = append(append([]raftpb.Entry(nil), base...), tail...)
			case last == 6:
				want = append(append([]raftpb.Entry(nil), base...), tail[0])
			case last != 5:
				t.Fatalf("cut at %d (%s): last index %d", cut, mode, last)
			}
			checkEnts(t, r, want)
			if hs.Commit == 7 && last != 7 {
				t.Fatalf("cut at %d (%s): the hard state survived without its entries", cut, mode)
			}
			if cut == end-1 && hs.Commit != 3 {
				t.Fatalf("cut at %d (%s): a torn hard state was read: %+v", cut, mode, hs)
			}
			// The repaired log takes the write again and keeps it.
			if err := r.Save(raftpb.HardState{Term: 1, Commit: 7}, tail, true); err != nil {
				t.Fatal(err)
			}
			r = reopen(t, r, d)
			checkEnts(t, r, append(append([]raftpb.Entry(nil), base...), tail...))
			r.Close()
		}
	}
}

// A bad CRC in the last record is a torn write and is cut off; the same
// damage in an earlier record, with good records after it, is an error.
func TestWALBadCRC(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 64<<10)
	offs := []int64{}
	for i := uint64(1); i <= 5; i++ {
		offs = append(offs, s.wal.off)
		if err := s.Save(raftpb.HardState{}, payloadEnts(1, i, i), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	flip := func(off int64) string {
		d := crashCopy(t, dir)
		path := lastSegmentPath(t, d)
		b, _ := os.ReadFile(path)
		b[off+recordHeaderSize+2] ^= 0x40
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return d
	}
	d := flip(offs[4])
	r, err := openLogStore(d, quiet(), 64<<10)
	if err != nil {
		t.Fatalf("bad CRC in the last record: %v", err)
	}
	checkEnts(t, r, payloadEnts(1, 1, 4))
	r.Close()

	d = flip(offs[2])
	_, err = openLogStore(d, quiet(), 64<<10)
	if err == nil || !strings.Contains(err.Error(), "corrupt record at offset") || !strings.Contains(err.Error(), "CRC") {
		t.Fatalf("bad CRC in the middle: %v, want a corrupt record error", err)
	}
}

// Damage in a segment that is not the last is never a torn tail.
func TestWALBadCRCInOlderSegment(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	for i := uint64(1); i <= 300; i++ {
		if err := s.Save(raftpb.HardState{Term: 1, Commit: i}, payloadEnts(1, i, i), true); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := listSegments(dir)
	if len(segs) < 3 {
		t.Fatalf("%d segments, want several", len(segs))
	}
	b, _ := os.ReadFile(segs[0].path)
	_, _, n, err := decodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	// The last record of the first segment: nothing good follows it there.
	off := 0
	for {
		_, _, m, err := decodeRecord(b[off+n:])
		if err != nil {
			break
		}
		off, n = off+n, m
	}
	b[off+recordHeaderSize] ^= 1
	os.WriteFile(segs[0].path, b, 0o600)
	if _, err := openLogStore(dir, quiet(), 4<<10); err == nil || !strings.Contains(err.Error(), filepath.Base(segs[0].path)) {
		t.Fatalf("bad record at the end of an older segment: %v, want an error naming it", err)
	}
}

// A new leader overwrites this member's tail, then the member restarts:
// the later entries win, wherever the earlier ones were.
func TestWALTailOverwriteThenRestart(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 2<<10)
	if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: 4}, payloadEnts(1, 1, 40), true); err != nil {
		t.Fatal(err)
	}
	for i := uint64(41); i <= 120; i++ { // spread over several segments
		if err := s.Save(raftpb.HardState{}, payloadEnts(1, i, i), true); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Save(raftpb.HardState{Term: 2, Vote: 2, Commit: 4}, payloadEnts(2, 10, 12), true); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(raftpb.HardState{Term: 3, Vote: 3, Commit: 11}, payloadEnts(3, 12, 20), true); err != nil {
		t.Fatal(err)
	}
	want := append(append(payloadEnts(1, 1, 9), payloadEnts(2, 10, 11)...), payloadEnts(3, 12, 20)...)
	checkEnts(t, s, want)
	if s.wal.segments() < 3 {
		t.Fatalf("%d segments, want the overwritten entries in older ones", s.wal.segments())
	}
	s = reopen(t, s, dir)
	defer s.Close()
	checkEnts(t, s, want)
	if hs, _, _ := s.Storage().InitialState(); hs.Term != 3 || hs.Commit != 11 {
		t.Fatalf("hard state %+v", hs)
	}
}

// Segments roll over when full; each new one starts with the snapshot
// and hard state, and the log replays across all of them.
func TestWALSegmentRollover(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	cs := raftpb.ConfState{Voters: []uint64{1}}
	var want []raftpb.Entry
	for i := uint64(1); i <= 200; i++ {
		e := payloadEnts(1, i, i)
		want = append(want, e...)
		if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: i}, e, true); err != nil {
			t.Fatal(err)
		}
		if i == 20 {
			if _, err := s.CreateSnapshot(20, &cs, nil, 1000); err != nil {
				t.Fatal(err)
			}
		}
	}
	segs, err := listSegments(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(segs) < 4 {
		t.Fatalf("%d segments after 200 entries of 4 KiB segments", len(segs))
	}
	for _, seg := range segs[1:] {
		b, _ := os.ReadFile(seg.path)
		typ, _, n, err := decodeRecord(b)
		if err != nil || typ != recSnapshot {
			t.Fatalf("%s starts with %v (%v), want the snapshot", filepath.Base(seg.path), typ, err)
		}
		if typ, _, _, err := decodeRecord(b[n:]); err != nil || typ != recHardState {
			t.Fatalf("%s: second record %v (%v), want the hard state", filepath.Base(seg.path), typ, err)
		}
		if fi, _ := os.Stat(seg.path); fi.Size() != 4<<10 {
			t.Fatalf("%s: size %d, want preallocated 4096", filepath.Base(seg.path), fi.Size())
		}
	}
	s = reopen(t, s, dir)
	defer s.Close()
	checkEnts(t, s, want[20:])
	if snap, _ := s.Storage().Snapshot(); snap.Metadata.Index != 20 {
		t.Fatalf("snapshot %d after restart", snap.Metadata.Index)
	}
}

// A record bigger than a segment goes into a segment of its own.
func TestWALRecordLargerThanSegment(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	big := raftpb.Entry{Term: 1, Index: 2, Data: bytes.Repeat([]byte("b"), 20<<10)}
	want := []raftpb.Entry{payloadEnts(1, 1, 1)[0], big, payloadEnts(1, 3, 3)[0]}
	for i := range want {
		if err := s.Save(raftpb.HardState{Term: 1, Commit: uint64(i)}, want[i:i+1], true); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, dir)
	defer s.Close()
	checkEnts(t, s, want)
}

// Compaction deletes whole segments below the snapshot, never one still
// holding an entry after it, and the log replays from what is left.
func TestWALCompactionAcrossSegments(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	var want []raftpb.Entry
	for i := uint64(1); i <= 300; i++ {
		e := payloadEnts(1, i, i)
		want = append(want, e...)
		if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: i}, e, true); err != nil {
			t.Fatal(err)
		}
	}
	before := s.wal.segments()
	sizeBefore := s.Size()
	cs := raftpb.ConfState{Voters: []uint64{1, 2, 3}}
	if _, err := s.CreateSnapshot(250, &cs, nil, 20); err != nil {
		t.Fatal(err)
	}
	after := s.wal.segments()
	if after >= before || s.Size() >= sizeBefore {
		t.Fatalf("segments %d -> %d, size %d -> %d: nothing deleted", before, after, sizeBefore, s.Size())
	}
	if first, _ := s.Storage().FirstIndex(); first != 231 {
		t.Fatalf("first index %d in memory, want 231", first)
	}
	// Compaction stops at the first segment holding an entry past 229
	// (Compact(230) keeps 230..; the snapshot is at 250).
	s.wal.mu.Lock()
	oldest, n := s.wal.segs[0], len(s.wal.segs)
	s.wal.mu.Unlock()
	if n > 1 && oldest.maxIndex <= 229 {
		t.Fatalf("segment %s (entries up to %d) kept", filepath.Base(oldest.path), oldest.maxIndex)
	}
	// More entries, a second snapshot, then restart twice.
	for i := uint64(301); i <= 400; i++ {
		e := payloadEnts(1, i, i)
		want = append(want, e...)
		if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: i}, e, true); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, dir)
	checkEnts(t, s, want[250:])
	if _, err := s.CreateSnapshot(390, &cs, nil, 5); err != nil {
		t.Fatal(err)
	}
	if n := s.wal.segments(); n > 3 {
		t.Fatalf("%d segments left after compacting to 385", n)
	}
	s = reopen(t, s, dir)
	defer s.Close()
	checkEnts(t, s, want[390:])
	if snap, _ := s.Storage().Snapshot(); snap.Metadata.Index != 390 || len(snap.Metadata.ConfState.Voters) != 3 {
		t.Fatalf("snapshot after restart %+v", snap.Metadata)
	}
	if hs, _, _ := s.Storage().InitialState(); hs.Commit != 400 {
		t.Fatalf("hard state after restart %+v", hs)
	}
}

// A segment missing from the middle of the sequence is an error, not a
// log silently resumed after a hole.
func TestWALMissingSegment(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	for i := uint64(1); i <= 300; i++ {
		if err := s.Save(raftpb.HardState{Term: 1, Commit: i}, payloadEnts(1, i, i), true); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	segs, _ := listSegments(dir)
	os.Remove(segs[1].path)
	if _, err := openLogStore(dir, quiet(), 4<<10); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("open with a segment missing: %v", err)
	}
}

// A directory holding the Badger raft log of an older Trellis is refused
// with an error that names it.
func TestWALRefusesBadgerLog(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"MANIFEST", "000001.vlog", "KEYREGISTRY"} {
		os.WriteFile(filepath.Join(dir, name), []byte("badger"), 0o600)
	}
	_, err := OpenLogStore(dir, quiet())
	if err == nil || !strings.Contains(err.Error(), dir) || !strings.Contains(err.Error(), "Badger") {
		t.Fatalf("open over a Badger log: %v", err)
	}
}

// Probe appends a record replay skips, and a closed log refuses writes.
func TestWALProbeAndClose(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 64<<10)
	if err := s.Save(raftpb.HardState{Term: 1, Commit: 1}, payloadEnts(1, 1, 2), true); err != nil {
		t.Fatal(err)
	}
	off := s.wal.off
	if err := s.Probe(); err != nil {
		t.Fatal(err)
	}
	if s.wal.off == off {
		t.Fatal("probe wrote nothing")
	}
	if err := s.Save(raftpb.HardState{Term: 1, Commit: 2}, payloadEnts(1, 3, 3), true); err != nil {
		t.Fatal(err)
	}
	s = reopen(t, s, dir)
	checkEnts(t, s, payloadEnts(1, 1, 3))
	s.Close()
	if err := s.Save(raftpb.HardState{}, payloadEnts(1, 4, 4), true); err == nil {
		t.Fatal("a closed log took a write")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// A segment started between a Save's write and its memory update (a
// Probe on another goroutine rolls over) begins with the hard state just
// written, not the older one memory still holds: replay must never see a
// term or vote go backwards.
func TestWALRolloverHeadFollowsWrites(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	if err := s.Save(raftpb.HardState{Term: 5, Vote: 1, Commit: 1}, payloadEnts(5, 1, 2), true); err != nil {
		t.Fatal(err)
	}
	// The Ready loop's write of term 6, its memory update still to come.
	hs := raftpb.HardState{Term: 6, Vote: 2, Commit: 2}
	rec, _ := appendMessage(nil, recHardState, &hs)
	if err := s.wal.write(rec, 3, 0, nil, &hs); err != nil {
		t.Fatal(err)
	}
	before := s.wal.segments()
	for s.wal.segments() == before {
		s.lastProbe.Store(0)
		if err := s.Probe(); err != nil {
			t.Fatal(err)
		}
	}
	s = reopen(t, s, dir)
	defer s.Close()
	if got, _, _ := s.Storage().InitialState(); got != hs {
		t.Fatalf("hard state after restart %+v, want %+v", got, hs)
	}
}
