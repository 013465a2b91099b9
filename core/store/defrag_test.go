package store

import (
	"errors"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/storage"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// versions lists the revisions of a key's change-log records physically
// in the state store (a delete's as a negative number), newest first: any
// version of the event still in the files, a delete marker alone included.
func versions(t *testing.T, s *Store, ns, key string) []int64 {
	t.Helper()
	txn := s.state.DB().NewTransactionAt(storage.MaxTs, false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{AllVersions: true, Prefix: nsPrefix(tagEvent, ns)})
	defer it.Close()
	var out []int64
	var last []byte
	for it.Rewind(); it.Valid(); it.Next() {
		item := it.Item()
		if item.IsDeletedOrExpired() || string(item.Key()) == string(last) {
			continue // the marker, or an event already counted
		}
		_, r, err := splitEventKey(item.Key())
		if err != nil {
			t.Fatal(err)
		}
		var typ EventType
		var k []byte
		if err := item.Value(func(v []byte) error {
			var derr error
			typ, k, _, derr = decodeEventRecord(v)
			k = append([]byte(nil), k...)
			return derr
		}); err != nil {
			t.Fatal(err)
		}
		if string(k) != key {
			continue
		}
		last = item.KeyCopy(nil)
		rev := r.main
		if typ != EventPut {
			rev = -rev
		}
		out = append([]int64{rev}, out...)
	}
	return out
}

// overwrite puts rounds × keys values of size bytes, one txn per round.
func overwrite(t *testing.T, kv *Namespace, keys, rounds, size int) {
	t.Helper()
	val := make([]byte, size)
	for r := 0; r < rounds; r++ {
		ops := make([]Op, 0, keys)
		for k := 0; k < keys; k++ {
			val[0] = byte(r)
			op, _ := kv.PutOp(fmt.Sprintf("k%02d", k), val, PutOptions{})
			ops = append(ops, op)
		}
		if _, err := kv.Txn(ctx(t), nil, ops, nil); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDefragmentShrinksAfterOverwritesAndCompaction(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	overwrite(t, kv, 20, 250, 900)
	if err := s.Compact(ctx(t), s.Revision()); err != nil {
		t.Fatal(err)
	}
	hash, err := s.HashKV(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	before, after, err := s.Defragment(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("defragment: %d -> %d bytes", before, after)
	if after >= before/2 {
		t.Fatalf("defragment shrank the state store from %d to %d bytes only", before, after)
	}
	if again, err := s.HashKV(ctx(t), 0); err != nil || again != hash {
		t.Fatalf("hash after defragment %+v (err %v), before %+v", again, err, hash)
	}
	if got := versions(t, s, "kv", "k07"); len(got) != 1 {
		t.Fatalf("k07 has versions %v after defragment, want only the newest", got)
	}
	mustPut(t, kv, "k00", "after")
	if got := mustGet(t, kv, "k00", ReadOptions{}); string(got.Value) != "after" || got.Version != 251 {
		t.Fatalf("k00 after defragment: %+v", got)
	}
}

func TestCompactPhysicalDropsOldVersions(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	r1 := mustPut(t, kv, "a", "1").Revision
	r2 := mustPut(t, kv, "a", "2").Revision
	g1 := mustPut(t, kv, "gone", "x").Revision
	d, err := kv.Delete(ctx(t), "gone")
	if err != nil {
		t.Fatal(err)
	}
	mid := mustPut(t, kv, "b", "1").Revision
	r3 := mustPut(t, kv, "a", "3").Revision
	if got := versions(t, s, "kv", "a"); len(got) != 3 {
		t.Fatalf("versions of a before compaction: %v", got)
	}
	// Logical compaction alone keeps them (no raft snapshot yet).
	if err := s.Compact(ctx(t), mid); err != nil {
		t.Fatal(err)
	}
	if err := s.CompactPhysical(ctx(t), r3); err != nil {
		t.Fatal(err)
	}
	// What reads at r3 and later need stays: a's version at r3; r1, r2
	// and the deleted key are gone from the files.
	if got := versions(t, s, "kv", "a"); len(got) != 1 || got[0] != r3 {
		t.Fatalf("versions of a after physical compaction to %d: %v (written at %d, %d, %d)", r3, got, r1, r2, r3)
	}
	if got := versions(t, s, "kv", "gone"); len(got) != 0 {
		t.Fatalf("deleted key still in the files: %v (put %d, deleted %d)", got, g1, d.Revision)
	}
	if got := mustGet(t, kv, "a", ReadOptions{Revision: r3}); string(got.Value) != "3" {
		t.Fatalf("a at %d: %+v", r3, got)
	}
	if err := s.CompactPhysical(ctx(t), r3); !errors.Is(err, ErrCompacted) {
		t.Fatalf("physical compaction to the compacted revision again: %v", err)
	}
	// A raft snapshot below the compacted revision is refused before a
	// byte is written: its versions may be gone.
	if err := s.sm.WriteSnapshot(ctx(t), io.Discard, uint64(r2)); err == nil {
		t.Fatal("raft snapshot below the compacted revision streamed")
	}
}

// A read pinned at a revision keeps what it needs through a physical
// compaction past it.
func TestPinHoldsVersionsThroughPhysicalCompaction(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	r1 := mustPut(t, kv, "a", "1").Revision
	mustPut(t, kv, "a", "2")
	r3 := mustPut(t, kv, "b", "x").Revision
	unpin := s.sm.pin(r1)
	if err := s.CompactPhysical(ctx(t), r3); err != nil {
		t.Fatal(err)
	}
	if got := s.sm.discardRevision(); got != r1 {
		t.Fatalf("discard revision with a pin at %d: %d", r1, got)
	}
	txn := s.state.DB().NewTransactionAt(uint64(r1), false)
	item, err := txn.Get(eventKey("kv", r1, 0))
	if err != nil || item.Version() != uint64(r1) {
		t.Fatalf("version at the pinned revision: %v", err)
	}
	txn.Discard()
	unpin()
	if got := s.sm.discardRevision(); got != r3 {
		t.Fatalf("discard revision after unpin: %d, want %d", got, r3)
	}
}

// Raft snapshots still reach a new member after a physical compaction:
// they are streamed at the newest applied index.
func TestJoinBySnapshotAfterPhysicalCompaction(t *testing.T) {
	c := newTestCluster(t, 3, 50)
	lead := c.waitLeader()
	for i := 0; i < 200; i++ {
		mustPut(t, c.ns(lead), fmt.Sprintf("k%03d", i%40), fmt.Sprint(i))
	}
	if err := c.stores[lead].CompactPhysical(ctx(t), c.stores[lead].Revision()); err != nil {
		t.Fatal(err)
	}
	id := uint64(4)
	c.dirs[id], c.addrs[id] = t.TempDir(), testutil.FreeAddr(t)
	members, err := c.stores[lead].Raft().AddMember(ctx(t), raft.Member{ID: id, PeerAddr: c.addrs[id], Name: "node-4"})
	if err != nil {
		t.Fatal(err)
	}
	c.start(id, true, members)
	rev := c.stores[lead].Revision()
	testutil.Eventually(t, 15*time.Second, "joined node to catch up", func() bool {
		return c.stores[id].Revision() >= rev
	})
	hs := c.hashAll(c.stores[id].Revision())
	if !sameHash(hs) {
		t.Fatalf("hashes after the join: %+v", hs)
	}
}

// eventVisible reports whether the change-log event of namespace kv at rev
// is there for a reader at ts.
func eventVisible(t *testing.T, s *Store, rev int64, ts int64) bool {
	t.Helper()
	txn := s.state.DB().NewTransactionAt(uint64(ts), false)
	defer txn.Discard()
	_, err := txn.Get(eventKey("kv", rev, 0))
	if err != nil && !errors.Is(err, badger.ErrKeyNotFound) {
		t.Fatal(err)
	}
	return err == nil
}

// A compaction writes the change log's delete markers at its target
// revision, where Badger drops them with the events, unless a reader that
// could see them there is reading: a watcher behind the target, or a
// stream pinned at or above it. Then they go at the compaction's index.
func TestCompactionKeepsDeleteMarkersOutOfReadersSight(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	var revs []int64
	// One key: every event below a target is a record no read at the
	// target needs.
	for i := 0; i < 8; i++ {
		revs = append(revs, mustPut(t, kv, "k", fmt.Sprint(i)).Revision)
	}
	for _, tc := range []struct {
		name   string
		target int64
		hold   func() func()
		hidden bool // the event at target-1 is gone for a reader at target
	}{
		{"watcher behind the target", revs[2], func() func() { return s.sm.readEvents(revs[0]) }, false},
		{"stream pinned above the target", revs[4], func() func() { return s.sm.pin(revs[5]) }, false},
		{"watcher at the target", revs[5], func() func() { return s.sm.readEvents(revs[5]) }, true},
		{"nobody", revs[7], func() func() { return func() {} }, true},
	} {
		release := tc.hold()
		if err := s.Compact(ctx(t), tc.target); err != nil {
			t.Fatal(err)
		}
		release()
		if got := !eventVisible(t, s, tc.target-1, tc.target); got != tc.hidden {
			t.Errorf("%s: event at %d hidden at %d: %v, want %v", tc.name, tc.target-1, tc.target, got, tc.hidden)
		}
		if eventVisible(t, s, tc.target-1, s.Revision()) {
			t.Errorf("%s: event at %d still there after the compaction", tc.name, tc.target-1)
		}
	}
	// A watcher behind the compacted revision is told so.
	if _, err := kv.Watch(ctx(t), "", revs[1]); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watch below the compacted revision: %v", err)
	}
}
