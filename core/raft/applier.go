package raft

import "go.etcd.io/raft/v3/raftpb"

// applier is the goroutine that applies the committed entries a Ready
// found already in the stable log while the Ready loop writes that Ready's
// own entries (handleReady). It lives as long as the loop: one goroutine
// per Ready would be created, grow its stack through Badger's write path
// and exit again, several hundred times a second under load.
type applier struct {
	in  chan []raftpb.Entry
	out chan error
}

// startApplier starts n's applier; stop ends it.
func (n *Node) startApplier() *applier {
	a := &applier{in: make(chan []raftpb.Entry), out: make(chan error, 1)}
	go func() {
		for ents := range a.in {
			a.out <- n.apply(ents)
		}
	}()
	return a
}

// start hands ents over; the caller must call wait before the next start.
func (a *applier) start(ents []raftpb.Entry) { a.in <- ents }

// wait returns the result of the apply start began.
func (a *applier) wait() error { return <-a.out }

// stop ends the goroutine once it is idle.
func (a *applier) stop() { close(a.in) }
