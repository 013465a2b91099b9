package raft

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"reflect"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// frames decodes every frame written to wire.
func frames(t *testing.T, wire *bytes.Buffer) []raftpb.Message {
	t.Helper()
	var out []raftpb.Message
	for {
		m, err := readFrame(wire)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, m)
	}
}

// A stream's batch holds messages from several Readys and requests: what
// merge can fold travels as one message, in order, and nothing is written
// before the flush.
func TestFrameBatchMergesAcrossReadysAndRequests(t *testing.T) {
	prop := func(d byte) raftpb.Message {
		return raftpb.Message{Type: raftpb.MsgProp, From: 2, To: 1, Entries: []raftpb.Entry{{Data: []byte{d}}}}
	}
	var wire bytes.Buffer
	b := newFrameBatch(bufio.NewWriter(&wire))
	for _, m := range []raftpb.Message{prop(1), prop(2), prop(3)} {
		b.add(m)
	}
	if !b.onlyProps {
		t.Fatal("a batch of proposals alone does not say so")
	}
	b.add(ack(2, 11, false))
	b.add(ack(2, 12, false))
	b.add(raftpb.Message{Type: raftpb.MsgHeartbeatResp, From: 2, To: 1, Term: 2})
	b.add(prop(4))
	if b.onlyProps {
		t.Fatal("a batch holding acknowledgements says it holds only proposals")
	}
	if wire.Len() != 0 {
		t.Fatalf("%d bytes written before the flush", wire.Len())
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	want := []raftpb.Message{
		{Type: raftpb.MsgProp, From: 2, To: 1, Entries: []raftpb.Entry{{Data: []byte{1}}, {Data: []byte{2}}, {Data: []byte{3}}}},
		ack(2, 12, false),
		{Type: raftpb.MsgHeartbeatResp, From: 2, To: 1, Term: 2},
		prop(4),
	}
	if got := frames(t, &wire); !reflect.DeepEqual(got, want) {
		t.Fatalf("wrote\n%+v\nwant\n%+v", got, want)
	}
	if !b.onlyProps {
		t.Fatal("a flushed batch is not empty again")
	}

	// The next batch starts afresh: appends that continue one another
	// merge, and nothing of the last batch is written twice.
	b.add(app(2, 10, 2, 9, ents(2, 11, 12)))
	b.add(app(2, 12, 2, 11, ents(2, 13, 13)))
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	want = []raftpb.Message{app(2, 10, 2, 11, ents(2, 11, 13))}
	if got := frames(t, &wire); !reflect.DeepEqual(got, want) {
		t.Fatalf("second batch wrote\n%+v\nwant\n%+v", got, want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset") }

// A batch whose write fails reports it at the flush and starts empty.
func TestFrameBatchReportsWriteErrors(t *testing.T) {
	b := newFrameBatch(bufio.NewWriterSize(failingWriter{}, 16))
	b.add(app(2, 10, 2, 9, ents(2, 11, 14)))
	b.add(raftpb.Message{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 2})
	if err := b.flush(); err == nil {
		t.Fatal("flush over a failed connection reported no error")
	}
	if b.hasLast || b.err != nil || !b.onlyProps {
		t.Fatalf("batch after a failed flush: hasLast %v err %v onlyProps %v", b.hasLast, b.err, b.onlyProps)
	}
}

// A stream that was stalled can hold thousands of proposals: they merge
// into as few messages as the size bound allows, every entry once and in
// order, and the entries handed in are not written to.
func TestFrameBatchMergesAStalledQueueWithinTheBound(t *testing.T) {
	const n = 5000
	data := bytes.Repeat([]byte{'v'}, 300) // 1.5 MB in all
	// Each proposal's entry has unused room behind it, as a slice of
	// raft's log has.
	handed := make([]raftpb.Entry, 2*n)
	var wire bytes.Buffer
	b := newFrameBatch(bufio.NewWriter(&wire))
	for i := 0; i < n; i++ {
		handed[2*i] = raftpb.Entry{Data: append([]byte{byte(i >> 8), byte(i)}, data...)}
		b.add(raftpb.Message{Type: raftpb.MsgProp, From: 2, To: 1, Entries: handed[2*i : 2*i+1]})
	}
	if err := b.flush(); err != nil {
		t.Fatal(err)
	}
	got := frames(t, &wire)
	if len(got) != 2 {
		t.Fatalf("%d proposals of %d bytes went as %d messages, want 2 under the %d-byte bound", n, len(data)+2, len(got), maxCoalescedBytes)
	}
	i := 0
	for _, m := range got {
		if dataBytes(m.Entries) > maxCoalescedBytes {
			t.Fatalf("a message carries %d bytes of entries, over %d", dataBytes(m.Entries), maxCoalescedBytes)
		}
		for _, e := range m.Entries {
			if e.Data[0] != byte(i>>8) || e.Data[1] != byte(i) {
				t.Fatalf("entry %d arrived as %x..., out of order", i, e.Data[:2])
			}
			i++
		}
	}
	if i != n {
		t.Fatalf("%d entries arrived, want %d", i, n)
	}
	for i := 1; i < len(handed); i += 2 {
		if handed[i].Data != nil {
			t.Fatalf("merging wrote %x... into the room behind entry %d it was handed", handed[i].Data[:2], i/2)
		}
	}
}
