package store

import (
	"context"
	"fmt"
	"time"
)

// Defragment rewrites this member's state store without the space that
// compacted versions and overwritten values hold, and reports its disk
// usage before and after.
//
// It lets Badger discard everything below the compacted revision (not only
// below the newest raft snapshot), flushes the memtables — apply waits
// meanwhile, as Badger refuses writes while it flushes, so on a leader with
// a large store this may cost the leadership — then flattens the tree to
// one level and garbage-collects the value log. Only this member is
// affected; like etcd's, run it on one member at a time, the leader last.
// ctx is checked between the steps; a step that started runs to its end.
func (s *Store) Defragment(ctx context.Context) (before, after int64, err error) {
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	if err := ctx.Err(); err != nil {
		return 0, 0, err
	}
	before = s.StateSize()
	start := time.Now()
	if err := s.dropCompacted(ctx); err != nil {
		return before, s.StateSize(), fmt.Errorf("store: defragment: %w", err)
	}
	after = s.StateSize()
	s.logger.Info("state store defragmented", "before", before, "after", after, "duration", time.Since(start))
	return before, after, nil
}

// CompactPhysical compacts like Compact, then drops the compacted versions
// from this member's files before it returns (etcd's physical compaction).
// Other members compact logically when they apply the compaction; their
// files shrink as Badger compacts them, or when they are defragmented.
func (s *Store) CompactPhysical(ctx context.Context, rev int64) error {
	if err := s.Compact(ctx, rev); err != nil {
		return err
	}
	s.maintMu.Lock()
	defer s.maintMu.Unlock()
	if err := s.dropCompacted(ctx); err != nil {
		return fmt.Errorf("store: physical compaction to %d: %w", rev, err)
	}
	return nil
}

// dropCompacted makes the versions below the compacted revision physically
// gone: Badger may discard them from now on, memtables are flushed into
// the tree and the tree is compacted into one level, which drops them;
// then value-log files that are mostly garbage are rewritten.
func (s *Store) dropCompacted(ctx context.Context) error {
	s.sm.discardCompacted()
	start := time.Now()
	s.sm.writeMu.Lock()
	err := s.state.FlushMemtables()
	s.sm.writeMu.Unlock()
	if err != nil {
		return err
	}
	s.logger.Debug("memtables flushed, apply resumed", "paused", time.Since(start))
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := s.state.Flatten(); err != nil {
		return err
	}
	// Apply waits while each value-log file is rewritten: Badger's rewrite
	// is not safe against concurrent writes (see storage.ValueLogGC).
	for {
		s.sm.writeMu.Lock()
		rewrote, err := s.state.ValueLogGC()
		s.sm.writeMu.Unlock()
		if err != nil || !rewrote {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}
