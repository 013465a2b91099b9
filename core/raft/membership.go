package raft

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"go.etcd.io/raft/v3/raftpb"
	"go.etcd.io/raft/v3/tracker"
)

// AddMember adds a node as a learner; the leader promotes it to voter once
// its log has caught up, so a new node never weakens the quorum while it
// is still copying state. Re-adding a member with the same peer address is a
// no-op, so a joining node that crashed mid-join can simply ask again.
func (n *Node) AddMember(ctx context.Context, m Member) ([]Member, error) {
	if m.ID == 0 || m.PeerAddr == "" {
		return nil, fmt.Errorf("raft: add member: id and peer address are required")
	}
	for _, cur := range n.Members() {
		if cur.ID == m.ID {
			if cur.PeerAddr == m.PeerAddr {
				return n.Members(), nil
			}
			return nil, fmt.Errorf("%w: id %d is %s", ErrMemberExists, m.ID, cur.PeerAddr)
		}
		if cur.PeerAddr == m.PeerAddr {
			return nil, fmt.Errorf("%w: %s is node %d", ErrMemberExists, m.PeerAddr, cur.ID)
		}
	}
	m.Learner = true
	ctxb, _ := json.Marshal(m)
	cc := raftpb.ConfChange{Type: raftpb.ConfChangeAddLearnerNode, NodeID: m.ID, Context: ctxb}
	if err := n.proposeConfChange(ctx, cc); err != nil {
		return nil, fmt.Errorf("raft: add member %d: %w", m.ID, err)
	}
	return n.Members(), nil
}

// promoteLearners runs on the leader: a learner that is replicating, has
// been heard from recently, and whose match index is within a few entries
// of the commit index becomes a voter. A learner that never answered (match
// 0: added but never started) stays a learner however short the log is, so
// it cannot weaken the quorum.
func (n *Node) promoteLearners() {
	st := n.rn.Status()
	for id, pr := range st.Progress {
		if !pr.IsLearner || pr.State != tracker.StateReplicate || !pr.RecentActive || pr.Match == 0 || pr.Match+16 < st.Commit {
			continue
		}
		n.appliedMu.Lock()
		busy := n.promoting[id]
		n.promoting[id] = true
		n.appliedMu.Unlock()
		if busy {
			continue
		}
		go func(id uint64) {
			var m Member
			for _, cur := range n.Members() {
				if cur.ID == id {
					m = cur
				}
			}
			m.ID, m.Learner = id, false
			ctxb, _ := json.Marshal(m)
			ctx, cancel := context.WithTimeout(n.runtimeCtx, n.cfg.RequestTimeout)
			defer cancel()
			n.logger.Info("promoting learner", "node", id, "match", pr.Match, "commit", st.Commit)
			if err := n.proposeConfChange(ctx, raftpb.ConfChange{Type: raftpb.ConfChangeAddNode, NodeID: id, Context: ctxb}); err != nil {
				n.logger.Warn("promote learner failed", "node", id, "err", err)
				n.appliedMu.Lock()
				delete(n.promoting, id)
				n.appliedMu.Unlock()
			}
		}(id)
	}
}

// UpdateMember records a member's name and HTTP address (nodes announce
// themselves after start so every node can forward to the leader's HTTP
// address).
func (n *Node) UpdateMember(ctx context.Context, m Member) error {
	ctxb, _ := json.Marshal(m)
	return n.proposeConfChange(ctx, raftpb.ConfChange{Type: raftpb.ConfChangeUpdateNode, NodeID: m.ID, Context: ctxb})
}

// RemoveMember removes a node. Removing the leader hands leadership to
// another voter first; removing the last voter is refused.
func (n *Node) RemoveMember(ctx context.Context, id uint64) error {
	var found bool
	voters := 0
	for _, m := range n.Members() {
		if m.ID == id {
			found = true
		}
		if !m.Learner {
			voters++
		}
	}
	if !found {
		return fmt.Errorf("%w: %d", ErrUnknownMember, id)
	}
	target := n.memberByID(id)
	if !target.Learner && voters <= 1 {
		return ErrLastVoter
	}
	if n.Leader() == id {
		if err := n.TransferLeadership(ctx, 0); err != nil {
			return fmt.Errorf("raft: remove leader %d: transfer first: %w", id, err)
		}
	}
	if err := n.proposeConfChange(ctx, raftpb.ConfChange{Type: raftpb.ConfChangeRemoveNode, NodeID: id}); err != nil {
		return fmt.Errorf("raft: remove member %d: %w", id, err)
	}
	return nil
}

func (n *Node) memberByID(id uint64) Member {
	for _, m := range n.Members() {
		if m.ID == id {
			return m
		}
	}
	return Member{}
}

// TransferLeadership moves leadership to the voter `to` (0 picks the most
// caught-up other voter) and returns once it has taken over.
func (n *Node) TransferLeadership(ctx context.Context, to uint64) error {
	ctx, cancel := n.withTimeout(ctx)
	defer cancel()
	if err := n.waitLeader(ctx, nil); err != nil {
		return err
	}
	lead := n.Leader()
	if to == 0 {
		to = n.pickTransferee(lead)
		if to == 0 {
			return fmt.Errorf("raft: transfer leadership: no other voter")
		}
	}
	target := n.memberByID(to)
	if target.ID == 0 {
		return fmt.Errorf("%w: %d", ErrUnknownMember, to)
	}
	if target.Learner {
		return fmt.Errorf("raft: transfer leadership: %d is a learner", to)
	}
	if lead == to {
		return nil
	}
	n.rn.TransferLeadership(ctx, lead, to)
	// raft gives a transfer up after an election timeout, and the target
	// ignores the leader's go-ahead while it has configuration changes to
	// apply (a cluster that has just started): ask again each time.
	retry := time.NewTicker(time.Duration(n.cfg.ElectionTicks) * n.cfg.TickInterval)
	defer retry.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n.Leader() != to {
		select {
		case <-tick.C:
		case <-retry.C:
			if lead := n.Leader(); lead != 0 && lead != to {
				n.rn.TransferLeadership(ctx, lead, to)
			}
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	}
	return nil
}

// pickTransferee chooses the voter with the highest match index when this
// node leads, or any other voter otherwise.
func (n *Node) pickTransferee(lead uint64) uint64 {
	st := n.rn.Status()
	var best uint64
	var bestMatch uint64
	for id, pr := range st.Progress {
		if id == lead || pr.IsLearner {
			continue
		}
		if best == 0 || pr.Match > bestMatch {
			best, bestMatch = id, pr.Match
		}
	}
	if best != 0 {
		return best
	}
	for _, m := range n.Members() {
		if m.ID != lead && !m.Learner {
			return m.ID
		}
	}
	return 0
}

// LastIndexes is the last log index this node knows each member to hold:
// its own log's last index, and on the leader every follower's match index.
// A follower knows only itself.
func (n *Node) LastIndexes() map[uint64]uint64 {
	out := map[uint64]uint64{}
	st := n.rn.Status()
	for id, pr := range st.Progress {
		out[id] = pr.Match
	}
	if last, err := n.log.Storage().LastIndex(); err == nil {
		out[n.cfg.ID] = last
	}
	return out
}
