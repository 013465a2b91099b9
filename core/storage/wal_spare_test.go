package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// spareFiles lists the spare segments in dir.
func spareFiles(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "spare-*"+segmentTmpExt))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// waitSpare waits until w holds a ready spare.
func waitSpare(t testing.TB, w *wal) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(w.spares.ready) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("no spare segment after 10s")
		}
		time.Sleep(time.Millisecond)
	}
}

func (w *wal) asked() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.spareAsked
}

// holdSpares replaces w's spare goroutine with one whose fill stops in
// its first chunk until the log closes. filling is closed once it got
// there; the new maker is returned.
func holdSpares(t *testing.T, w *wal) (p *spareMaker, filling <-chan struct{}) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.spares.close()
	p = newSpareMaker(w.dir, w.segSize, w.logger)
	ch := make(chan struct{})
	var once sync.Once
	p.chunkHook = func() {
		once.Do(func() { close(ch) })
		<-p.stop
	}
	p.start()
	w.spares, w.spareAsked = p, false
	return p, ch
}

// openFiles lists the files under dir this process holds open, each once
// (a segment has a second, direct descriptor; see appender).
func openFiles(t *testing.T, dir string) []string {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	var open []string
	for _, fd := range fds {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name())); err == nil && strings.HasPrefix(p, dir+"/") && !slices.Contains(open, p) {
			open = append(open, p)
		}
	}
	return open
}

// Rollovers take the spare prepared once the segment was half full: no
// segment is created on the writing goroutine, the spare file becomes
// the segment (head records and all) and the log replays.
func TestWALRolloverUsesSpare(t *testing.T) {
	dir := t.TempDir()
	const size = 4 << 10
	s := openSmall(t, dir, size)
	if got := spareFiles(t, dir); len(got) != 0 {
		t.Fatalf("spares %v in a new log, want none before the segment is half full", got)
	}
	var w oneAtATime
	save := func() { w.save(t, s) }
	for round := 0; round < 3; round++ {
		for !s.wal.asked() {
			save()
		}
		waitSpare(t, s.wal)
		spares := spareFiles(t, dir)
		if len(spares) != 1 {
			t.Fatalf("round %d: spares %v, want one", round, spares)
		}
		if fi, err := os.Stat(spares[0]); err != nil || fi.Size() != size {
			t.Fatalf("round %d: spare %v, want %d bytes", round, err, size)
		}
		before := s.wal.segments()
		for s.wal.segments() == before {
			save()
		}
		if n := s.wal.inlineSegments.Load(); n != 0 {
			t.Fatalf("round %d: %d segments created inline with a spare ready", round, n)
		}
		if _, err := os.Stat(spares[0]); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("round %d: spare %s still there after the rollover (%v)", round, filepath.Base(spares[0]), err)
		}
		last := lastSegmentPath(t, dir)
		b, err := os.ReadFile(last)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != size {
			t.Fatalf("round %d: %s holds %d bytes, want %d", round, filepath.Base(last), len(b), size)
		}
		if typ, _, _, err := decodeRecord(b); err != nil || typ != recHardState {
			t.Fatalf("round %d: %s starts with %v (%v), want the hard state", round, filepath.Base(last), typ, err)
		}
	}
	s.Close()
	if got := spareFiles(t, dir); len(got) != 0 {
		t.Fatalf("spares %v left after Close", got)
	}
	s = openSmall(t, dir, size)
	defer s.Close()
	checkEnts(t, s, w.want)
}

// With no spare ready the rollover creates its segment inline, and the
// next half-full segment asks for a spare again.
func TestWALRolloverWithoutSpare(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	defer s.Close()
	var w oneAtATime
	save := func() { w.save(t, s) }
	_, filling := holdSpares(t, s.wal)
	for !s.wal.asked() {
		save()
	}
	<-filling
	before := s.wal.segments()
	for s.wal.segments() == before {
		save()
	}
	if n := s.wal.inlineSegments.Load(); n != 1 {
		t.Fatalf("%d segments created inline, want 1", n)
	}
	for !s.wal.asked() {
		save()
	}
	if n := s.wal.segments(); n != before+1 {
		t.Fatalf("%d segments, want %d: the new segment did not ask for a spare at half full", n, before+1)
	}
	s = reopen(t, s, dir)
	checkEnts(t, s, w.want)
}

// Close while a spare is being filled stops the goroutine in its current
// chunk, removes the half-filled file and leaves no file open.
func TestWALCloseWhileSpareFills(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<20)
	p, filling := holdSpares(t, s.wal)
	s.wal.spares.request()
	<-filling
	if len(spareFiles(t, dir)) != 1 || len(openFiles(t, dir)) != 2 {
		t.Fatalf("spares %v, open files %v while one fills, want the spare and the segment", spareFiles(t, dir), openFiles(t, dir))
	}
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close waited 10s for the spare goroutine")
	}
	select {
	case <-p.done:
	default:
		t.Fatal("spare goroutine still running after Close")
	}
	checkNothingLeft(t, dir)
}

// Close with a spare ready removes it too; the goroutine is gone.
func TestWALCloseWithSpareReady(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 64<<10)
	s.wal.spares.request()
	waitSpare(t, s.wal)
	p := s.wal.spares
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	<-p.done
	checkNothingLeft(t, dir)
}

// A crash leaves spares behind: a ready one, one half filled and one
// already holding the head records of a segment that was never renamed
// into place. Open removes them all and replays only the segments.
func TestWALLeftoverSparesRemovedAtOpen(t *testing.T) {
	dir := t.TempDir()
	s := openSmall(t, dir, 4<<10)
	defer s.Close()
	want := payloadEnts(1, 1, 40)
	for i := range want {
		if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: uint64(i)}, want[i:i+1], true); err != nil {
			t.Fatal(err)
		}
	}
	s.wal.spares.request()
	waitSpare(t, s.wal)
	d := crashCopy(t, dir)
	if len(spareFiles(t, d)) != 1 {
		t.Fatalf("crash copy holds spares %v, want the ready one", spareFiles(t, d))
	}
	half := filepath.Join(d, "spare-7"+segmentTmpExt)
	if err := os.WriteFile(half, make([]byte, 1500), 0o600); err != nil {
		t.Fatal(err)
	}
	// A segment's worth of newer records under a .tmp name: replay must
	// not see them.
	rec, _ := appendMessage(nil, recHardState, &raftpb.HardState{Term: 9, Vote: 3, Commit: 45})
	for _, e := range payloadEnts(9, 30, 45) {
		rec, _ = appendMessage(rec, recEntry, &e)
	}
	headed := filepath.Join(d, "spare-8"+segmentTmpExt)
	if err := os.WriteFile(headed, append(rec, make([]byte, 4<<10-len(rec))...), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := openLogStore(d, quiet(), 4<<10)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, p := range []string{half, headed} {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("%s still there after open (%v)", filepath.Base(p), err)
		}
	}
	checkEnts(t, r, want)
	if hs, _, _ := r.Storage().InitialState(); hs.Term != 1 || hs.Commit != 39 {
		t.Fatalf("hard state %+v after open, want term 1 commit 39", hs)
	}
}

// repairTail leaves zeros after the cut, whatever the torn write left
// there, and the segment back at its full size.
func TestRepairTailZeroes(t *testing.T) {
	path := filepath.Join(t.TempDir(), segmentName(0, 1))
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xff}, 10<<10), 0o600); err != nil {
		t.Fatal(err)
	}
	const off, size = 1234, 3 << 20
	if err := repairTail(path, off, size); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != size {
		t.Fatalf("%d bytes after repair, want %d", len(b), size)
	}
	if !bytes.Equal(b[:off], bytes.Repeat([]byte{0xff}, off)) {
		t.Fatal("repair changed bytes before the cut")
	}
	if i := bytes.IndexFunc(b[off:], func(r rune) bool { return r != 0 }); i >= 0 {
		t.Fatalf("byte %d after the cut is not zero", off+i)
	}
}

// zeroFill writes the range in chunks, calling each after every one, and
// stops at its first error.
func TestZeroFill(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteAt([]byte("keep"), 0); err != nil {
		t.Fatal(err)
	}
	calls := 0
	if err := zeroFill(f, 4, 2*zeroChunk+10, func() error { calls++; return nil }); err != nil {
		t.Fatal(err)
	}
	if calls != 3 {
		t.Fatalf("%d calls for 2 chunks and a bit, want 3", calls)
	}
	if fi, _ := f.Stat(); fi.Size() != 2*zeroChunk+10 {
		t.Fatalf("size %d", fi.Size())
	}
	stop := errors.New("stop")
	calls = 0
	err = zeroFill(f, 0, 4*zeroChunk, func() error { calls++; return stop })
	if !errors.Is(err, stop) || calls != 1 {
		t.Fatalf("zeroFill returned %v after %d calls, want the stop error after 1", err, calls)
	}
}

// A new log's first segment is the smaller firstSegmentSize; the segment
// after it comes from a spare, full size. A first segment preallocated to
// the full size (written before there was a smaller one) rolls over at
// firstSegmentSize as well, and both logs replay.
func TestWALFirstSegmentSmaller(t *testing.T) {
	const size = 2 * firstSegmentSize
	big := func(i uint64) []raftpb.Entry {
		return []raftpb.Entry{{Term: 1, Index: i, Data: bytes.Repeat([]byte{byte(i)}, 512<<10)}}
	}
	fill := func(t *testing.T, s *LogStore) []raftpb.Entry {
		var want []raftpb.Entry
		for i := uint64(1); s.wal.segments() == 1; i++ {
			want = append(want, big(i)...)
			if err := s.Save(raftpb.HardState{Term: 1, Commit: i}, big(i), false); err != nil {
				t.Fatal(err)
			}
			if s.wal.asked() {
				waitSpare(t, s.wal)
			}
		}
		return want
	}
	t.Run("new", func(t *testing.T) {
		dir := t.TempDir()
		s := openSmall(t, dir, size)
		if fi, err := os.Stat(lastSegmentPath(t, dir)); err != nil || fi.Size() != firstSegmentSize {
			t.Fatalf("first segment: %v, want %d bytes", err, firstSegmentSize)
		}
		want := fill(t, s)
		if n := s.wal.inlineSegments.Load(); n != 0 {
			t.Fatalf("%d segments created inline", n)
		}
		if fi, err := os.Stat(lastSegmentPath(t, dir)); err != nil || fi.Size() != size {
			t.Fatalf("second segment: %v, want %d bytes", err, size)
		}
		s.Close()
		s = openSmall(t, dir, size)
		defer s.Close()
		checkEnts(t, s, want)
	})
	t.Run("full size first", func(t *testing.T) {
		dir := t.TempDir()
		_, f, err := createSegment(dir, 0, 1, size, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		s := openSmall(t, dir, size)
		want := fill(t, s)
		segs, _ := listSegments(dir)
		if b, _ := os.ReadFile(segs[0].path); len(b) != size || bytes.Count(b[firstSegmentSize:], []byte{0}) != size-firstSegmentSize {
			t.Fatalf("first segment: %d bytes, want %d with records only in its first %d", len(b), size, firstSegmentSize)
		}
		s.Close()
		s = openSmall(t, dir, size)
		defer s.Close()
		checkEnts(t, s, want)
	})
}

// checkNothingLeft fails when a closed log left a spare in dir or a file
// of dir open.
func checkNothingLeft(t *testing.T, dir string) {
	t.Helper()
	if got := spareFiles(t, dir); len(got) != 0 {
		t.Fatalf("spares %v left after Close", got)
	}
	if open := openFiles(t, dir); len(open) != 0 {
		t.Fatalf("files left open after Close: %v", open)
	}
}

// oneAtATime saves one entry per synced Save, remembering what it saved.
type oneAtATime struct {
	want []raftpb.Entry
	i    uint64
}

func (w *oneAtATime) save(t *testing.T, s *LogStore) {
	t.Helper()
	w.i++
	e := payloadEnts(1, w.i, w.i)
	w.want = append(w.want, e...)
	if err := s.Save(raftpb.HardState{Term: 1, Commit: w.i}, e, true); err != nil {
		t.Fatal(err)
	}
}
