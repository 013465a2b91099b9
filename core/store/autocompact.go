package store

import (
	"errors"
	"time"
)

// AutoCompaction makes the leader compact the history by itself, like
// etcd's --auto-compaction-mode and --auto-compaction-retention. Without
// it the revision index and the change log keep every revision until an
// operator compacts (POST /api/ops/compact).
//
// At most one of Retention and Revisions is set; neither turns it off.
type AutoCompaction struct {
	// Retention keeps this much time of history (etcd's periodic mode):
	// every Retention/10, at most every hour, the leader compacts to the
	// revision that was current Retention ago.
	Retention time.Duration
	// Revisions keeps the newest Revisions revisions (etcd's revision
	// mode): every five minutes the leader compacts to the current
	// revision minus Revisions.
	Revisions int64
	// Interval overrides how often the compactor looks (tests).
	Interval time.Duration
}

// enabled reports whether a compactor runs.
func (a AutoCompaction) enabled() bool { return a.Retention > 0 || a.Revisions > 0 }

// every is how often the compactor looks.
func (a AutoCompaction) every() time.Duration {
	switch {
	case a.Interval > 0:
		return a.Interval
	case a.Retention > 0:
		return min(max(a.Retention/10, 100*time.Millisecond), time.Hour)
	default:
		return 5 * time.Minute
	}
}

// revSample is the revision a member had applied at a moment.
type revSample struct {
	at  time.Time
	rev int64
}

// revSamples remembers past revisions for periodic compaction, oldest
// first: a revision's age is when it was sampled, which errs on the side
// of keeping more history (it was current at least that long ago).
type revSamples []revSample

// add records that rev was current at at.
func (s *revSamples) add(at time.Time, rev int64) {
	*s = append(*s, revSample{at: at, rev: rev})
}

// target is the newest revision sampled at least retention before now,
// if any; the samples older than it are dropped, since a later target can
// only be newer.
func (s *revSamples) target(now time.Time, retention time.Duration) (int64, bool) {
	cut := now.Add(-retention)
	i := 0
	for i < len(*s) && !(*s)[i].at.After(cut) {
		i++
	}
	if i == 0 {
		return 0, false
	}
	rev := (*s)[i-1].rev
	*s = append((*s)[:0], (*s)[i-1:]...)
	return rev, true
}

// autoCompactLoop runs on every member, so a new leader already knows
// the revisions of the last Retention; only the leader proposes.
func (s *Store) autoCompactLoop(ac AutoCompaction) {
	defer s.wg.Done()
	t := time.NewTicker(ac.every())
	defer t.Stop()
	var samples revSamples // periodic mode only
	if ac.Retention > 0 {
		samples.add(time.Now(), s.Revision())
	}
	// written is the newest event when this member last compacted. In
	// revision mode a compaction entry is a revision itself, so without
	// new writes the target would creep up one entry per round.
	var written int64
	for {
		select {
		case <-t.C:
		case <-s.stopc:
			return
		}
		newest := s.sm.marks.newest()
		var target int64
		var ok bool
		if ac.Retention > 0 {
			now := time.Now()
			samples.add(now, s.Revision())
			target, ok = samples.target(now, ac.Retention)
		} else {
			target, ok = s.Revision()-ac.Revisions, newest != written
		}
		// Compacting past the newest event discards nothing more; it would
		// only write another entry, and so another revision, on a cluster
		// with nothing to do.
		target = min(target, newest)
		// Under a CORRUPT alarm the history is evidence: like etcd, which
		// refuses compactions then, leave it to the operator.
		if !ok || target <= s.CompactedRevision() || !s.node.IsLeader() || s.sm.alarms.Load().corrupt {
			continue
		}
		if s.autoCompact(target, ac) {
			written = newest
		}
	}
}

// autoCompact proposes one compaction to target and reports whether the
// history is now compacted that far.
func (s *Store) autoCompact(target int64, ac AutoCompaction) bool {
	ctx, cancel := s.background(time.Minute)
	defer cancel()
	start := time.Now()
	err := s.Compact(ctx, target)
	switch {
	case errors.Is(err, ErrCompacted):
		// An operator compacted further meanwhile.
		return true
	case err != nil:
		s.logger.Warn("auto-compaction failed", "target_revision", target, "err", err)
		return false
	}
	s.logger.Info("auto-compaction completed", "target_revision", target,
		"retention", ac.Retention, "revisions", ac.Revisions, "duration_ms", time.Since(start).Milliseconds())
	return true
}
