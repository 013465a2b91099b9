package node

import (
	"context"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// TestAbsentLearnerIsNotPromoted adds a member that never starts: it must
// stay a learner (a voter that never answers would halve a one-node
// cluster's availability), however short the log.
func TestAbsentLearnerIsNotPromoted(t *testing.T) {
	n := startNode(t, testConfig(t))
	rn := n.Store().Raft()
	if _, err := rn.AddMember(context.Background(), raft.Member{ID: 2, PeerAddr: testutil.FreeAddr(t)}); err != nil {
		t.Fatalf("add member: %v", err)
	}
	// The leader checks learners every 5 ticks (20ms here): 40 checks.
	time.Sleep(4 * time.Second)
	for _, m := range rn.Members() {
		if m.ID == 2 && !m.Learner {
			t.Fatalf("member 2 never answered but was promoted: %+v", rn.Members())
		}
	}
	// And the one real voter still commits on its own.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := rn.AddMember(ctx, raft.Member{ID: 3, PeerAddr: testutil.FreeAddr(t)}); err != nil {
		t.Fatalf("the cluster cannot commit after an absent learner was added: %v", err)
	}
}
