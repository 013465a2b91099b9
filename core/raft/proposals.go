package raft

import (
	"context"
	"encoding/binary"
	"sync"

	"go.etcd.io/raft/v3/raftpb"
)

// maxProposalBatch bounds the data of one stepped batch; one proposal
// larger than this still goes alone.
const maxProposalBatch = 1 << 20

// proposalBatcher steps every proposal made while raft was busy with the
// previous ones as one MsgProp. Raft appends a MsgProp's entries together
// and sends each follower one append for them; a follower forwards its
// batch to the leader as one message. Stepped one by one, each proposal
// cost a hand-over to raft's goroutine, an append to every follower, a
// response from each and, on a follower, a forwarded message of its own
// (a 3-node cluster under put load sent two appends per put to each
// follower).
//
// A batch raft does not take within the request timeout fails its
// proposals with ErrNoLeader or ErrTimeout. Raft drops a proposal it takes
// but cannot append (the leader is handing over leadership) without a word
// to a stepped MsgProp, so such a proposal times out, as a proposal a
// follower forwards always has.
type proposalBatcher struct {
	n       *Node
	mu      sync.Mutex
	pending []raftpb.Entry
	kick    chan struct{}
}

func newProposalBatcher(n *Node) *proposalBatcher {
	return &proposalBatcher{n: n, kick: make(chan struct{}, 1)}
}

// add queues one entry whose data starts with its wait id.
func (b *proposalBatcher) add(data []byte) {
	b.mu.Lock()
	b.pending = append(b.pending, raftpb.Entry{Type: raftpb.EntryNormal, Data: data})
	b.mu.Unlock()
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// take removes the oldest queued entries up to maxProposalBatch bytes, at
// least one when any are queued.
func (b *proposalBatcher) take() []raftpb.Entry {
	b.mu.Lock()
	defer b.mu.Unlock()
	size, i := 0, 0
	for i < len(b.pending) && (i == 0 || size+len(b.pending[i].Data) <= maxProposalBatch) {
		size += len(b.pending[i].Data)
		i++
	}
	batch := b.pending[:i:i]
	if i == len(b.pending) {
		b.pending = nil
	} else {
		b.pending = b.pending[i:]
	}
	return batch
}

func (b *proposalBatcher) run() {
	for {
		select {
		case <-b.kick:
		case <-b.n.stopc:
			for batch := b.take(); len(batch) > 0; batch = b.take() {
				b.fail(batch, ErrStopped)
			}
			return
		}
		for batch := b.take(); len(batch) > 0; batch = b.take() {
			b.step(batch)
		}
	}
}

// step hands one batch to raft.
func (b *proposalBatcher) step(batch []raftpb.Entry) {
	n := b.n
	ctx, cancel := context.WithTimeout(n.runtimeCtx, n.cfg.RequestTimeout)
	defer cancel()
	n.m.proposalBatches.Inc()
	if err := n.rn.Step(ctx, raftpb.Message{Type: raftpb.MsgProp, Entries: batch}); err != nil {
		b.fail(batch, n.proposeErr(ctx, err))
	}
}

// notTaken answers a proposal raft never took, as opposed to an entry
// that was committed and whose apply failed.
type notTaken struct{ err error }

// fail answers every proposal of batch with err.
func (b *proposalBatcher) fail(batch []raftpb.Entry, err error) {
	for _, e := range batch {
		b.n.waits.trigger(binary.BigEndian.Uint64(e.Data), notTaken{err})
	}
}
