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

// Flatten compacts the whole tree into one level, which drops every
// version the discard timestamp allows and, at the bottom level, deleted
// keys. What still sits in memtables is not touched: call FlushMemtables
// first to include it. Writes may go on meanwhile.
func (s *StateDB) Flatten() error {
	if err := s.db.Flatten(2); err != nil {
		return fmt.Errorf("storage: flatten: %w", err)
	}
	return nil
}

// ValueLogGC rewrites at most one value-log file that is at least half
// garbage and reports whether it did. Badger's rewrite reads the memtable's
// newest version without its lock (badger v4.9.6 value.go → db.MaxVersion),
// so the caller must keep other writers out while it runs.
func (s *StateDB) ValueLogGC() (rewrote bool, err error) {
	err = s.db.RunValueLogGC(0.5)
	if errors.Is(err, badger.ErrNoRewrite) || errors.Is(err, badger.ErrRejected) || errors.Is(err, badger.ErrGCInMemoryMode) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("storage: value log gc: %w", err)
	}
	return true, nil
}

// Defragment flattens the tree and rewrites value-log files until none is
// worth it. Nothing else may write meanwhile (see ValueLogGC); core/store
// interleaves the steps with its own writers instead.
func (s *StateDB) Defragment() error {
	if err := s.Flatten(); err != nil {
		return err
	}
	for {
		rewrote, err := s.ValueLogGC()
		if err != nil || !rewrote {
			return err
		}
	}
}
