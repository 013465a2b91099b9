package robustness

import (
	"encoding/binary"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// sink is a fake raft listener: it records the handshake and the frames of
// every connection.
type sink struct {
	ln     net.Listener
	mu     sync.Mutex
	frames [][]byte
	conns  int
}

func newSink(t *testing.T) *sink {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &sink{ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *sink) serve(c net.Conn) {
	defer c.Close()
	hs := make([]byte, handshakeLen)
	if _, err := io.ReadFull(c, hs); err != nil {
		return
	}
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	for {
		var hdr [4]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return
		}
		b := make([]byte, binary.BigEndian.Uint32(hdr[:]))
		if _, err := io.ReadFull(c, b); err != nil {
			return
		}
		s.mu.Lock()
		s.frames = append(s.frames, b)
		s.mu.Unlock()
	}
}

func (s *sink) got() (frames [][]byte, conns int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([][]byte(nil), s.frames...), s.conns
}

// dialPeer opens a message connection from node from to node to.
func dialPeer(t *testing.T, addr string, from, to uint64) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	hs := append([]byte("TRL1"), kindMessages)
	hs = binary.BigEndian.AppendUint64(hs, from)
	hs = binary.BigEndian.AppendUint64(hs, to)
	if _, err := c.Write(hs); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func sendFrames(t *testing.T, c net.Conn, n int, first byte) {
	t.Helper()
	for i := 0; i < n; i++ {
		frame := []byte{0, 0, 0, 2, first + byte(i), 0xee}
		if _, err := c.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestProxyFaults(t *testing.T) {
	s := newSink(t)
	nw := NewNetwork()
	p, err := StartProxy(nw, 2, "127.0.0.1:0", s.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	addr := p.ln.Addr().String()

	// Healthy: whole frames, in order.
	c := dialPeer(t, addr, 1, 2)
	sendFrames(t, c, 10, 0)
	eventually(t, "10 frames", func() bool { f, _ := s.got(); return len(f) == 10 })
	if f, _ := s.got(); f[0][0] != 0 || f[9][0] != 9 || len(f[3]) != 2 {
		t.Fatalf("frames arrived changed: %v", f)
	}

	// Drop everything on 1→2; 3→2 is another link and stays healthy.
	nw.Set(1, 2, LinkFault{Kind: Drop, DropRate: 1})
	sendFrames(t, c, 10, 10)
	c3 := dialPeer(t, addr, 3, 2)
	sendFrames(t, c3, 1, 100)
	eventually(t, "the other link's frame", func() bool { f, _ := s.got(); return len(f) == 11 })
	time.Sleep(50 * time.Millisecond)
	if f, _ := s.got(); len(f) != 11 || f[10][0] != 100 {
		t.Fatalf("dropped link delivered: %d frames", len(f))
	}

	// Delay keeps the order and holds the frames.
	nw.Set(1, 2, LinkFault{Kind: Delay, Delay: 150 * time.Millisecond, Jitter: 100 * time.Millisecond})
	start := time.Now()
	sendFrames(t, c, 20, 20)
	eventually(t, "delayed frames", func() bool { f, _ := s.got(); return len(f) == 31 })
	if time.Since(start) < 50*time.Millisecond {
		t.Fatal("delayed frames arrived at once")
	}
	f, _ := s.got()
	for i := 11; i < 31; i++ {
		if f[i][0] != byte(20+i-11) {
			t.Fatalf("delay reordered frames: %v", f[11:])
		}
	}

	// A partition closes the link's connections and refuses new ones.
	_, before := s.got()
	nw.Set(1, 2, LinkFault{Kind: Partition})
	eventually(t, "the partitioned connection to close", func() bool {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		_, err := c.Read(make([]byte, 1))
		return err == io.EOF
	})
	c = dialPeer(t, addr, 1, 2)
	sendFrames(t, c, 1, 50)
	time.Sleep(50 * time.Millisecond)
	if f, conns := s.got(); len(f) != 31 || conns != before {
		t.Fatalf("partitioned link reached the node: %d frames, %d connections (was %d)", len(f), conns, before)
	}

	// A blackhole accepts and swallows.
	nw.Set(1, 2, LinkFault{Kind: Blackhole})
	c = dialPeer(t, addr, 1, 2)
	sendFrames(t, c, 5, 60)
	time.Sleep(50 * time.Millisecond)
	if f, _ := s.got(); len(f) != 31 {
		t.Fatalf("blackholed link delivered %d frames", len(f)-31)
	}

	// Healed: a new connection flows again.
	nw.HealAll()
	c = dialPeer(t, addr, 1, 2)
	sendFrames(t, c, 1, 70)
	eventually(t, "a frame after healing", func() bool { f, _ := s.got(); return len(f) == 32 })
	if st := nw.Stats(); st.Dropped != 10 || st.Refused == 0 || st.Blackholed == 0 || st.Delayed != 20 {
		t.Fatalf("stats %+v", st)
	}
}
