package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"testing"

	"github.com/dgraph-io/badger/v4/pb"
	"google.golang.org/protobuf/proto"
)

// cutReader returns its reader's first n bytes, then fails: a snapshot
// load that dies part-way (test/robustness kills a member there with the
// failpoint storageDuringSnapshotRestore).
type cutReader struct {
	r io.Reader
	n int
}

func (c *cutReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, errors.New("cut")
	}
	if len(p) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= n
	return n, err
}

// appliedFirst re-frames a snapshot stream (Badger's backup format: a
// little-endian uint64 length, then a KVList) with the applied index in
// the first frame and the rest in frames of 500 keys: an order Badger's
// concurrent stream may produce.
func appliedFirst(t *testing.T, stream []byte) []byte {
	t.Helper()
	var first, rest []*pb.KV
	for r := bytes.NewReader(stream); r.Len() > 0; {
		var n uint64
		if err := binary.Read(r, binary.LittleEndian, &n); err != nil {
			t.Fatal(err)
		}
		frame := make([]byte, n)
		if _, err := io.ReadFull(r, frame); err != nil {
			t.Fatal(err)
		}
		var list pb.KVList
		if err := proto.Unmarshal(frame, &list); err != nil {
			t.Fatal(err)
		}
		for _, kv := range list.Kv {
			if bytes.Equal(kv.Key, metaApplied) {
				first = append(first, kv)
			} else {
				rest = append(rest, kv)
			}
		}
	}
	if len(first) == 0 {
		t.Fatal("no applied index in the stream")
	}
	var out []byte
	write := func(kvs []*pb.KV) {
		b, err := proto.Marshal(&pb.KVList{Kv: kvs})
		if err != nil {
			t.Fatal(err)
		}
		out = binary.LittleEndian.AppendUint64(out, uint64(len(b)))
		out = append(out, b...)
	}
	write(first)
	for len(rest) > 0 {
		n := min(500, len(rest))
		write(rest[:n])
		rest = rest[n:]
	}
	return out
}

// A member killed while loading a received snapshot used to restart with
// a state store that already held the snapshot's applied index (Badger's
// stream sends key ranges in no particular order) but only part of the
// keys; raft then saw nothing left to restore and the member ran on with
// a partial state. The applied index is now written last, so a cut-short
// load leaves none and the next start restores from the file again. The
// stream here carries the applied index first and spans several of the
// loader's write batches (about 2.4 MB each), so the old code wrote it
// before the cut.
func TestRestoreSnapshotCutShortLeavesNoAppliedIndex(t *testing.T) {
	s := openSingle(t, "")
	kv := ns(t, s, "kv")
	big := bytes.Repeat([]byte("x"), 300)
	const keys = 12000
	for i := 0; i < keys/100; i++ {
		var ops []Op
		for j := 0; j < 100; j++ {
			op, _ := kv.PutOp(fmt.Sprintf("k%03d-%03d", i, j), big, PutOptions{})
			ops = append(ops, op)
		}
		if _, err := kv.Txn(ctx(t), nil, ops, nil); err != nil {
			t.Fatal(err)
		}
	}
	rev := s.Revision()
	var stream bytes.Buffer
	if err := s.sm.WriteSnapshot(ctx(t), &stream, uint64(rev)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	buf := bytes.NewBuffer(appliedFirst(t, stream.Bytes()))

	dir := t.TempDir()
	other := openSingle(t, dir)
	other.Raft().Stop()
	other.Close()
	sm, st := openStateMachine(t, dir)
	for _, frac := range []float64{0.2, 0.5, 0.8, 0.95, 0.99} {
		cut := &cutReader{r: bytes.NewReader(buf.Bytes()), n: int(float64(buf.Len()) * frac)}
		if err := sm.RestoreSnapshot(cut, uint64(rev)); err == nil {
			t.Fatalf("cut at %.0f%%: restore succeeded", frac*100)
		}
		// What the next start sees.
		again, err := newStateMachine(st, testLogger())
		if err != nil {
			t.Fatalf("cut at %.0f%%: reopen: %v", frac*100, err)
		}
		if got := again.AppliedIndex(); got != 0 {
			t.Fatalf("cut at %.0f%%: a partial load claims applied index %d (of %d; %d of %d keys)", frac*100, got, rev, len(again.index), keys)
		}
	}
	if err := sm.RestoreSnapshot(bytes.NewReader(buf.Bytes()), uint64(rev)); err != nil {
		t.Fatal(err)
	}
	again, err := newStateMachine(st, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	if again.AppliedIndex() != uint64(rev) || len(again.index) != keys || again.readFloor.Load() != rev {
		t.Fatalf("whole restore: applied %d (want %d), %d keys (want %d), read floor %d", again.AppliedIndex(), rev, len(again.index), keys, again.readFloor.Load())
	}
}
