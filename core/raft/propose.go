package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"go.etcd.io/raft/v3/raftpb"
)

// withTimeout bounds a rare request (a membership change) by the
// configured request timeout unless the caller's deadline is sooner; the
// frequent ones use bound.
func (n *Node) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < n.cfg.RequestTimeout {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, n.cfg.RequestTimeout)
}

// waitLeader returns once a leader is known. During an election it waits up
// to two election timeouts, then gives up with ErrNoLeader so callers fail
// fast instead of hanging. expired (see bound) may be nil.
func (n *Node) waitLeader(ctx context.Context, expired <-chan struct{}) error {
	if n.Leader() != 0 {
		return nil
	}
	limit := 2 * time.Duration(n.cfg.ElectionTicks) * n.cfg.TickInterval
	t := time.NewTimer(limit)
	defer t.Stop()
	for {
		ch := n.leadCh.wait()
		if n.Leader() != 0 {
			return nil
		}
		select {
		case <-ch:
		case <-t.C:
			return ErrNoLeader
		case <-ctx.Done():
			return ctxErr(ctx)
		case <-expired:
			return n.expiredErr()
		case <-n.stopc:
			return ErrStopped
		}
	}
}

// ctxErr turns a deadline into ErrTimeout (the cluster did not answer) and
// leaves a caller's cancellation as it is.
func ctxErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ctx.Err()
}

// Propose replicates data and returns the state machine's result for it once
// it is committed and applied on this node. Any node may propose; raft
// forwards a follower's proposal to the leader.
func (n *Node) Propose(ctx context.Context, data []byte) (any, error) {
	rctx, expired := n.bound(ctx)
	if err := n.waitLeader(ctx, expired); err != nil {
		n.m.proposalsFailed.Inc()
		return nil, err
	}
	id := n.ids.id()
	buf := make([]byte, 8+len(data))
	binary.BigEndian.PutUint64(buf, id)
	copy(buf[8:], data)
	ch := n.waits.register(id)
	// A follower sends the proposal to the leader itself (forward); the
	// leader, or a follower that cannot, hands it to raft, which takes it
	// at once while there is a leader; rctx bounds the hand-over when
	// leadership is lost meanwhile.
	if !n.forward(buf) {
		if err := n.rn.Propose(rctx, buf); err != nil {
			n.waits.cancel(id)
			n.m.proposalsFailed.Inc()
			return nil, n.proposeErr(rctx, err)
		}
	}
	select {
	case v := <-ch:
		n.m.proposalsCommited.Inc()
		if err, ok := v.(error); ok {
			return nil, err
		}
		return v, nil
	case <-ctx.Done():
		n.waits.cancel(id)
		n.m.proposalsFailed.Inc()
		return nil, ctxErr(ctx)
	case <-expired:
		n.waits.cancel(id)
		n.m.proposalsFailed.Inc()
		return nil, n.expiredErr()
	case <-n.stopc:
		n.waits.cancel(id)
		return nil, ErrStopped
	}
}

// forward sends a follower's proposal straight to the leader's message
// stream, as raft would forward it, and reports whether it did. Through
// raft, a proposal a follower takes while its Ready loop saves (fsync)
// leaves only with the next Ready, after that save and the apply beside it:
// under load most of a loop's cycle. The leader steps it as any forwarded
// proposal; one lost on the way (the leader gone, the connection dropped)
// times out like a proposal raft forwarded and the network lost. The
// leader itself, a member removed from the cluster (raft takes no
// proposals there), and a follower without a stream to the leader go
// through raft.
func (n *Node) forward(data []byte) bool {
	lead := n.Leader()
	if lead == 0 || lead == n.cfg.ID || n.removed.Load() {
		return false
	}
	return n.tr.forward(raftpb.Message{Type: raftpb.MsgProp, From: n.cfg.ID, To: lead, Entries: []raftpb.Entry{{Data: data}}})
}

func (n *Node) proposeErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctxErr(ctx)
	}
	select {
	case <-n.stopc:
		return ErrStopped
	default:
	}
	if n.Leader() == 0 {
		return ErrNoLeader
	}
	return fmt.Errorf("%w: %v", ErrNoLeader, err)
}

// proposeConfChange proposes a membership change and waits for it to apply.
func (n *Node) proposeConfChange(ctx context.Context, cc raftpb.ConfChange) error {
	ctx, cancel := n.withTimeout(ctx)
	defer cancel()
	n.confMu.Lock()
	defer n.confMu.Unlock()
	if err := n.waitLeader(ctx, nil); err != nil {
		return err
	}
	if err := n.waitConfIdle(ctx); err != nil {
		return err
	}
	cc.ID = n.ids.id()
	ch := n.waits.register(cc.ID)
	if err := n.rn.ProposeConfChange(ctx, cc); err != nil {
		n.waits.cancel(cc.ID)
		return n.proposeErr(ctx, err)
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		n.waits.cancel(cc.ID)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			// Raft drops a membership change while another is pending,
			// and the caller cannot tell that from a lost quorum.
			return fmt.Errorf("%w: membership change not applied (another change may be pending, or there is no quorum)", ErrTimeout)
		}
		return ctx.Err()
	case <-n.stopc:
		n.waits.cancel(cc.ID)
		return ErrStopped
	}
}

// waitConfIdle waits until raft itself counts as applied everything this
// node has applied, and an entry of the current term. Raft drops a
// membership change proposed while it still holds an earlier one pending,
// and it learns that one is applied only at Advance, after its proposer
// was answered (confMu released); a new leader likewise holds every
// change until it has applied the entries before its term. A dropped change
// turns into an empty entry no waiter hears of, and would time out. On a
// follower this checks only the follower's side; the leader decides.
func (n *Node) waitConfIdle(ctx context.Context) error {
	t := time.NewTicker(2 * time.Millisecond)
	defer t.Stop()
	for {
		st := n.rn.Status()
		if st.Applied > 0 && st.Applied >= n.sm.AppliedIndex() {
			term, err := n.log.Storage().Term(st.Applied)
			if err != nil || term == st.Term {
				// An index below the log's snapshot has no term left
				// to compare: long applied, nothing to wait for.
				return nil
			}
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return ctxErr(ctx)
		case <-n.stopc:
			return ErrStopped
		}
	}
}

// WaitApplied blocks until the state machine has applied index.
func (n *Node) WaitApplied(ctx context.Context, index uint64) error {
	for {
		ch := n.applCh.wait()
		if n.sm.AppliedIndex() >= index {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctxErr(ctx)
		case <-n.stopc:
			return ErrStopped
		}
	}
}

// AppliedNotify returns a channel closed the next time entries or a
// snapshot are applied; read AppliedIndex after taking it, not before.
func (n *Node) AppliedNotify() <-chan struct{} { return n.applCh.wait() }
