package raft

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// recorder is a transportHandler that keeps what it is given.
type recorder struct {
	mu   sync.Mutex
	msgs []raftpb.Message
	snap []byte
}

func (r *recorder) step(_ context.Context, m raftpb.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, m)
	return nil
}
func (r *recorder) reportUnreachable(uint64)                       {}
func (r *recorder) reportSnapshot(uint64, etcdraft.SnapshotStatus) {}
func (r *recorder) mergeSnapshot(m raftpb.Message) raftpb.Message  { return m }
func (r *recorder) writeSnapshot(_ context.Context, w io.Writer, _ raftpb.Message) error {
	_, err := w.Write(bytes.Repeat([]byte("s"), 100000))
	return err
}
func (r *recorder) receiveSnapshot(_ raftpb.Message, rd io.Reader) error {
	b, err := io.ReadAll(rd)
	r.mu.Lock()
	r.snap = b
	r.mu.Unlock()
	return err
}

func (r *recorder) count() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.msgs), len(r.snap)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTransportDeliversMessagesAndSnapshots(t *testing.T) {
	recv := &recorder{}
	a := sender(t, recv)

	var batch []raftpb.Message
	for i := 0; i < 1000; i++ {
		batch = append(batch, raftpb.Message{Type: raftpb.MsgApp, From: 1, To: 2, Index: uint64(i)})
	}
	a.send(batch)
	waitFor(t, "1000 messages", func() bool { n, _ := recv.count(); return n == 1000 })
	recv.mu.Lock()
	for i, m := range recv.msgs {
		if m.Index != uint64(i) {
			recv.mu.Unlock()
			t.Fatalf("message %d arrived as index %d: out of order", i, m.Index)
		}
	}
	recv.mu.Unlock()

	snap := raftpb.Message{Type: raftpb.MsgSnap, From: 1, To: 2, Snapshot: &raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{Index: 10, Term: 1}}}
	a.send([]raftpb.Message{snap})
	waitFor(t, "the snapshot stream and its message", func() bool { n, s := recv.count(); return n == 1001 && s == 100000 })
}

func TestTransportRefusesMisaddressedConnections(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	recv := &recorder{}
	b := newTransport(2, quiet, recv, nil, nil)
	if err := b.listen("127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	defer b.close()
	// A peer that thinks it is talking to node 3 (say, an old address).
	c, err := net.Dial("tcp", b.addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	hs := append([]byte("TRL1"), connMessages)
	hs = binary.BigEndian.AppendUint64(hs, 1)
	hs = binary.BigEndian.AppendUint64(hs, 3)
	c.Write(hs)
	m := raftpb.Message{Type: raftpb.MsgHeartbeat, From: 1, To: 3}
	writeFrame(c, &m, nil)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("connection for another node was not closed")
	}
	if n, _ := recv.count(); n != 0 {
		t.Fatalf("%d misaddressed messages were delivered", n)
	}
	// An oversized frame is refused before it is allocated.
	var hdr [4]byte
	binary.BigEndian.PutUint32(hdr[:], maxFrame+1)
	if _, err := readFrame(bytes.NewReader(hdr[:])); err == nil {
		t.Fatal("oversized frame accepted")
	}
}

// Frames of one connection share a read buffer: a message already handed
// on keeps its own bytes when later frames (shorter and longer) reuse it.
func TestReadFrameIntoReusesBuffer(t *testing.T) {
	msg := func(data string, ctxBytes string) raftpb.Message {
		return raftpb.Message{Type: raftpb.MsgApp, From: 1, To: 2, Context: []byte(ctxBytes),
			Entries: []raftpb.Entry{{Index: 7, Term: 1, Data: []byte(data)}}}
	}
	sent := []raftpb.Message{msg("first entry, long enough", "c1"), msg("2nd", "c2"), msg(string(bytes.Repeat([]byte("x"), 4096)), "c3")}
	var wire bytes.Buffer
	for i := range sent {
		if _, err := writeFrame(&wire, &sent[i], nil); err != nil {
			t.Fatal(err)
		}
	}
	var buf []byte
	var got []raftpb.Message
	for range sent {
		m, b, err := readFrameInto(&wire, buf)
		if err != nil {
			t.Fatal(err)
		}
		got, buf = append(got, m), b
	}
	for i := range sent {
		if string(got[i].Entries[0].Data) != string(sent[i].Entries[0].Data) || string(got[i].Context) != string(sent[i].Context) {
			t.Fatalf("message %d changed after later frames reused the buffer: data %.20q context %q", i, got[i].Entries[0].Data, got[i].Context)
		}
	}
}

// propBlocker is a recorder whose raft takes no proposal (it knows no
// leader) until release is closed.
type propBlocker struct {
	recorder
	release chan struct{}
}

func (p *propBlocker) step(ctx context.Context, m raftpb.Message) error {
	if m.Type == raftpb.MsgProp {
		select {
		case <-p.release:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return p.recorder.step(ctx, m)
}

// A proposal forwarded to a member that takes none (it knows no leader)
// must not hold up the messages behind it on the same connection: the
// leader's heartbeat is how that member learns there is a leader again.
func TestTransportProposalDoesNotBlockTheConnection(t *testing.T) {
	recv := &propBlocker{release: make(chan struct{})}
	a := sender(t, recv)

	a.send([]raftpb.Message{
		{Type: raftpb.MsgProp, From: 1, To: 2, Entries: []raftpb.Entry{{Data: []byte("p")}}},
		{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 5},
	})
	waitFor(t, "the heartbeat behind a proposal raft does not take", func() bool { n, _ := recv.count(); return n == 1 })
	recv.mu.Lock()
	first := recv.msgs[0]
	recv.mu.Unlock()
	if first.Type != raftpb.MsgHeartbeat {
		t.Fatalf("first message delivered: %v, want the heartbeat", first.Type)
	}
	// Once raft takes proposals again, a waiting one is delivered.
	close(recv.release)
	waitFor(t, "the proposal once raft takes it", func() bool { n, _ := recv.count(); return n == 2 })
}

// sender starts node 2's transport delivering to recv and returns node 1's,
// connected to it; both close at the end of the test.
func sender(t *testing.T, recv transportHandler) *transport {
	t.Helper()
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	b := newTransport(2, quiet, recv, nil, nil)
	if err := b.listen("127.0.0.1:0", nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.close)
	a := newTransport(1, quiet, &recorder{}, nil, nil)
	t.Cleanup(a.close)
	a.setPeer(2, b.addr())
	return a
}
