// Package raft runs Trellis's consensus group on go.etcd.io/raft/v3: the
// Ready loop, the peer transport, membership changes, batched ReadIndex,
// leader transfer and snapshots. The replicated state machine itself lives in
// core/store and is plugged in through the StateMachine interface.
package raft

import (
	"context"
	"errors"
	"io"

	"go.etcd.io/raft/v3/raftpb"
)

// Member is one node of the cluster as the replicated state records it.
type Member struct {
	ID       uint64 `json:"id"`
	Name     string `json:"name,omitempty"`
	PeerAddr string `json:"peer_addr"`
	HTTPAddr string `json:"http_addr,omitempty"`
	Learner  bool   `json:"learner,omitempty"`
}

// MemberChange is a committed membership change handed to the state machine
// so it can persist the member table with the applied index.
type MemberChange struct {
	Type   raftpb.ConfChangeType
	Member Member
}

// Applied is one committed entry on its way into the state machine.
type Applied struct {
	Index uint64
	Term  uint64
	// Data is the proposal payload (the request id already removed); nil
	// for empty entries and membership changes.
	Data []byte
	// Member is set for membership changes.
	Member *MemberChange
	// Result is filled in by the state machine and handed to the waiter of
	// the node that proposed the entry.
	Result any
}

// StateMachine is the replicated state the Ready loop applies entries to.
// Apply, RestoreSnapshot and Sync are only called from the Ready loop.
type StateMachine interface {
	// AppliedIndex is the last index whose effects are stored.
	AppliedIndex() uint64
	// Apply applies committed entries in order and fills in their results.
	// Entries at or below AppliedIndex must be skipped (they are replayed
	// after a restart).
	Apply(entries []Applied) error
	// WriteSnapshot streams the state as of index to w.
	WriteSnapshot(ctx context.Context, w io.Writer, index uint64) error
	// RestoreSnapshot replaces the state with one written by WriteSnapshot.
	RestoreSnapshot(r io.Reader, index uint64) error
	// Members is the member table as of AppliedIndex.
	Members() []Member
	// Sync makes applied state durable (before a raft snapshot is taken).
	Sync() error
}

var (
	// ErrNoLeader means the cluster has no leader this node knows of; the
	// HTTP layer answers 503.
	ErrNoLeader = errors.New("raft: no leader")
	// ErrTimeout means the cluster did not answer within the request
	// timeout, usually because there is no quorum; 503 as well.
	ErrTimeout = errors.New("raft: request timed out (no quorum?)")
	// ErrStopped means the node is shutting down.
	ErrStopped = errors.New("raft: node stopped")
	// ErrUnknownMember names a member id that is not in the cluster.
	ErrUnknownMember = errors.New("raft: unknown member")
	// ErrMemberExists is returned when joining with an id already in use.
	ErrMemberExists = errors.New("raft: member already exists")
	// ErrLastVoter refuses to remove the only voter.
	ErrLastVoter = errors.New("raft: cannot remove the last voter")
)

// IsUnavailable reports whether err means the cluster cannot serve the
// request right now (no leader, no quorum, shutting down): a 503.
func IsUnavailable(err error) bool {
	return errors.Is(err, ErrNoLeader) || errors.Is(err, ErrTimeout) || errors.Is(err, ErrStopped)
}
