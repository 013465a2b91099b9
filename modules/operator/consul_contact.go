package operator

import (
	"sync/atomic"
	"time"

	"github.com/trellis-cp/trellis/core/module"
)

// leaderContactSample is how often the watcher asks raft whether it knows
// a leader: the resolution of X-Consul-LastContact while there is none.
const leaderContactSample = 100 * time.Millisecond

// leaderContact estimates Consul's X-Consul-LastContact: how long ago this
// node last heard from a leader. module.Cluster has no last-contact time,
// but raft forgets the leader (PreVote clears it) once an election timeout
// passes without word from it, so "a leader is known" means "heard from it
// within an election timeout". While one is known the answer is 0; while
// none is, it is the time since one last was, sampled in the background.
type leaderContact struct {
	last atomic.Int64 // unix nanos when a leader was last known
}

// watchLeaderContact starts sampling cl until its raft node stops (when cl
// says when that is, as *raft.Node does with Done; otherwise there is no
// sampler and the time counts from when the watch began or a request last
// saw a leader).
func watchLeaderContact(cl module.Cluster) *leaderContact {
	lc := &leaderContact{}
	lc.last.Store(time.Now().UnixNano())
	stopper, ok := cl.(interface{ Done() <-chan struct{} })
	if !ok {
		return lc
	}
	go func() {
		t := time.NewTicker(leaderContactSample)
		defer t.Stop()
		for {
			select {
			case <-stopper.Done():
				return
			case <-t.C:
				if cl.Leader() != 0 {
					lc.last.Store(time.Now().UnixNano())
				}
			}
		}
	}()
	return lc
}

// since is the value of X-Consul-LastContact.
func (lc *leaderContact) since(cl module.Cluster) time.Duration {
	if cl.IsLeader() || cl.Leader() != 0 {
		lc.last.Store(time.Now().UnixNano())
		return 0
	}
	return max(time.Since(time.Unix(0, lc.last.Load())), 0)
}
