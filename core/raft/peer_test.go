package raft

import (
	"errors"
	"net"
	"os"
	"testing"
	"time"
)

// TestSnapshotWriteGivesUpOnASilentPeer: a peer that accepts the
// connection but never reads (a blackhole that does not reset) makes the
// snapshot stream fail after snapWriteIdle instead of blocking for good.
func TestSnapshotWriteGivesUpOnASilentPeer(t *testing.T) {
	old := snapWriteIdle
	snapWriteIdle = 200 * time.Millisecond
	defer func() { snapWriteIdle = old }()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c // held open, never read
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	defer func() {
		if s := <-accepted; s != nil {
			s.Close()
		}
	}()
	w := deadlineWriter{c}
	chunk := make([]byte, 1<<20)
	done := make(chan error, 1)
	go func() {
		for {
			if _, err := w.Write(chunk); err != nil {
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write ended with %v, want a deadline error", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a write to a peer that never reads did not give up")
	}
}
