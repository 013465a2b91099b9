package store

import "sync"

// Badger drops old versions during its compactions, as far as its discard
// timestamp allows: for every key it keeps the newest version at or below
// the timestamp and everything above it. The state machine sets that
// timestamp just below a revision R, so reads at R or later stay exact.
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
}

// updateDiscardTs recomputes the discard timestamp and hands it to Badger.
func (sm *stateMachine) updateDiscardTs() {
	d := &sm.discard
	d.mu.Lock()
	defer d.mu.Unlock()
	ts := sm.compacted.Load()
	if s := int64(sm.snapIndex.Load()); s < ts {
		ts = s
	}
	ts = max(ts, d.physical)
	for rev := range d.pins {
		ts = min(ts, rev)
	}
	sm.db.SetDiscardTs(uint64(max(ts-1, 0)))
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
