package storage

import (
	"bytes"
	"errors"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

// FuzzWALRecord feeds arbitrary bytes to the record decoder and to segment
// replay. Decoding never panics and fails only with its three outcomes; a
// record it accepts encodes back to the same bytes; replay either errors,
// or reports a torn tail, or leaves entries that follow their snapshot
// without a hole. Seeds live in testdata/fuzz/FuzzWALRecord.
func FuzzWALRecord(f *testing.F) {
	e := raftpb.Entry{Term: 1, Index: 1, Data: []byte("put k v")}
	good, _ := appendMessage(nil, recEntry, &e)
	hs, _ := appendMessage(nil, recHardState, &raftpb.HardState{Term: 1, Vote: 1, Commit: 1})
	f.Add(good)
	f.Add(append(append([]byte(nil), good...), hs...))
	f.Add(good[:len(good)-1])
	f.Add(make([]byte, recordHeaderSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		typ, payload, n, err := decodeRecord(b)
		switch {
		case err == nil:
			if n < recordHeaderSize || n > len(b) {
				t.Fatalf("record length %d of %d bytes", n, len(b))
			}
			if re := appendRecord(nil, typ, payload); !bytes.Equal(re, b[:n]) {
				t.Fatalf("record does not encode back: %x, was %x", re, b[:n])
			}
		case errors.Is(err, errEndOfRecords), errors.Is(err, errShortRecord), errors.Is(err, errBadRecord):
		default:
			t.Fatalf("unexpected decode error %v", err)
		}
		for _, last := range []bool{false, true} {
			var st replayState
			seg := &segment{}
			end, torn, err := replaySegment(&st, seg, bytesSource(b), last)
			if err != nil {
				continue
			}
			if end > len(b) || (torn != nil && (!last || torn.off != int64(end))) {
				t.Fatalf("replay end %d of %d, torn %+v, last %v", end, len(b), torn, last)
			}
			if st.finish() != nil {
				continue
			}
			for i := 1; i < len(st.ents); i++ {
				if st.ents[i].Index != st.ents[i-1].Index+1 {
					t.Fatalf("replayed entries %d then %d", st.ents[i-1].Index, st.ents[i].Index)
				}
			}
		}
	})
}
