package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"go.etcd.io/raft/v3/raftpb"
)

// replayState is what the log holds after its records are read in order:
// the newest snapshot, the newest hard state and the entries after the
// snapshot, with every later entry superseding an earlier one at the same
// or a higher index.
type replayState struct {
	snap raftpb.Snapshot
	hs   raftpb.HardState
	ents []raftpb.Entry
}

// apply folds one record into the state; seg is the segment it came from.
func (st *replayState) apply(t recordType, payload []byte, seg *segment) error {
	switch t {
	case recEntry:
		var e raftpb.Entry
		if err := e.Unmarshal(payload); err != nil {
			return fmt.Errorf("decode entry: %w", err)
		}
		seg.maxIndex = max(seg.maxIndex, e.Index)
		st.addEntry(e)
	case recHardState:
		var hs raftpb.HardState
		if err := hs.Unmarshal(payload); err != nil {
			return fmt.Errorf("decode hard state: %w", err)
		}
		st.hs = hs
	case recSnapshot, recSnapshotInstall:
		var snap raftpb.Snapshot
		if err := snap.Unmarshal(payload); err != nil {
			return fmt.Errorf("decode snapshot: %w", err)
		}
		st.addSnapshot(snap, t == recSnapshotInstall)
	}
	return nil
}

// addEntry appends e, cutting off the entries at e's index and after it
// (a new leader overwrote them). An entry the snapshot covers is skipped;
// one past a hole starts the list anew — the hole must then be covered by
// a later snapshot, which finish checks.
func (st *replayState) addEntry(e raftpb.Entry) {
	if e.Index <= st.snap.Metadata.Index {
		return
	}
	n := len(st.ents)
	if n == 0 || e.Index < st.ents[0].Index || e.Index > st.ents[n-1].Index+1 {
		st.ents = append(st.ents[:0], e)
		return
	}
	st.ents = append(st.ents[:e.Index-st.ents[0].Index], e)
}

// addSnapshot makes snap the base of the log when it is newer than the
// current one. An installed snapshot replaces every entry, as
// MemoryStorage.ApplySnapshot does; one taken locally keeps the entries
// after it when the log agrees with it at its index.
func (st *replayState) addSnapshot(snap raftpb.Snapshot, install bool) {
	i := snap.Metadata.Index
	if i <= st.snap.Metadata.Index {
		return
	}
	st.snap = snap
	if install || len(st.ents) == 0 {
		st.ents = nil
		return
	}
	first, last := st.ents[0].Index, st.ents[len(st.ents)-1].Index
	switch {
	case i < first:
		// The entries start after a hole above the snapshot; finish decides.
	case i <= last && st.ents[i-first].Term == snap.Metadata.Term:
		st.ents = st.ents[i-first+1:]
	default:
		st.ents = nil
	}
}

// finish checks that the entries follow the snapshot without a hole.
func (st *replayState) finish() error {
	if len(st.ents) == 0 {
		return nil
	}
	if want := st.snap.Metadata.Index + 1; st.ents[0].Index != want {
		return fmt.Errorf("entries resume at index %d after a snapshot at %d: entries %d..%d are missing",
			st.ents[0].Index, st.snap.Metadata.Index, want, st.ents[0].Index-1)
	}
	return nil
}

// tornTail is a bad last record replay cut off.
type tornTail struct {
	seg    *segment
	off    int64
	reason error
}

// replaySegments reads every segment in order into a replayState. It
// returns the offset where the last segment's records end (where appends
// continue) and, when the last segment ended in a torn record, where that
// was: a crash during a write leaves a partial or bad last record, which
// the caller cuts off. A bad record anywhere else — followed by a good
// one, or in an older segment — is corruption and an error.
func replaySegments(segs []*segment) (st replayState, end int64, torn *tornTail, err error) {
	for i, seg := range segs {
		f, err := os.Open(seg.path)
		if err != nil {
			return st, 0, nil, err
		}
		src := &fileSource{f: f}
		last := i == len(segs)-1
		off, t, err := replaySegment(&st, seg, src, last)
		f.Close()
		if err == nil {
			err = src.err
		}
		if err != nil {
			return st, 0, nil, fmt.Errorf("%s: %w", filepath.Base(seg.path), err)
		}
		if last {
			end, torn = int64(off), t
		}
	}
	if err := st.finish(); err != nil {
		return st, 0, nil, err
	}
	return st, end, torn, nil
}

// replaySegment folds the records of one segment into st and returns where
// they end. In the last segment a bad record with nothing readable after
// it is a torn write, returned rather than an error.
func replaySegment(st *replayState, seg *segment, src recordSource, last bool) (int, *tornTail, error) {
	off := 0
	for {
		t, payload, n, err := recordAt(src, off)
		if errors.Is(err, errEndOfRecords) {
			return off, nil, nil
		}
		if err != nil {
			if !last || goodRecordAfter(src, off, n) {
				return off, nil, fmt.Errorf("corrupt record at offset %d: %w", off, err)
			}
			return off, &tornTail{seg: seg, off: int64(off), reason: err}, nil
		}
		if err := st.apply(t, payload, seg); err != nil {
			return off, nil, fmt.Errorf("record at offset %d: %w", off, err)
		}
		off += n
	}
}

// goodRecordAfter reports whether a well-formed record follows the bad one
// at off whose declared length is n (0 when unknown). A torn write leaves
// nothing readable after its first bad record; a record that decodes there
// means the damage is in the middle of the log.
func goodRecordAfter(src recordSource, off, n int) bool {
	if n <= 0 {
		return false
	}
	_, _, _, err := recordAt(src, off+n)
	return err == nil
}

// recordAt decodes the record at off, loading as much of the segment as
// its header says it needs.
func recordAt(src recordSource, off int) (recordType, []byte, int, error) {
	b := src.upTo(off + recordHeaderSize)
	if off+recordHeaderSize <= len(b) {
		if l := binary.LittleEndian.Uint32(b[off:]); l <= maxRecordSize {
			b = src.upTo(off + recordHeaderSize + int(l))
		}
	}
	if off >= len(b) {
		return 0, nil, 0, errEndOfRecords
	}
	return decodeRecord(b[off:])
}

// recordSource holds a segment's bytes from its start. upTo makes at
// least n of them available when the segment has that many and returns
// all it holds; a payload returned earlier may be invalid afterwards.
type recordSource interface {
	upTo(n int) []byte
}

// bytesSource is a segment already in memory (the fuzz target).
type bytesSource []byte

func (b bytesSource) upTo(int) []byte { return b }

// fileSource reads a segment file as far as replay asks, so replay does
// not read the preallocated zeros after the records (nor hold 64 MiB).
type fileSource struct {
	f   *os.File
	b   []byte
	eof bool
	err error
}

func (s *fileSource) upTo(n int) []byte {
	for len(s.b) < n && !s.eof {
		grow := max(n-len(s.b), 1<<20, len(s.b))
		s.b = slices.Grow(s.b, grow)
		m, err := io.ReadFull(s.f, s.b[len(s.b):len(s.b)+grow])
		s.b = s.b[:len(s.b)+m]
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
			s.eof = true
		case err != nil:
			s.eof, s.err = true, err
		}
	}
	return s.b
}
