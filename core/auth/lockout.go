package auth

import (
	"context"
	"encoding/json"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

// lockRecord counts consecutive failures for a user name, cluster-wide. It
// is kept for names that do not exist too, so a locked-out unknown user
// looks exactly like a locked-out real one.
type lockRecord struct {
	Failures    int       `json:"failures"`
	LockedUntil time.Time `json:"locked_until,omitzero"`
}

func (s *Service) readLock(ctx context.Context, name string, o store.ReadOptions) (lockRecord, int64) {
	var rec lockRecord
	kv, err := s.ns.Get(ctx, lockPrefix+name, o)
	if err != nil {
		return rec, 0
	}
	if json.Unmarshal(kv.Value, &rec) != nil {
		return lockRecord{}, kv.ModRevision
	}
	return rec, kv.ModRevision
}

// lockedUntil reads this node's copy: a lock set anywhere arrives within
// a replication delay, and the check stays off the raft path.
func (s *Service) lockedUntil(ctx context.Context, name string) (time.Time, bool) {
	if s.cfg.LockoutThreshold <= 0 {
		return time.Time{}, false
	}
	rec, _ := s.readLock(ctx, name, store.ReadOptions{Serializable: true})
	return rec.LockedUntil, time.Now().Before(rec.LockedUntil)
}

// recordFailure adds one failure with compare-and-swap, so failures on
// different nodes add up; at the threshold the account locks.
func (s *Service) recordFailure(ctx context.Context, name string) (bool, time.Time) {
	if s.cfg.LockoutThreshold <= 0 {
		return false, time.Time{}
	}
	for attempt := 0; attempt < 5; attempt++ {
		rec, modRev := s.readLock(ctx, name, store.ReadOptions{})
		rec.Failures++
		locked := rec.Failures >= s.cfg.LockoutThreshold
		if locked {
			rec.LockedUntil = time.Now().Add(s.cfg.LockoutDuration).UTC()
			rec.Failures = 0
		}
		b, _ := json.Marshal(rec)
		key := lockPrefix + name
		ttl := s.cfg.LockoutDuration
		if ttl <= 0 {
			ttl = 15 * time.Minute
		}
		op, err := s.ns.PutOp(key, b, store.PutOptions{TTL: ttl})
		if err != nil {
			return false, time.Time{}
		}
		res, err := s.ns.Txn(ctx, []store.Compare{s.ns.CmpNumber(key, store.CompareModRevision, store.Equal, modRev)}, []store.Op{op}, nil)
		if err != nil {
			s.logger.Warn("record login failure", "user", name, "err", err)
			return false, time.Time{}
		}
		if res.Succeeded {
			if locked {
				s.logger.Warn("account locked after repeated failures", "user", name, "until", rec.LockedUntil)
			}
			return locked, rec.LockedUntil
		}
	}
	return false, time.Time{}
}

// clearFailures resets the counter after a success; it writes only when
// there is something to clear.
func (s *Service) clearFailures(ctx context.Context, name string) {
	if rec, _ := s.readLock(ctx, name, store.ReadOptions{Serializable: true}); rec.Failures == 0 && rec.LockedUntil.IsZero() {
		return
	}
	if _, err := s.ns.Delete(ctx, lockPrefix+name); err != nil {
		s.logger.Warn("clear login failures", "user", name, "err", err)
	}
}

// Unlock clears a user's lockout (admin action).
func (s *Service) Unlock(ctx context.Context, name string) error {
	_, err := s.ns.Delete(ctx, lockPrefix+name)
	return err
}
