package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// defaultSegmentSize is how much a segment preallocates and fills with
// zeros (zeroFill). A Ready that does not fit in what is left starts a new
// segment; a record bigger than a whole segment still goes into one (the
// file grows past its preallocation).
const defaultSegmentSize = 64 << 20

// firstSegmentSize bounds the first segment of a new log. It is created
// and zero-filled on the opening goroutine, there being no spare yet:
// 8 MiB takes ~5 ms where 64 MiB took ~40 ms, paid by every new node and
// every test that opens a new log. Its rollover takes a full-size spare.
const firstSegmentSize = 8 << 20

// wal is the append-only file log under a LogStore, in the manner of
// etcd's WAL: a directory of segments, each a sequence of records (see
// wal_record.go). Every write goes to the end of the newest segment; one
// fdatasync makes a whole Ready durable. The first records of each segment
// repeat the snapshot and hard state of the moment it was started, so
// compaction just deletes the oldest segments once a snapshot covers
// their entries.
type wal struct {
	dir     string
	segSize int64 // the size of segments after the first (sizeOf)
	logger  *slog.Logger

	// mu guards what follows: the Ready loop writes, Probe writes from
	// health checks, Close comes from elsewhere.
	mu   sync.Mutex
	segs []*segment // oldest first; the last is the one being written
	f    *os.File   // the last segment, open for writing
	app  *appender  // writes f's records (directly where it can)
	off  int64      // where the next record goes in f
	// limit is the size f was preallocated to: a write that would pass it
	// starts a new segment.
	limit int64
	// headEnd is where the records that head the last segment end: a
	// segment holding nothing else is not worth rolling over.
	headEnd int64
	// err is the first write or sync failure: after it the file's
	// contents are unknown and the log takes no more writes.
	err error
	// headSnap and headHS are the newest snapshot and hard state written,
	// encoded as the records a new segment starts with. They follow what
	// was written, not what memory holds: a rollover between a write and
	// the memory update (a Probe from another goroutine) must not repeat
	// an older hard state after a newer one.
	headSnap, headHS []byte

	// spares prepares the next segment in the background (wal_spare.go);
	// spareAsked is whether the newest segment has asked for it.
	spares     *spareMaker
	spareAsked bool
	// inlineSegments counts rollovers that found no spare ready and
	// created their segment on the writing goroutine (see rollover).
	inlineSegments atomic.Int64

	// size is the bytes of all segments, preallocated space included. The
	// spare being prepared is not counted: it holds no log yet, it is at
	// most one segment, and counting it would make the figure move with a
	// background goroutine's timing rather than with the log.
	size atomic.Int64
}

// openWAL opens the log in dir (creating dir and a first segment when
// there is none), replays it and cuts off a torn tail left by a crash.
func openWAL(dir string, segSize int64, logger *slog.Logger) (*wal, replayState, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, replayState{}, err
	}
	segs, err := listSegments(dir)
	if err != nil {
		return nil, replayState{}, err
	}
	w := &wal{dir: dir, segSize: segSize, logger: logger}
	if len(segs) == 0 {
		seg, f, err := createSegment(dir, 0, 1, w.sizeOf(0), nil, true)
		if err != nil {
			return nil, replayState{}, err
		}
		w.segs, w.f, w.limit = []*segment{seg}, f, w.sizeOf(0)
		if w.app, err = newAppender(f, seg.path, 0); err != nil {
			f.Close()
			return nil, replayState{}, err
		}
		w.updateSize()
		w.startSpares()
		return w, replayState{}, nil
	}
	st, end, torn, err := replaySegments(segs)
	if err != nil {
		return nil, replayState{}, err
	}
	last := segs[len(segs)-1]
	if torn != nil {
		logger.Warn("raft log: cutting off a torn record left by a crash", "segment", filepath.Base(torn.seg.path),
			"offset", torn.off, "reason", torn.reason.Error())
		if err := repairTail(last.path, torn.off, w.sizeOf(last.seq)); err != nil {
			return nil, replayState{}, fmt.Errorf("cut torn tail of %s: %w", filepath.Base(last.path), err)
		}
	}
	f, err := os.OpenFile(last.path, os.O_RDWR, 0)
	if err != nil {
		return nil, replayState{}, err
	}
	w.segs, w.f, w.off, w.limit = segs, f, end, w.sizeOf(last.seq)
	if w.app, err = newAppender(f, last.path, end); err != nil {
		f.Close()
		return nil, replayState{}, err
	}
	if last.maxIndex == 0 {
		w.headEnd = end
	}
	if err := w.setHead(&st.snap, &st.hs); err != nil {
		w.app.close()
		f.Close()
		return nil, replayState{}, err
	}
	w.updateSize()
	w.startSpares()
	return w, st, nil
}

// sizeOf is the size segment seq is preallocated to: the first segment
// of a log is smaller (firstSegmentSize). A first segment written before
// there was a smaller one (64 MiB) just rolls over early.
func (w *wal) sizeOf(seq uint64) int64 {
	if seq == 0 {
		return min(w.segSize, firstSegmentSize)
	}
	return w.segSize
}

// startSpares starts the goroutine that prepares the next segment
// (wal_spare.go), asking at once when the newest segment is already half
// full.
func (w *wal) startSpares() {
	w.spares = newSpareMaker(w.dir, w.segSize, w.logger)
	w.spares.start()
	w.askSpare()
}

// askSpare asks for the next segment once the newest one is half full:
// the spare is then ready long before the rollover needs it.
func (w *wal) askSpare() {
	if !w.spareAsked && w.off >= w.limit/2 {
		w.spares.request()
		w.spareAsked = true
	}
}

// write appends recs to the newest segment, first starting a new segment
// when it is full: the old one is synced, and the new one begins with the
// newest snapshot and hard state written before recs, and is named for
// firstIndex. maxIndex is the highest entry index in recs (0: none); snap
// and hs, when not nil, are the snapshot and hard state recs carry.
func (w *wal) write(recs []byte, firstIndex, maxIndex uint64, snap *raftpb.Snapshot, hs *raftpb.HardState) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if w.off > w.headEnd && w.off+int64(len(recs)) > w.limit {
		if err := w.rollover(firstIndex); err != nil {
			return w.fail(err)
		}
	}
	if err := w.app.write(recs, w.off); err != nil {
		return w.fail(err)
	}
	w.off += int64(len(recs))
	w.askSpare()
	seg := w.segs[len(w.segs)-1]
	seg.maxIndex = max(seg.maxIndex, maxIndex)
	if w.off > w.limit {
		w.updateSize()
	}
	return w.setHead(snap, hs)
}

// setHead records the snapshot and hard state a new segment starts with
// (nil or empty: unchanged).
func (w *wal) setHead(snap *raftpb.Snapshot, hs *raftpb.HardState) error {
	var err error
	if snap != nil && !raft.IsEmptySnap(*snap) {
		if w.headSnap, err = appendMessage(w.headSnap[:0], recSnapshot, snap); err != nil {
			return err
		}
	}
	if hs != nil && !raft.IsEmptyHardState(*hs) {
		if w.headHS, err = appendMessage(w.headHS[:0], recHardState, hs); err != nil {
			return err
		}
	}
	return nil
}

// rollover syncs and closes the newest segment and starts the next one
// from the spare, zero-filled in the background. When no spare is ready
// (the log outran its preparation, or it failed) the segment is created
// here with fallocate alone, as before spares: ~2 ms where zero-filling
// 64 MiB on the Ready loop measured 40-250 ms. That segment's fdatasyncs
// cost more (see zeroFill), until the next rollover. The old segment is
// synced even when the caller would not sync: replay must never find a
// newer segment beside an older one that lost its tail.
func (w *wal) rollover(firstIndex uint64) error {
	h := append(append([]byte(nil), w.headSnap...), w.headHS...)
	if err := fdatasync(w.f); err != nil {
		return err
	}
	if err := errors.Join(w.app.close(), w.f.Close()); err != nil {
		return err
	}
	next := w.segs[len(w.segs)-1].seq + 1
	var seg *segment
	var err error
	f := w.spares.take()
	spare := f != nil
	if spare {
		seg, err = installSegment(w.dir, f, next, firstIndex, h)
	} else {
		w.inlineSegments.Add(1)
		seg, f, err = createSegment(w.dir, next, firstIndex, w.segSize, h, false)
	}
	if err != nil {
		return err
	}
	if w.app, err = newAppender(f, seg.path, int64(len(h))); err != nil {
		f.Close()
		return err
	}
	w.spareAsked = false
	w.segs = append(w.segs, seg)
	w.f, w.off, w.headEnd, w.limit = f, int64(len(h)), int64(len(h)), w.segSize
	w.updateSize()
	w.logger.Debug("raft log: new segment", "segment", filepath.Base(seg.path), "spare", spare)
	return nil
}

// sync makes everything written so far durable.
func (w *wal) sync() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return w.err
	}
	if err := fdatasync(w.f); err != nil {
		return w.fail(err)
	}
	return nil
}

// fail records the first write failure and returns it.
func (w *wal) fail(err error) error {
	w.err = fmt.Errorf("raft log %s: %w", w.dir, err)
	return w.err
}

// compact deletes the oldest segments whose entries are all at or below
// upTo, never the newest. Segments holding an index above upTo, and every
// segment after them, stay: a later segment may have overwritten their
// tail, so only an unbroken prefix goes.
func (w *wal) compact(upTo uint64) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	var high uint64
	for n < len(w.segs)-1 {
		high = max(high, w.segs[n].maxIndex)
		if high > upTo {
			break
		}
		n++
	}
	if n == 0 {
		return nil
	}
	for i := 0; i < n; i++ {
		if err := os.Remove(w.segs[i].path); err != nil && !errors.Is(err, os.ErrNotExist) {
			w.segs = w.segs[i:]
			w.updateSize()
			return fmt.Errorf("remove %s: %w", filepath.Base(w.segs[0].path), err)
		}
	}
	w.segs = append([]*segment(nil), w.segs[n:]...)
	w.updateSize()
	return syncDir(w.dir)
}

// updateSize recomputes the bytes the segments take.
func (w *wal) updateSize() {
	var total int64
	for _, s := range w.segs {
		if fi, err := os.Stat(s.path); err == nil {
			total += fi.Size()
		}
	}
	w.size.Store(total)
}

// segments is how many segment files the log has.
func (w *wal) segments() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.segs)
}

// close stops preparing spares, then syncs and closes the newest segment.
func (w *wal) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	w.spares.close()
	var err error
	if w.err == nil {
		err = fdatasync(w.f)
	}
	if cerr := errors.Join(w.app.close(), w.f.Close()); err == nil {
		err = cerr
	}
	w.f = nil
	if w.err == nil {
		w.err = errors.New("raft log closed")
	}
	return err
}
