package raft

import (
	"bufio"
	"context"
	"net"
	"runtime"
	"sync"
	"time"

	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// peer owns the outgoing message stream to one member: one goroutine, one
// TCP connection, and a buffered writer flushed whenever the queue runs dry,
// so a burst of messages costs one syscall, and messages merge can fold
// together travel as one (frameBatch).
type peer struct {
	t     *transport
	id    uint64
	addr  string
	queue chan raftpb.Message

	once   sync.Once
	stopc  chan struct{}
	ctx    context.Context
	cancel context.CancelFunc
}

func newPeer(t *transport, id uint64, addr string) *peer {
	ctx, cancel := context.WithCancel(t.ctx)
	return &peer{t: t, id: id, addr: addr, queue: make(chan raftpb.Message, peerQueueSize),
		stopc: make(chan struct{}), ctx: ctx, cancel: cancel}
}

func (p *peer) stop() { p.once.Do(func() { close(p.stopc); p.cancel() }) }

func (p *peer) run() {
	var (
		conn      net.Conn
		out       frameBatch
		downUntil time.Time
	)
	defer func() {
		if conn != nil {
			conn.Close()
		}
	}()
	for {
		var m raftpb.Message
		select {
		case m = <-p.queue:
		case <-p.stopc:
			return
		}
		if conn == nil {
			if time.Now().Before(downUntil) {
				p.t.h.reportUnreachable(p.id)
				continue
			}
			c, err := p.t.dial(p.ctx, p.addr, connMessages, p.id)
			if err != nil {
				downUntil = time.Now().Add(redialBackoff)
				p.t.h.reportUnreachable(p.id)
				continue
			}
			conn, out = c, newFrameBatch(bufio.NewWriterSize(c, 256<<10))
		}
		out.add(m)
		p.drain(&out)
		if out.onlyProps {
			// Forwarded proposals come one per client request. Under
			// load, other requests are about to forward theirs: let them
			// run first, and all travel as one message, one write, one
			// read and one step at the leader. Without other work the
			// yield returns at once.
			runtime.Gosched()
			p.drain(&out)
		}
		if err := out.flush(); err != nil {
			p.t.logger.Debug("raft send failed", "peer", p.id, "addr", p.addr, "err", err)
			conn.Close()
			conn = nil
			p.t.h.reportUnreachable(p.id)
		}
	}
}

// drain adds every message already queued to out.
func (p *peer) drain(out *frameBatch) {
	for len(p.queue) > 0 {
		out.add(<-p.queue)
	}
}

// sendSnapshot streams a snapshot on its own connection and reports the
// outcome to raft, which pauses replication to the peer meanwhile.
func (p *peer) sendSnapshot(m raftpb.Message) {
	m = p.t.h.mergeSnapshot(m)
	status := etcdraft.SnapshotFailure
	defer func() { p.t.h.reportSnapshot(p.id, status) }()
	c, err := p.t.dial(p.ctx, p.addr, connSnapshot, p.id)
	if err != nil {
		p.t.logger.Warn("snapshot dial failed", "peer", p.id, "err", err)
		return
	}
	defer c.Close()
	stop := context.AfterFunc(p.ctx, func() { c.Close() })
	defer stop()
	// Every write must make progress within snapWriteIdle: a peer behind a
	// network that swallows packets without resetting the connection would
	// otherwise pause replication to it for good.
	bw := bufio.NewWriterSize(deadlineWriter{c}, 256<<10)
	if _, err := writeFrame(bw, &m, nil); err != nil {
		return
	}
	sw := newSnapWriter(bw)
	if err := p.t.h.writeSnapshot(p.ctx, sw, m); err != nil {
		p.t.logger.Warn("snapshot stream failed", "peer", p.id, "err", err)
		return
	}
	if err := sw.Close(); err != nil {
		return
	}
	if err := bw.Flush(); err != nil {
		return
	}
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
	ack := make([]byte, 1)
	c.SetReadDeadline(time.Now().Add(snapAckWait))
	if _, err := c.Read(ack); err != nil || ack[0] != 1 {
		p.t.logger.Warn("snapshot not acknowledged", "peer", p.id, "err", err)
		return
	}
	p.t.logger.Info("snapshot sent", "peer", p.id, "index", m.Snapshot.Metadata.Index)
	status = etcdraft.SnapshotFinish
}

var (
	// snapWriteIdle bounds how long one write of a snapshot stream may
	// block.
	snapWriteIdle = 30 * time.Second
	// snapAckWait bounds the wait for the receiver's answer once the whole
	// stream is sent: it only has to fsync the file.
	snapAckWait = 2 * time.Minute
)

// deadlineWriter renews the connection's write deadline before each write.
type deadlineWriter struct{ c net.Conn }

func (d deadlineWriter) Write(p []byte) (int, error) {
	d.c.SetWriteDeadline(time.Now().Add(snapWriteIdle))
	return d.c.Write(p)
}
