package auth

import (
	"context"
	"time"
)

// The request path trusts this node's caches only while the node is known
// to be current: a linearizable barrier (ReadIndex) succeeded within
// freshWindow. A logout or a role change made on any node is therefore
// seen everywhere within one replication round in practice and within
// freshWindow at worst, and a node cut off from the leader stops accepting
// cached sessions once the window passes (its lookups then need the
// cluster, and fail with 503 without it).
const (
	freshWindow   = time.Second
	freshInterval = 250 * time.Millisecond
)

func (s *Service) fresh() bool {
	return time.Since(time.Unix(0, s.freshAt.Load())) < freshWindow
}

func (s *Service) markFresh() { s.freshAt.Store(time.Now().UnixNano()) }

// freshLoop renews freshness with a ReadIndex round every freshInterval.
// The barrier is taken before the clock is read, so the window never
// starts later than the proof.
func (s *Service) freshLoop(ctx context.Context) {
	t := time.NewTicker(freshInterval)
	defer t.Stop()
	for {
		start := time.Now()
		bctx, cancel := context.WithTimeout(ctx, freshWindow)
		err := s.ns.Store().Raft().ReadIndex(bctx)
		cancel()
		if err == nil {
			s.freshAt.Store(start.UnixNano())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
