package store

import (
	"time"
)

// defaultQuotaCheckInterval is how often the quota monitor measures the
// state store when Options leave it unset.
const defaultQuotaCheckInterval = 5 * time.Second

// StateSize is the state store's disk usage in bytes, measured now: the
// blocks allocated to its files (storage.StateDB.DiskUsage).
func (s *Store) StateSize() int64 {
	n, err := s.state.DiskUsage()
	if err != nil {
		s.logger.Warn("measure state store", "err", err)
	}
	return n
}

// quotaLoop runs on every member: each QuotaCheckInterval it measures this
// member's state store and raises a NOSPACE alarm for it when the store is
// over the quota. Like etcd it never disarms: an operator does, after
// compacting and defragmenting.
func (s *Store) quotaLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.quotaEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stopc:
			return
		}
		s.checkQuota()
	}
}

func (s *Store) checkQuota() {
	a := Alarm{MemberID: s.node.ID(), Type: AlarmNoSpace}
	if s.node.Removed() || s.hasAlarm(a) {
		return
	}
	size := s.StateSize()
	if size <= s.quota {
		return
	}
	s.logger.Warn("state store over its quota, raising NOSPACE alarm", "size", size, "quota", s.quota, "member", a.MemberID)
	ctx, cancel := s.background(5 * time.Second)
	defer cancel()
	if err := s.RaiseAlarm(ctx, a); err != nil {
		s.logger.Warn("raise NOSPACE alarm", "err", err)
	}
}
