package storage

import (
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// flushMarker is the one key the state store writes for itself, to make
// Badger flush its memtables (FlushMemtables). Keys starting with 0xff are
// reserved for it: the state machine's own keys never do.
var flushMarker = []byte("\xfftrellis.flush")

// FlushMemtables writes Badger's memtables out as level-0 tables and
// compacts level 0 into the tree, so what they held is subject to the
// discard timestamp like everything else. Badger has no public flush: this
// writes a marker key and drops its prefix, which flushes every memtable
// (without the marker) on the way. Badger refuses other writes
// (badger.ErrBlockedWrites) while it works, so the caller must make sure
// nothing else writes to the store meanwhile.
func (s *StateDB) FlushMemtables() error {
	wb := s.db.NewWriteBatchAt(1)
	if err := wb.Set(flushMarker, nil); err != nil {
		wb.Cancel()
		return fmt.Errorf("storage: flush memtables: %w", err)
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("storage: flush memtables: %w", err)
	}
	if err := s.db.DropPrefix(flushMarker); err != nil {
		return fmt.Errorf("storage: flush memtables: %w", err)
	}
	return nil
}

// Defragment compacts the whole tree into one level, which drops every
// version the discard timestamp allows and, at the bottom level, deleted
// keys, then garbage-collects the value log until no file is worth
// rewriting. What still sits in memtables is not touched: call
// FlushMemtables first to include it. Writes may go on meanwhile.
func (s *StateDB) Defragment() error {
	if err := s.db.Flatten(2); err != nil {
		return fmt.Errorf("storage: flatten: %w", err)
	}
	for {
		err := s.db.RunValueLogGC(0.5)
		if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) || errors.Is(err, badger.ErrGCInMemoryMode) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("storage: value log gc: %w", err)
		}
	}
}
