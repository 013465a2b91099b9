package auth

import (
	"context"
	"net/http"
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

type staleKey struct{}

// staleOK marks a request that asked for possibly stale data (Consul's
// ?stale, etcd's serializable reads): its session check may use this node's
// cache even when the node cannot prove it is current, the way Consul's
// default ACL down policy (extend-cache) does, so a node cut off from the
// leader still serves the reads its callers explicitly allowed to be stale.
func staleOK(ctx context.Context) bool { v, _ := ctx.Value(staleKey{}).(bool); return v }

// allowsStale reports whether r is a read that asked for stale data.
func allowsStale(r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	q := r.URL.Query()
	return q.Has("stale") || q.Get("serializable") == "true"
}

// trusted reports whether the caches may answer for ctx's request.
func (s *Service) trusted(ctx context.Context) bool { return s.fresh() || staleOK(ctx) }
