package store

import (
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"

	"github.com/trellis-cp/trellis/core/storage"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// A key's only record is its change-log event: reads at every revision
// since the compaction find it through the revision index, and a
// compaction keeps, below the compacted revision, the record each live key
// has there. All of it survives a restart (the index is rebuilt from the
// change log).
func TestRecordsAreEventsAcrossCompactionAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	kv := ns(t, s, "kv")
	old := mustPut(t, kv, "old", "kept").Revision // never written again
	a1 := mustPut(t, kv, "a", "1").Revision
	a2 := mustPut(t, kv, "a", "2").Revision
	mustPut(t, kv, "gone", "x")
	del, err := kv.Delete(ctx(t), "gone")
	if err != nil {
		t.Fatal(err)
	}
	a3 := mustPut(t, kv, "a", "3").Revision
	if got := mustGet(t, kv, "a", ReadOptions{Revision: a1}); string(got.Value) != "1" || got.ModRevision != a1 || got.Version != 1 {
		t.Fatalf("a at %d: %+v", a1, got)
	}
	if _, err := kv.Get(ctx(t), "gone", ReadOptions{Revision: del.Revision}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("gone at its deletion: %v", err)
	}
	if err := s.Compact(ctx(t), a2); err != nil {
		t.Fatal(err)
	}
	check := func(s *Store) {
		t.Helper()
		kv := ns(t, s, "kv")
		if got := mustGet(t, kv, "old", ReadOptions{}); string(got.Value) != "kept" || got.ModRevision != old {
			t.Fatalf("a key last written below the compaction: %+v", got)
		}
		if got := mustGet(t, kv, "a", ReadOptions{Revision: a2}); string(got.Value) != "2" || got.Version != 2 || got.CreateRevision != a1 {
			t.Fatalf("a at the compacted revision %d: %+v", a2, got)
		}
		if got := mustGet(t, kv, "a", ReadOptions{}); string(got.Value) != "3" || got.ModRevision != a3 || got.Version != 3 {
			t.Fatalf("a now: %+v", got)
		}
		if _, err := kv.Get(ctx(t), "a", ReadOptions{Revision: a1}); !errors.Is(err, ErrCompacted) {
			t.Fatalf("a below the compacted revision: %v", err)
		}
		if _, err := kv.Get(ctx(t), "gone", ReadOptions{}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("gone: %v", err)
		}
		l, err := kv.List(ctx(t), "", ListOptions{})
		if err != nil || len(l.KVs) != 2 || l.KVs[0].Key != "a" || l.KVs[1].Key != "old" {
			t.Fatalf("list: %+v, %v", l, err)
		}
	}
	check(s)
	if got := records(t, s, "kv", "a"); len(got) != 2 || got[0] != a3 || got[1] != a2 {
		t.Fatalf("records of a after compacting to %d: %v (want %d, %d)", a2, got, a3, a2)
	}
	h, err := s.HashKV(ctx(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openSingle(t, dir)
	defer s.Close()
	check(s)
	if again, err := s.HashKV(ctx(t), h.Revision); err != nil || again.Hash != h.Hash {
		t.Fatalf("hash after the restart %+v (%v), before %+v", again, err, h)
	}
}

// Plain records (append-only logs) and revision-keyed keys share a
// namespace: lists and hashes merge them in key order, a put over a plain
// record and an append over a key each replace the other at every read
// from then on, and a prefix delete takes both.
func TestPlainRecordsMergeWithKeys(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	appendOp := func(key, val string) int64 {
		t.Helper()
		op, err := kv.AppendOp(key, []byte(val))
		if err != nil {
			t.Fatal(err)
		}
		res, err := kv.Txn(ctx(t), nil, []Op{op}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Revision
	}
	mustPut(t, kv, "b", "put")
	appendOp("a", "plain")
	appendOp("c", "plain")
	mustPut(t, kv, "d", "put")
	appendOp("e", "plain") // after the last key of the index
	before := s.Revision()
	keys := func(rev int64) string {
		t.Helper()
		l, err := kv.List(ctx(t), "", ListOptions{Revision: rev})
		if err != nil {
			t.Fatal(err)
		}
		out := ""
		for _, x := range l.KVs {
			out += x.Key + "=" + string(x.Value) + " "
		}
		return out
	}
	if got := keys(0); got != "a=plain b=put c=plain d=put e=plain " {
		t.Fatalf("list: %q", got)
	}
	if l, err := kv.List(ctx(t), "", ListOptions{After: "a", Limit: 2}); err != nil || len(l.KVs) != 2 || l.KVs[0].Key != "b" || l.KVs[1].Key != "c" || !l.More {
		t.Fatalf("page after a: %+v, %v", l, err)
	}
	mustPut(t, kv, "a", "put over plain")
	appendOp("b", "plain over put")
	if got := keys(0); got != "a=put over plain b=plain over put c=plain d=put e=plain " {
		t.Fatalf("list after the swaps: %q", got)
	}
	if got := keys(before); got != "a=plain b=put c=plain d=put e=plain " {
		t.Fatalf("list at %d: %q", before, got)
	}
	if got := mustGet(t, kv, "b", ReadOptions{}); string(got.Value) != "plain over put" {
		t.Fatalf("b: %+v", got)
	}
	res, err := kv.DeletePrefix(ctx(t), "")
	if err != nil || res.Responses[0].Deleted != 5 {
		t.Fatalf("delete prefix: %+v, %v", res, err)
	}
	if got := keys(0); got != "" {
		t.Fatalf("list after the prefix delete: %q", got)
	}
	if got := keys(before); got != "a=plain b=put c=plain d=put e=plain " {
		t.Fatalf("list at %d after the prefix delete: %q", before, got)
	}
}

// A state store written in another layout is refused with ErrLayout, not
// misread.
func TestOtherLayoutIsRefused(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	mustPut(t, ns(t, s, "kv"), "a", "1")
	s.Close()
	st, err := storage.OpenStateDB(filepath.Join(dir, "state"), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	w := st.DB().NewTransactionAt(storage.MaxTs-1, true)
	if err := w.Set(metaLayout, u64bytes(1)); err != nil {
		t.Fatal(err)
	}
	if err := w.CommitAt(storage.MaxTs-1, nil); err != nil {
		t.Fatal(err)
	}
	st.Close()
	_, err = Open(Options{DataDir: dir, Raft: raftConfig(1, testutil.FreeAddr(t), nil), Logger: testLogger(), TTLInterval: 50 * time.Millisecond})
	if !errors.Is(err, ErrLayout) {
		t.Fatalf("open a layout-1 state store: %v", err)
	}
}

// records lists the revisions of the key's change-log events a reader at
// the newest revision finds, newest first.
func records(t *testing.T, s *Store, ns, key string) []int64 {
	t.Helper()
	txn := s.state.DB().NewTransactionAt(storage.MaxTs, false)
	defer txn.Discard()
	it := txn.NewIterator(badger.IteratorOptions{Prefix: nsPrefix(tagEvent, ns)})
	defer it.Close()
	var out []int64
	for it.Rewind(); it.Valid(); it.Next() {
		_, r, err := splitEventKey(it.Item().Key())
		if err != nil {
			t.Fatal(err)
		}
		err = it.Item().Value(func(v []byte) error {
			_, k, _, err := decodeEventRecord(v)
			if err == nil && string(k) == key {
				out = append([]int64{r.main}, out...)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
