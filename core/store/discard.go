package store

import (
	"sync"
	"time"
)

// Badger drops old versions during its compactions, as far as its discard
// timestamp allows: for every key it keeps the newest version at or below
// the timestamp (none when that is a delete) and everything above it. The
// state machine sets the timestamp to a revision R, so reads at R or later
// stay exact.
//
// R is the compacted revision, held back to the newest raft snapshot (which
// raft may have to stream to a follower) — until a physical compaction or a
// defragmentation asks for the compacted revision itself. Whatever R is, it
// never passes a pinned revision: a snapshot stream or a hash in progress
// pins the revision it reads at.
type discardState struct {
	mu sync.Mutex
	// physical is the compacted revision a physical compaction or a
	// defragmentation asked Badger to discard up to; node-local.
	physical int64
	// pins counts the readers at each pinned revision.
	pins map[int64]int
	// readers counts the change-log readers by the first revision they
	// read (events).
	readers map[int64]int
}

// updateDiscardTs recomputes the discard timestamp and hands it to Badger.
func (sm *stateMachine) updateDiscardTs() {
	d := &sm.discard
	d.mu.Lock()
	defer d.mu.Unlock()
	sm.db.SetDiscardTs(uint64(sm.discardRevisionLocked()))
}

// discardRevision is the revision R, Badger's discard timestamp: reads at
// R and later stay exact.
func (sm *stateMachine) discardRevision() int64 {
	sm.discard.mu.Lock()
	defer sm.discard.mu.Unlock()
	return sm.discardRevisionLocked()
}

func (sm *stateMachine) discardRevisionLocked() int64 {
	d := &sm.discard
	ts := sm.compacted.Load()
	if s := int64(sm.snapIndex.Load()); s < ts {
		ts = s
	}
	ts = max(ts, d.physical)
	for rev := range d.pins {
		ts = min(ts, rev)
	}
	return ts
}

// pin keeps the versions a read at rev needs until unpin is called. The
// caller checks rev against the compacted revision after pinning: at or
// above it, nothing rev needs has been or will be discarded.
func (sm *stateMachine) pin(rev int64) (unpin func()) {
	d := &sm.discard
	d.mu.Lock()
	d.pins[rev]++
	d.mu.Unlock()
	sm.updateDiscardTs()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			if d.pins[rev]--; d.pins[rev] <= 0 {
				delete(d.pins, rev)
			}
			d.mu.Unlock()
			sm.updateDiscardTs()
		})
	}
}

// discardCompacted lets Badger discard everything below the compacted
// revision from now on, raft snapshot or not. Raft snapshot streams below
// it are refused (WriteSnapshot) and raft sends a newer one.
func (sm *stateMachine) discardCompacted() {
	d := &sm.discard
	d.mu.Lock()
	d.physical = max(d.physical, sm.compacted.Load())
	d.mu.Unlock()
	sm.updateDiscardTs()
}

// startCompaction publishes a compaction to rev applied at index and says
// at which version its change-log delete markers go: rev, unless a reader
// could see them there — a change-log reader that started below rev
// (reading at a revision of at least rev: it would miss events without
// noticing), or a pinned stream at rev or above. Those read below index,
// so markers at index stay out of their sight. Readers that register
// later see the new compacted revision and refuse to start below it.
func (sm *stateMachine) startCompaction(rev int64, index uint64) (markAt uint64) {
	d := &sm.discard
	d.mu.Lock()
	defer d.mu.Unlock()
	sm.compacted.Store(rev)
	sm.compactedAt.Store(index)
	for p := range d.pins {
		if p >= rev {
			return index
		}
	}
	for from := range d.readers {
		if from < rev {
			return index
		}
	}
	return uint64(rev)
}

// readEvents registers a change-log reader starting at from until done is
// called; the caller checks from against the compacted revision after.
func (sm *stateMachine) readEvents(from int64) (done func()) {
	d := &sm.discard
	d.mu.Lock()
	d.readers[from]++
	d.mu.Unlock()
	return func() {
		d.mu.Lock()
		if d.readers[from]--; d.readers[from] <= 0 {
			delete(d.readers, from)
		}
		d.mu.Unlock()
	}
}

// pinNewest pins the newest applied revision for a stream of the whole
// state, which must not start below the last compaction's index (between
// a compaction's apply and the end of its batch the applied revision lags
// it for a moment).
func (sm *stateMachine) pinNewest() (rev int64, unpin func()) {
	for {
		rev = sm.revision()
		unpin = sm.pin(rev)
		if uint64(rev) >= sm.compactedAt.Load() {
			return rev, unpin
		}
		unpin()
		time.Sleep(time.Millisecond)
	}
}
