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
