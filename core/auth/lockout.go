package auth

import (
	"context"
	"encoding/json"
	"errors"
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

// readLock reads a name's lock record linearizably: a lock set on any node
// holds on every node at once. Login is slow anyway (argon2id), so the
// ReadIndex round costs nothing noticeable.
func (s *Service) readLock(ctx context.Context, name string) (lockRecord, int64, error) {
	var rec lockRecord
	if s.cfg.LockoutThreshold <= 0 || !validUsername(name) {
		return rec, 0, nil
	}
	kv, err := s.ns.Get(ctx, lockPrefix+name, store.ReadOptions{})
	if errors.Is(err, store.ErrNotFound) {
		return rec, 0, nil
	}
	if err != nil {
		return rec, 0, err
	}
	if json.Unmarshal(kv.Value, &rec) != nil {
		return lockRecord{}, kv.ModRevision, nil
	}
	return rec, kv.ModRevision, nil
}

// recordFailure adds one failure with compare-and-swap, so failures on
// different nodes add up; at the threshold the account locks.
func (s *Service) recordFailure(ctx context.Context, name string) (bool, time.Time) {
	if s.cfg.LockoutThreshold <= 0 || !validUsername(name) {
		return false, time.Time{}
	}
	for attempt := 0; attempt < 5; attempt++ {
		rec, modRev, err := s.readLock(ctx, name)
		if err != nil {
			return false, time.Time{}
		}
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

// clearFailures resets the counter after a success. It writes only when
// there is something to clear, and only if the record is still the one the
// check read: a lock set meanwhile on another node survives.
func (s *Service) clearFailures(ctx context.Context, name string, rec lockRecord, modRev int64) {
	if modRev == 0 || (rec.Failures == 0 && rec.LockedUntil.IsZero()) {
		return
	}
	key := lockPrefix + name
	del, err := s.ns.DeleteOp(key)
	if err != nil {
		return
	}
	if _, err := s.ns.Txn(ctx, []store.Compare{s.ns.CmpNumber(key, store.CompareModRevision, store.Equal, modRev)}, []store.Op{del}, nil); err != nil {
		s.logger.Warn("clear login failures", "user", name, "err", err)
	}
}

// Unlock clears a user's lockout (admin action).
func (s *Service) Unlock(ctx context.Context, name string) error {
	_, err := s.ns.Delete(ctx, lockPrefix+name)
	return err
}

// lockedUntil reports whether name is locked out now, and until when.
func (s *Service) lockedUntil(ctx context.Context, name string) (time.Time, bool) {
	rec, _, err := s.readLock(ctx, name)
	if err != nil {
		return time.Time{}, false
	}
	return rec.LockedUntil, time.Now().Before(rec.LockedUntil)
}
