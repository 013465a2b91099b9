package robustness

import (
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// The peer proxy sits on the raft address a node advertises and forwards
// to the node's private listener. Every raft connection opens with
// Trellis's handshake ("TRL1" kind:1 from:8 to:8), so the proxy knows which
// directed link (from → to) a connection belongs to. Message connections
// (kind 1) carry length-prefixed frames (len:4, raftpb.Message), which the
// proxy forwards, drops or delays whole; snapshot connections (kind 2) are
// copied as bytes, or refused and blackholed with the link.

const (
	handshakeLen = 21
	kindMessages = 1
	kindSnapshot = 2
	maxFrameLen  = 64 << 20
)

// FaultKind is what a directed link does to its traffic.
type FaultKind int

// The faults a link can have.
const (
	Healthy   FaultKind = iota
	Partition           // connections refused and closed: the sender sees errors
	Blackhole           // connections accepted, everything discarded silently
	Delay               // every frame held for Delay ± Jitter, order kept
	Drop                // each frame discarded with probability DropRate
)

func (k FaultKind) String() string {
	return [...]string{"healthy", "partition", "blackhole", "delay", "drop"}[k]
}

// LinkFault is the fault on one directed link.
type LinkFault struct {
	Kind     FaultKind
	Delay    time.Duration
	Jitter   time.Duration
	DropRate float64
}

type link struct{ from, to uint64 }

// Network holds the fault of every directed link; the proxies consult it
// for every connection and every frame.
type Network struct {
	mu    sync.Mutex
	links map[link]LinkFault
	conns map[*proxyConn]struct{}
	stats NetStats
}

// NetStats counts what the proxies did.
type NetStats struct {
	Frames, Dropped, Delayed, Refused, Blackholed int64
}

// NewNetwork is a network with every link healthy.
func NewNetwork() *Network {
	return &Network{links: map[link]LinkFault{}, conns: map[*proxyConn]struct{}{}}
}

// Set gives the link from → to the fault f. Moving a link into or out of a
// partition or blackhole closes its open connections, as a network reset
// would, so a snapshot stream swallowed by a blackhole fails promptly
// instead of waiting out the sender's timeout.
func (nw *Network) Set(from, to uint64, f LinkFault) {
	nw.mu.Lock()
	old := nw.links[link{from, to}]
	if f.Kind == Healthy {
		delete(nw.links, link{from, to})
	} else {
		nw.links[link{from, to}] = f
	}
	var reset []*proxyConn
	if severs(old.Kind) || severs(f.Kind) {
		for pc := range nw.conns {
			if pc.from == from && pc.to == to {
				reset = append(reset, pc)
			}
		}
	}
	nw.mu.Unlock()
	for _, pc := range reset {
		pc.close()
	}
}

func severs(k FaultKind) bool { return k == Partition || k == Blackhole }

// SetBoth gives both directions between a and b the fault f.
func (nw *Network) SetBoth(a, b uint64, f LinkFault) {
	nw.Set(a, b, f)
	nw.Set(b, a, f)
}

// Isolate gives every link between node and the others the fault f.
func (nw *Network) Isolate(node uint64, others []uint64, f LinkFault) {
	for _, o := range others {
		if o != node {
			nw.SetBoth(node, o, f)
		}
	}
}

// HealAll makes every link healthy.
func (nw *Network) HealAll() {
	nw.mu.Lock()
	var ls []link
	for l := range nw.links {
		ls = append(ls, l)
	}
	nw.mu.Unlock()
	for _, l := range ls {
		nw.Set(l.from, l.to, LinkFault{})
	}
}

// Stats is a copy of the counters.
func (nw *Network) Stats() NetStats {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.stats
}

func (nw *Network) fault(from, to uint64) LinkFault {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	return nw.links[link{from, to}]
}

func (nw *Network) count(f func(s *NetStats)) {
	nw.mu.Lock()
	f(&nw.stats)
	nw.mu.Unlock()
}

// Proxy forwards one node's incoming raft connections.
type Proxy struct {
	nw     *Network
	node   uint64
	mu     sync.Mutex
	target string
	ln     net.Listener
	wg     sync.WaitGroup
	closed chan struct{}
}

// StartProxy listens on listen and forwards connections to target, the
// private raft address of node.
func StartProxy(nw *Network, node uint64, listen, target string) (*Proxy, error) {
	var ln net.Listener
	var err error
	// The address was just freed by the node's first boot; a moment of
	// TIME_WAIT never blocks a listener (SO_REUSEADDR), but retry anyway.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", listen); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("proxy for node %d: %w", node, err)
	}
	p := &Proxy{nw: nw, node: node, target: target, ln: ln, closed: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	return p, nil
}

// SetTarget points new connections at another address (the node moved).
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	p.target = addr
	p.mu.Unlock()
}

// Close stops the proxy and every connection through it.
func (p *Proxy) Close() {
	select {
	case <-p.closed:
		return
	default:
	}
	close(p.closed)
	p.ln.Close()
	p.nw.mu.Lock()
	var mine []*proxyConn
	for pc := range p.nw.conns {
		if pc.proxy == p {
			mine = append(mine, pc)
		}
	}
	p.nw.mu.Unlock()
	for _, pc := range mine {
		pc.close()
	}
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.serve(c)
		}()
	}
}

// proxyConn is one proxied connection: the peer's side and the node's.
type proxyConn struct {
	proxy      *Proxy
	from, to   uint64
	down, up   net.Conn
	closeOnce  sync.Once
	closedChan chan struct{}
}

func (pc *proxyConn) close() {
	pc.closeOnce.Do(func() {
		close(pc.closedChan)
		pc.down.Close()
		if pc.up != nil {
			pc.up.Close()
		}
	})
}

func (p *Proxy) serve(down net.Conn) {
	hs := make([]byte, handshakeLen)
	down.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(down, hs); err != nil || string(hs[:4]) != "TRL1" {
		down.Close()
		return
	}
	down.SetReadDeadline(time.Time{})
	kind := hs[4]
	from := binary.BigEndian.Uint64(hs[5:13])
	to := binary.BigEndian.Uint64(hs[13:21])
	pc := &proxyConn{proxy: p, from: from, to: to, down: down, closedChan: make(chan struct{})}
	p.nw.mu.Lock()
	p.nw.conns[pc] = struct{}{}
	p.nw.mu.Unlock()
	defer func() {
		p.nw.mu.Lock()
		delete(p.nw.conns, pc)
		p.nw.mu.Unlock()
		pc.close()
	}()
	switch f := p.nw.fault(from, to); f.Kind {
	case Partition:
		p.nw.count(func(s *NetStats) { s.Refused++ })
		return
	case Blackhole:
		p.nw.count(func(s *NetStats) { s.Blackholed++ })
		io.Copy(io.Discard, down)
		return
	}
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	up, err := net.DialTimeout("tcp", target, time.Second)
	if err != nil {
		return
	}
	pc.up = up
	select {
	case <-pc.closedChan: // closed while dialing
		up.Close()
		return
	default:
	}
	if _, err := up.Write(hs); err != nil {
		return
	}
	if kind == kindSnapshot {
		p.copySnapshot(pc)
		return
	}
	// The node never writes on a message connection, but its close must
	// end ours.
	go func() {
		io.Copy(io.Discard, up)
		pc.close()
	}()
	p.forwardFrames(pc)
}

// copySnapshot copies a snapshot connection both ways as bytes; a link
// that turns into a blackhole meanwhile swallows the rest (Set closed the
// connection already, which is what the sender sees).
func (p *Proxy) copySnapshot(pc *proxyConn) {
	done := make(chan struct{})
	go func() {
		io.Copy(pc.down, pc.up) // the receiver's one-byte answer
		pc.close()
		close(done)
	}()
	io.Copy(pc.up, pc.down)
	if tcp, ok := pc.up.(*net.TCPConn); ok {
		tcp.CloseWrite()
	}
	<-done
}

type frame struct {
	buf []byte
	at  time.Time
}

// forwardFrames reads whole frames from the peer and forwards each to the
// node according to the link's current fault. Delayed frames keep their
// order: each is delivered no earlier than the one before it.
func (p *Proxy) forwardFrames(pc *proxyConn) {
	queue := make(chan frame, 4096)
	go func() {
		defer pc.close()
		for {
			select {
			case fr := <-queue:
				if d := time.Until(fr.at); d > 0 {
					select {
					case <-time.After(d):
					case <-pc.closedChan:
						return
					}
				}
				if _, err := pc.up.Write(fr.buf); err != nil {
					return
				}
			case <-pc.closedChan:
				return
			}
		}
	}()
	var last time.Time
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(pc.down, hdr[:]); err != nil {
			return
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n > maxFrameLen {
			return
		}
		buf := make([]byte, 4+n)
		copy(buf, hdr[:])
		if _, err := io.ReadFull(pc.down, buf[4:]); err != nil {
			return
		}
		f := p.nw.fault(pc.from, pc.to)
		p.nw.count(func(s *NetStats) { s.Frames++ })
		at := time.Now()
		switch f.Kind {
		case Partition:
			return
		case Blackhole:
			p.nw.count(func(s *NetStats) { s.Blackholed++ })
			continue
		case Drop:
			if rand.Float64() < f.DropRate {
				p.nw.count(func(s *NetStats) { s.Dropped++ })
				continue
			}
		case Delay:
			d := f.Delay
			if f.Jitter > 0 {
				d += time.Duration(rand.Int64N(int64(2*f.Jitter))) - f.Jitter
			}
			at = at.Add(d)
			p.nw.count(func(s *NetStats) { s.Delayed++ })
		}
		if at.Before(last) {
			at = last
		}
		last = at
		select {
		case queue <- frame{buf: buf, at: at}:
		case <-pc.closedChan:
			return
		}
	}
}
