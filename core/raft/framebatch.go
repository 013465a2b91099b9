package raft

import (
	"bufio"

	"go.etcd.io/raft/v3/raftpb"
)

// frameBatch gathers the messages of one write to a peer. A message that
// can be merged into the one before it (see coalesce) is folded there
// rather than framed on its own, so messages queued by different Readys,
// or proposals forwarded by different requests, still travel as one.
type frameBatch struct {
	bw      *bufio.Writer
	scratch []byte
	err     error

	last    pending // not yet framed; later messages may still merge into it
	hasLast bool
	// onlyProps is set while the batch holds nothing but proposals.
	onlyProps bool
}

func newFrameBatch(bw *bufio.Writer) frameBatch {
	return frameBatch{bw: bw, onlyProps: true}
}

// add takes m into the batch.
func (b *frameBatch) add(m raftpb.Message) {
	b.onlyProps = b.onlyProps && m.Type == raftpb.MsgProp
	if b.hasLast && b.last.merge(&m) {
		return
	}
	b.frameLast()
	b.last, b.hasLast = newPending(m), true
}

func (b *frameBatch) frameLast() {
	if b.hasLast && b.err == nil {
		b.scratch, b.err = writeFrame(b.bw, &b.last.m, b.scratch)
	}
	b.last, b.hasLast = pending{}, false
}

// flush writes the batch out and empties it for the next.
func (b *frameBatch) flush() error {
	b.frameLast()
	err := b.err
	if err == nil {
		err = b.bw.Flush()
	}
	b.err, b.onlyProps = nil, true
	return err
}
