package node

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// health answers the core health routes from the node's real state.
type health struct{ n *Node }

// Ready: the listeners are up (we are answering), this node is a member of
// the cluster and knows a leader.
func (h *health) Ready(ctx context.Context) error {
	s := h.n.store
	if s == nil {
		return errors.New("store not open")
	}
	rn := s.Raft()
	if rn.Removed() {
		return errors.New("this node was removed from the cluster")
	}
	if !isMember(rn, h.n.cfg.Node.ID) {
		return errors.New("this node has not joined the cluster yet")
	}
	if rn.Leader() == 0 {
		return errors.New("no leader known")
	}
	return nil
}

// NodeHealth: the raft loop is alive and the raft log accepts writes.
func (h *health) NodeHealth(ctx context.Context) error {
	s := h.n.store
	if s == nil {
		return errors.New("store not open")
	}
	rn := s.Raft()
	if err := rn.Err(); err != nil {
		return fmt.Errorf("raft loop stopped: %w", err)
	}
	if !rn.LoopAlive(5 * time.Second) {
		return errors.New("raft loop has not run for 5s")
	}
	if err := s.Probe(); err != nil {
		return fmt.Errorf("storage not writable: %w", err)
	}
	return nil
}

// ClusterHealth: a leader exists and a quorum of voters answered recently,
// which is exactly what a ReadIndex round proves.
func (h *health) ClusterHealth(ctx context.Context) error {
	s := h.n.store
	if s == nil {
		return errors.New("store not open")
	}
	if s.Raft().Leader() == 0 {
		return errors.New("no leader")
	}
	if err := s.Raft().ReadIndex(ctx); err != nil {
		return fmt.Errorf("no quorum: %w", err)
	}
	return nil
}
