package store

import "errors"

// A snapshot restore replaces the whole state store under readers: it
// drops every key, loads the snapshot's, then swaps the indexes. A read
// that overlaps it could see neither state (a key found in the old index
// whose record is already dropped). Readers therefore work like a
// seqlock's: restoreGen is odd while a restore runs, and a read that
// finds it changed when done runs again, against the new state. The read
// path pays two atomic loads; only the rare restore makes anyone wait.

// errRestored is a read that overlapped a snapshot restore: what it read
// may be torn, and it must start over.
var errRestored = errors.New("store: a snapshot restore overlapped the read")

// beginRestore marks a restore as running; the function it returns marks
// it done and wakes the readers waiting for it.
func (sm *stateMachine) beginRestore() (end func()) {
	done := make(chan struct{})
	sm.restoreDone.Store(&done)
	sm.restoreGen.Add(1)
	return func() {
		sm.restoreGen.Add(1)
		close(done)
	}
}

// readGen waits out a running restore and returns the generation a read
// starts in.
func (sm *stateMachine) readGen() uint64 {
	for {
		g := sm.restoreGen.Load()
		if g&1 == 0 {
			return g
		}
		if done := sm.restoreDone.Load(); done != nil {
			<-*done
		}
	}
}

// overlapped reports whether a restore began since generation g.
func (sm *stateMachine) overlapped(g uint64) bool { return sm.restoreGen.Load() != g }

// consistent runs read, again if a snapshot restore overlapped it, until
// one run saw a single state.
func (sm *stateMachine) consistent(read func() error) error {
	for {
		g := sm.readGen()
		err := read()
		if !sm.overlapped(g) {
			return err
		}
	}
}
