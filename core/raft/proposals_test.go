package raft

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"testing"
	"time"

	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// stepRecorder is the raft node a proposalBatcher steps into: it records
// each MsgProp's entries and answers err.
type stepRecorder struct {
	etcdraft.Node
	mu    sync.Mutex
	steps [][]raftpb.Entry
	err   error
}

func (r *stepRecorder) Step(_ context.Context, m raftpb.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if m.Type != raftpb.MsgProp {
		return errors.New("not a proposal")
	}
	r.steps = append(r.steps, m.Entries)
	return r.err
}

func (r *stepRecorder) stepped() [][]raftpb.Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]raftpb.Entry(nil), r.steps...)
}

// batcherNode is as much of a Node as its proposalBatcher uses, stepping
// into rn; the batcher is not running yet.
func batcherNode(t *testing.T, rn etcdraft.Node) *Node {
	t.Helper()
	n := &Node{rn: rn, m: newMetrics(nil), waits: newWaitList(), stopc: make(chan struct{}),
		cfg: Config{RequestTimeout: time.Second}}
	n.lead.Store(1)
	var cancel context.CancelFunc
	n.runtimeCtx, cancel = context.WithCancel(context.Background())
	t.Cleanup(cancel)
	n.props = newProposalBatcher(n)
	return n
}

// queue registers a proposal of size bytes under id and queues it.
func queue(n *Node, id uint64, size int) <-chan any {
	ch := n.waits.register(id)
	data := make([]byte, 8+size)
	binary.BigEndian.PutUint64(data, id)
	n.props.add(data)
	return ch
}

func ids(batch []raftpb.Entry) []uint64 {
	var out []uint64
	for _, e := range batch {
		out = append(out, binary.BigEndian.Uint64(e.Data))
	}
	return out
}

// Proposals queued while raft is busy reach it as one MsgProp, in the
// order they were made; one over the size bound starts a batch of its own.
func TestProposalsQueuedTogetherAreSteppedTogether(t *testing.T) {
	rec := &stepRecorder{}
	n := batcherNode(t, rec)
	for id := uint64(1); id <= 3; id++ {
		queue(n, id, 10)
	}
	queue(n, 4, maxProposalBatch)
	queue(n, 5, 10)
	done := make(chan struct{})
	go func() { n.props.run(); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(rec.stepped()) < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(n.stopc)
	<-done
	got := rec.stepped()
	if len(got) != 3 {
		t.Fatalf("%d MsgProps, want 3: %v", len(got), got)
	}
	for i, want := range [][]uint64{{1, 2, 3}, {4}, {5}} {
		if g := ids(got[i]); len(g) != len(want) || g[0] != want[0] || g[len(g)-1] != want[len(want)-1] {
			t.Fatalf("MsgProp %d carries %v, want %v", i, g, want)
		}
	}
}

// A batch raft refuses fails every proposal in it, as not taken: Propose
// tells that apart from a committed entry whose apply failed.
func TestRefusedBatchFailsItsProposals(t *testing.T) {
	rec := &stepRecorder{err: etcdraft.ErrStopped}
	n := batcherNode(t, rec)
	chs := []<-chan any{queue(n, 7, 1), queue(n, 8, 1)}
	n.props.step(n.props.take())
	for i, ch := range chs {
		select {
		case v := <-ch:
			f, ok := v.(notTaken)
			if !ok || !errors.Is(f.err, ErrNoLeader) {
				t.Fatalf("proposal %d answered %#v, want notTaken wrapping ErrNoLeader", i, v)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("proposal %d never answered", i)
		}
	}
}

// Stopping fails what is still queued.
func TestStoppedBatcherFailsQueued(t *testing.T) {
	n := batcherNode(t, &stepRecorder{})
	ch := queue(n, 9, 1)
	<-n.props.kick // queued after the batcher's last look
	close(n.stopc)
	n.props.run()
	select {
	case v := <-ch:
		if f, ok := v.(notTaken); !ok || !errors.Is(f.err, ErrStopped) {
			t.Fatalf("answered %#v, want notTaken wrapping ErrStopped", v)
		}
	default:
		t.Fatal("queued proposal not answered when the batcher stopped")
	}
}
