package raft

import (
	"sync"
	"sync/atomic"
	"time"
)

// waitList hands apply results to the goroutine that proposed the entry,
// keyed by request id (etcd's pkg/wait, in miniature).
type waitList struct {
	mu sync.Mutex
	m  map[uint64]chan any
}

func newWaitList() *waitList { return &waitList{m: map[uint64]chan any{}} }

func (w *waitList) register(id uint64) <-chan any {
	ch := make(chan any, 1)
	w.mu.Lock()
	w.m[id] = ch
	w.mu.Unlock()
	return ch
}

func (w *waitList) trigger(id uint64, v any) {
	w.mu.Lock()
	ch, ok := w.m[id]
	delete(w.m, id)
	w.mu.Unlock()
	if ok {
		ch <- v
	}
}

func (w *waitList) cancel(id uint64) {
	w.mu.Lock()
	delete(w.m, id)
	w.mu.Unlock()
}

// idGen makes request ids unique across nodes and restarts: the node id in
// the top 16 bits, then the start time in milliseconds, then a counter.
type idGen struct {
	next atomic.Uint64
}

func newIDGen(nodeID uint64) *idGen {
	g := &idGen{}
	base := nodeID<<48 | (uint64(time.Now().UnixMilli())<<8)&(1<<48-1)
	g.next.Store(base)
	return g
}

func (g *idGen) id() uint64 { return g.next.Add(1) }

// broadcast is a "something changed" signal any number of goroutines can
// wait on: the channel is closed and replaced on every notify.
type broadcast struct {
	mu sync.Mutex
	ch chan struct{}
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) notify() {
	b.mu.Lock()
	close(b.ch)
	b.ch = make(chan struct{})
	b.mu.Unlock()
}
