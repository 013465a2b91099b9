package raft

import (
	"context"
	"encoding/binary"
	"sync"

	etcdraft "go.etcd.io/raft/v3"
)

// readBatcher serves linearizable reads: one ReadIndex round trip covers
// every read that queued while the previous round was in flight (etcd's
// linearizableReadLoop). A read is answered once this node has applied up
// to the index the leader confirmed.
type readBatcher struct {
	n       *Node
	mu      sync.Mutex
	pending []chan error
	kick    chan struct{}
	states  chan etcdraft.ReadState
}

func newReadBatcher(n *Node) *readBatcher {
	return &readBatcher{n: n, kick: make(chan struct{}, 1), states: make(chan etcdraft.ReadState, 64)}
}

// ReadIndex returns once this node's state reflects every write committed
// before the call: reads after it are linearizable.
func (n *Node) ReadIndex(ctx context.Context) error {
	_, expired := n.bound(ctx)
	if err := n.waitLeader(ctx, expired); err != nil {
		return err
	}
	ch := make(chan error, 1)
	r := n.reads
	r.mu.Lock()
	r.pending = append(r.pending, ch)
	r.mu.Unlock()
	select {
	case r.kick <- struct{}{}:
	default:
	}
	select {
	case err := <-ch:
		return err
	case <-ctx.Done():
		return ctxErr(ctx)
	case <-expired:
		return n.expiredErr()
	case <-n.stopc:
		return ErrStopped
	}
}

// deliver is called by the Ready loop; it must not block.
func (r *readBatcher) deliver(states []etcdraft.ReadState) {
	for _, s := range states {
		select {
		case r.states <- s:
		default:
		}
	}
}

func (r *readBatcher) run() {
	for {
		select {
		case <-r.kick:
		case <-r.n.stopc:
			r.failAll(ErrStopped)
			return
		}
		r.mu.Lock()
		batch := r.pending
		r.pending = nil
		r.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		err := r.round()
		for _, ch := range batch {
			ch <- err
		}
	}
}

// round runs one ReadIndex and waits for the apply to catch up.
func (r *readBatcher) round() error {
	n := r.n
	ctx, cancel := context.WithTimeout(n.runtimeCtx, n.cfg.RequestTimeout)
	defer cancel()
	id := n.ids.id()
	rctx := binary.BigEndian.AppendUint64(nil, id)
	n.m.readIndexBatches.Inc()
	if err := n.rn.ReadIndex(ctx, rctx); err != nil {
		return n.proposeErr(ctx, err)
	}
	for {
		select {
		case s := <-r.states:
			if len(s.RequestCtx) != 8 || binary.BigEndian.Uint64(s.RequestCtx) != id {
				continue // a stale answer to an earlier, timed-out round
			}
			return n.WaitApplied(ctx, s.Index)
		case <-ctx.Done():
			return ctxErr(ctx)
		}
	}
}

func (r *readBatcher) failAll(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ch := range r.pending {
		ch <- err
	}
	r.pending = nil
}
