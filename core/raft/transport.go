package raft

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// The peer transport is plain TCP (optionally TLS) with length-prefixed
// frames. Each connection opens with a handshake naming its kind, sender and
// intended receiver:
//
//	"TRL1" kind:1 from:8 to:8
//
// A message connection then carries frames (len:4 raftpb.Message) one way. A
// snapshot connection carries one frame with the MsgSnap, then the state
// machine's snapshot stream framed with an end and a checksum (snapframe.go); the
// receiver answers one byte once the snapshot is safely on disk.

const (
	connMessages byte = 1
	connSnapshot byte = 2

	maxFrame      = 64 << 20
	peerQueueSize = 4096
	// propQueueSize bounds forwarded proposals waiting to be stepped.
	propQueueSize = 1024
	// propStepTimeout bounds how long a forwarded proposal waits for
	// raft to take it (raft takes none while it knows no leader).
	propStepTimeout = time.Second
	dialTimeout     = time.Second
	redialBackoff   = 100 * time.Millisecond
)

var handshakeMagic = []byte("TRL1")

// transportHandler is what the transport delivers to.
type transportHandler interface {
	step(ctx context.Context, m raftpb.Message) error
	reportUnreachable(id uint64)
	reportSnapshot(id uint64, status etcdraft.SnapshotStatus)
	// receiveSnapshot stores an incoming snapshot stream durably.
	receiveSnapshot(m raftpb.Message, r io.Reader) error
	// mergeSnapshot rewrites an outgoing MsgSnap to describe the newest
	// applied state, which is what writeSnapshot will stream.
	mergeSnapshot(m raftpb.Message) raftpb.Message
	// writeSnapshot streams the state behind an outgoing MsgSnap.
	writeSnapshot(ctx context.Context, w io.Writer, m raftpb.Message) error
}

type transport struct {
	id        uint64
	logger    *slog.Logger
	h         transportHandler
	serverTLS *tls.Config
	clientTLS *tls.Config

	ln   net.Listener
	mu   sync.Mutex
	conn map[net.Conn]struct{}

	peersMu sync.RWMutex
	peers   map[uint64]*peer

	// props carries forwarded proposals (MsgProp) off the connections
	// that brought them; see stepProposals.
	props chan raftpb.Message

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func newTransport(id uint64, logger *slog.Logger, h transportHandler, serverTLS, clientTLS *tls.Config) *transport {
	ctx, cancel := context.WithCancel(context.Background())
	return &transport{
		id: id, logger: logger, h: h, serverTLS: serverTLS, clientTLS: clientTLS,
		conn: map[net.Conn]struct{}{}, peers: map[uint64]*peer{}, ctx: ctx, cancel: cancel,
		props: make(chan raftpb.Message, propQueueSize),
	}
}

// listen binds the raft address; a port in use is reported here, at start.
func (t *transport) listen(addr string, ln net.Listener) error {
	if ln == nil {
		var err error
		if ln, err = Listen(addr); err != nil {
			return err
		}
	}
	if t.serverTLS != nil {
		ln = tls.NewListener(ln, t.serverTLS)
	}
	t.ln = ln
	t.wg.Add(2)
	go t.accept()
	go t.stepProposals()
	return nil
}

// stepProposals steps forwarded proposals on a goroutine of their own. Raft
// takes a proposal only while it knows a leader; stepped on the connection
// that brought it, a proposal forwarded to a member that has just
// restarted held up everything behind it on that connection, the new
// leader's heartbeats included, so the member never learned the leader
// and raft never took the proposal (etcd's rafthttp separates them the
// same way). A proposal raft does not take within propStepTimeout is
// dropped; its proposer times out as for any lost proposal.
func (t *transport) stepProposals() {
	defer t.wg.Done()
	for {
		select {
		case m := <-t.props:
			ctx, cancel := context.WithTimeout(t.ctx, propStepTimeout)
			if err := t.h.step(ctx, m); err != nil && t.ctx.Err() == nil {
				t.logger.Debug("forwarded proposal dropped", "from", m.From, "err", err)
			}
			cancel()
		case <-t.ctx.Done():
			return
		}
	}
}

// queueProposal hands a forwarded proposal to stepProposals, dropping it
// when too many wait.
func (t *transport) queueProposal(m raftpb.Message) {
	select {
	case t.props <- m:
	default:
		t.logger.Debug("forwarded proposal dropped: queue full", "from", m.From)
	}
}

func (t *transport) addr() string {
	if t.ln == nil {
		return ""
	}
	return t.ln.Addr().String()
}

func (t *transport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() == nil {
				t.logger.Error("raft accept failed", "err", err)
			}
			return
		}
		t.mu.Lock()
		t.conn[c] = struct{}{}
		t.mu.Unlock()
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			defer func() {
				t.mu.Lock()
				delete(t.conn, c)
				t.mu.Unlock()
				c.Close()
			}()
			if err := t.serve(c); err != nil && t.ctx.Err() == nil && !errors.Is(err, io.EOF) {
				t.logger.Debug("raft connection ended", "remote", c.RemoteAddr().String(), "err", err)
			}
		}()
	}
}

func (t *transport) serve(c net.Conn) error {
	br := bufio.NewReaderSize(c, 64<<10)
	hs := make([]byte, len(handshakeMagic)+17)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(br, hs); err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	c.SetReadDeadline(time.Time{})
	if string(hs[:4]) != string(handshakeMagic) {
		return errors.New("handshake: bad magic")
	}
	kind := hs[4]
	to := binary.BigEndian.Uint64(hs[13:21])
	if to != t.id {
		return fmt.Errorf("handshake: message for node %d reached node %d", to, t.id)
	}
	switch kind {
	case connMessages:
		var buf []byte
		for {
			var m raftpb.Message
			var err error
			m, buf, err = readFrameInto(br, buf)
			if err != nil {
				return err
			}
			if m.Type == raftpb.MsgProp {
				t.queueProposal(m)
				continue
			}
			if err := t.h.step(t.ctx, m); err != nil {
				return err
			}
		}
	case connSnapshot:
		m, err := readFrame(br)
		if err != nil {
			return err
		}
		if err := t.h.receiveSnapshot(m, newSnapReader(br)); err != nil {
			c.Write([]byte{0})
			return fmt.Errorf("receive snapshot: %w", err)
		}
		if _, err := c.Write([]byte{1}); err != nil {
			return err
		}
		return t.h.step(t.ctx, m)
	}
	return fmt.Errorf("handshake: unknown connection kind %d", kind)
}

func readFrame(r io.Reader) (raftpb.Message, error) {
	m, _, err := readFrameInto(r, nil)
	return m, err
}

// readFrameInto reads one frame into buf, grown as needed and returned for
// the next frame: decoding copies every byte the message keeps, so one
// buffer serves a whole connection.
func readFrameInto(r io.Reader, buf []byte) (raftpb.Message, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return raftpb.Message{}, buf, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return raftpb.Message{}, buf, fmt.Errorf("frame of %d bytes exceeds %d", n, maxFrame)
	}
	if uint32(cap(buf)) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return raftpb.Message{}, buf, err
	}
	var m raftpb.Message
	if err := m.Unmarshal(buf); err != nil {
		return raftpb.Message{}, buf, fmt.Errorf("decode message: %w", err)
	}
	return m, buf, nil
}

func writeFrame(w io.Writer, m *raftpb.Message, scratch []byte) ([]byte, error) {
	n := m.Size()
	if cap(scratch) < n+4 {
		scratch = make([]byte, n+4)
	}
	scratch = scratch[:n+4]
	binary.BigEndian.PutUint32(scratch, uint32(n))
	if _, err := m.MarshalTo(scratch[4:]); err != nil {
		return scratch, err
	}
	_, err := w.Write(scratch)
	return scratch, err
}

func (t *transport) dial(ctx context.Context, addr string, kind byte, to uint64) (net.Conn, error) {
	d := net.Dialer{Timeout: dialTimeout, KeepAlive: 15 * time.Second}
	var c net.Conn
	var err error
	if t.clientTLS != nil {
		c, err = (&tls.Dialer{NetDialer: &d, Config: t.clientTLS}).DialContext(ctx, "tcp", addr)
	} else {
		c, err = d.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	hs := append([]byte(nil), handshakeMagic...)
	hs = append(hs, kind)
	hs = binary.BigEndian.AppendUint64(hs, t.id)
	hs = binary.BigEndian.AppendUint64(hs, to)
	if _, err := c.Write(hs); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// setPeer adds a peer or changes its address.
func (t *transport) setPeer(id uint64, addr string) {
	if id == t.id || addr == "" {
		return
	}
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	if p, ok := t.peers[id]; ok {
		if p.addr == addr {
			return
		}
		p.stop()
	}
	p := newPeer(t, id, addr)
	t.peers[id] = p
	t.wg.Add(1)
	go func() { defer t.wg.Done(); p.run() }()
}

func (t *transport) removePeer(id uint64) {
	t.peersMu.Lock()
	defer t.peersMu.Unlock()
	if p, ok := t.peers[id]; ok {
		p.stop()
		delete(t.peers, id)
	}
}

func (t *transport) peerAddr(id uint64) string {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	if p, ok := t.peers[id]; ok {
		return p.addr
	}
	return ""
}

// send queues messages; it never blocks the Ready loop. A full queue drops
// the message and tells raft the peer is unreachable: raft retransmits.
func (t *transport) send(msgs []raftpb.Message) {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	for i := range msgs {
		m := msgs[i]
		p, ok := t.peers[m.To]
		if !ok {
			continue
		}
		if m.Type == raftpb.MsgSnap {
			t.wg.Add(1)
			go func() { defer t.wg.Done(); p.sendSnapshot(m) }()
			continue
		}
		select {
		case p.queue <- m:
		default:
			t.h.reportUnreachable(m.To)
		}
	}
}

// forward queues a follower's own proposal (MsgProp) for the leader, and
// reports whether it could: not when there is no stream to that member or
// its queue is full (the proposer then goes through raft).
func (t *transport) forward(m raftpb.Message) bool {
	t.peersMu.RLock()
	defer t.peersMu.RUnlock()
	p, ok := t.peers[m.To]
	if !ok {
		return false
	}
	select {
	case p.queue <- m:
		return true
	default:
		return false
	}
}

func (t *transport) close() {
	t.cancel()
	if t.ln != nil {
		t.ln.Close()
	}
	t.mu.Lock()
	for c := range t.conn {
		c.Close()
	}
	t.mu.Unlock()
	t.peersMu.Lock()
	for id, p := range t.peers {
		p.stop()
		delete(t.peers, id)
	}
	t.peersMu.Unlock()
	t.wg.Wait()
}

// Listen binds the raft peer address.
func Listen(addr string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("raft: listen %s: %w", addr, err)
	}
	return ln, nil
}
