package store

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/internal/testutil"
)

func TestPutGetRevisions(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")

	r1 := mustPut(t, kv, "a", "1")
	got := mustGet(t, kv, "a", ReadOptions{})
	if string(got.Value) != "1" || got.Version != 1 || got.CreateRevision != r1.Revision || got.ModRevision != r1.Revision {
		t.Fatalf("first put: got %+v, revision %d", got, r1.Revision)
	}
	r2 := mustPut(t, kv, "a", "2")
	if r2.Revision <= r1.Revision {
		t.Fatalf("revision did not advance: %d then %d", r1.Revision, r2.Revision)
	}
	if p := r2.Responses[0].Prev; p == nil || p.ModRevision != r1.Revision || p.Version != 1 || p.CreateRevision != r1.Revision {
		t.Fatalf("put did not describe the previous key: %+v", p)
	}
	got = mustGet(t, kv, "a", ReadOptions{})
	if string(got.Value) != "2" || got.Version != 2 || got.CreateRevision != r1.Revision || got.ModRevision != r2.Revision {
		t.Fatalf("second put: got %+v", got)
	}
	if s.Revision() < r2.Revision {
		t.Fatalf("store revision %d behind write %d", s.Revision(), r2.Revision)
	}
	// Reads at a past revision see the old value.
	old := mustGet(t, kv, "a", ReadOptions{Revision: r1.Revision})
	if string(old.Value) != "1" || old.Version != 1 {
		t.Fatalf("read at %d: got %+v", r1.Revision, old)
	}
	if _, err := kv.Get(ctx(t), "a", ReadOptions{Revision: s.Revision() + 100}); !errors.Is(err, ErrFutureRevision) {
		t.Fatalf("future revision: got %v", err)
	}
	// Delete, then the key is gone but still readable in the past.
	d, err := kv.Delete(ctx(t), "a")
	if err != nil || d.Responses[0].Deleted != 1 {
		t.Fatalf("delete: %v %+v", err, d)
	}
	if _, err := kv.Get(ctx(t), "a", ReadOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: got %v", err)
	}
	if got := mustGet(t, kv, "a", ReadOptions{Revision: r2.Revision}); string(got.Value) != "2" {
		t.Fatalf("read before delete: %+v", got)
	}
	// A re-created key starts at version 1 again.
	r3 := mustPut(t, kv, "a", "3")
	got = mustGet(t, kv, "a", ReadOptions{Serializable: true})
	if got.Version != 1 || got.CreateRevision != r3.Revision {
		t.Fatalf("recreated key: %+v", got)
	}
	d, err = kv.Delete(ctx(t), "missing")
	if err != nil || d.Responses[0].Deleted != 0 {
		t.Fatalf("delete missing: %v %+v", err, d)
	}
}

func TestBadInput(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	if _, err := kv.Put(ctx(t), "", []byte("x"), PutOptions{}); !errors.Is(err, ErrEmptyKey) {
		t.Fatalf("empty key: %v", err)
	}
	if _, err := kv.Put(ctx(t), string(make([]byte, MaxKeySize+1)), nil, PutOptions{}); !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("big key: %v", err)
	}
	if _, err := kv.Put(ctx(t), "k", make([]byte, MaxValueSize+1), PutOptions{}); !errors.Is(err, ErrValueTooLarge) {
		t.Fatalf("big value: %v", err)
	}
	if _, err := s.Namespace("Bad/Name"); !errors.Is(err, ErrBadNamespace) {
		t.Fatalf("bad namespace: %v", err)
	}
	other := ns(t, s, "other")
	op, _ := other.PutOp("k", []byte("v"), PutOptions{})
	if _, err := kv.Txn(ctx(t), nil, []Op{op}, nil); !errors.Is(err, ErrBadNamespace) {
		t.Fatalf("cross-namespace op: %v", err)
	}
}

func TestNamespacesAreIsolated(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	a, b := ns(t, s, "a"), ns(t, s, "b")
	mustPut(t, a, "k", "from-a")
	mustPut(t, b, "k", "from-b")
	if got := mustGet(t, a, "k", ReadOptions{}); string(got.Value) != "from-a" {
		t.Fatalf("a sees %q", got.Value)
	}
	if _, err := b.DeletePrefix(ctx(t), ""); err != nil {
		t.Fatal(err)
	}
	if got := mustGet(t, a, "k", ReadOptions{}); string(got.Value) != "from-a" {
		t.Fatalf("b's delete-all reached a: %q", got.Value)
	}
	list, err := b.List(ctx(t), "", ListOptions{})
	if err != nil || len(list.KVs) != 0 {
		t.Fatalf("b after delete-all: %v %+v", err, list)
	}
	// "ab" must not see "a"'s keys even though "a" is a prefix of "ab".
	ab := ns(t, s, "ab")
	list, err = ab.List(ctx(t), "", ListOptions{})
	if err != nil || len(list.KVs) != 0 {
		t.Fatalf("namespace ab sees %d keys: %v", len(list.KVs), err)
	}
}

func TestListPagination(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	for i := 0; i < 25; i++ {
		mustPut(t, kv, fmt.Sprintf("dir/%02d", i), fmt.Sprint(i))
	}
	mustPut(t, kv, "other", "x")
	var keys []string
	after := ""
	pages := 0
	for {
		page, err := kv.List(ctx(t), "dir/", ListOptions{After: after, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, k := range page.KVs {
			keys = append(keys, k.Key)
		}
		if !page.More {
			break
		}
		after = page.KVs[len(page.KVs)-1].Key
	}
	if len(keys) != 25 || pages != 3 || keys[0] != "dir/00" || keys[24] != "dir/24" {
		t.Fatalf("paged %d keys in %d pages: %v", len(keys), pages, keys)
	}
	cnt, err := kv.List(ctx(t), "dir/", ListOptions{CountOnly: true})
	if err != nil || cnt.Count != 25 {
		t.Fatalf("count: %v %+v", err, cnt)
	}
	ko, err := kv.List(ctx(t), "dir/0", ListOptions{KeysOnly: true})
	if err != nil || len(ko.KVs) != 10 || ko.KVs[0].Value != nil {
		t.Fatalf("keys only: %v %+v", err, ko)
	}
	del, err := kv.DeletePrefix(ctx(t), "dir/")
	if err != nil || del.Responses[0].Deleted != 25 {
		t.Fatalf("delete prefix: %v %+v", err, del)
	}
	if got := mustGet(t, kv, "other", ReadOptions{}); string(got.Value) != "x" {
		t.Fatal("delete prefix removed a key outside the prefix")
	}
}

func TestTxnCompareAndSwap(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	put := func(v string) Op { op, _ := kv.PutOp("k", []byte(v), PutOptions{}); return op }

	// Create only if absent.
	res, err := kv.Txn(ctx(t), []Compare{kv.CmpNumber("k", CompareVersion, Equal, 0)}, []Op{put("first")}, nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("create if absent: %v %+v", err, res)
	}
	res, err = kv.Txn(ctx(t), []Compare{kv.CmpNumber("k", CompareVersion, Equal, 0)}, []Op{put("second")}, nil)
	if err != nil || res.Succeeded {
		t.Fatalf("second create succeeded: %v %+v", err, res)
	}
	// Swap on value.
	res, err = kv.Txn(ctx(t), []Compare{kv.CmpValue("k", Equal, []byte("nope"))}, []Op{put("x")}, nil)
	if err != nil || res.Succeeded {
		t.Fatalf("swap on wrong value: %v %+v", err, res)
	}
	res, err = kv.Txn(ctx(t), []Compare{kv.CmpValue("k", Equal, []byte("first"))}, []Op{put("swapped")}, nil)
	if err != nil || !res.Succeeded {
		t.Fatalf("swap on right value: %v %+v", err, res)
	}
	// Swap on mod revision, with a failure branch.
	cur := mustGet(t, kv, "k", ReadOptions{})
	fail, _ := kv.PutOp("failed", []byte("1"), PutOptions{})
	res, err = kv.Txn(ctx(t), []Compare{kv.CmpNumber("k", CompareModRevision, Equal, cur.ModRevision-1)}, []Op{put("y")}, []Op{fail})
	if err != nil || res.Succeeded {
		t.Fatalf("stale mod revision: %v %+v", err, res)
	}
	if got := mustGet(t, kv, "failed", ReadOptions{}); string(got.Value) != "1" {
		t.Fatal("failure branch did not run")
	}
	if got := mustGet(t, kv, "k", ReadOptions{}); string(got.Value) != "swapped" || got.Version != 2 {
		t.Fatalf("value after CAS: %+v", got)
	}
}

func TestTTLExpiry(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	if _, err := kv.Put(ctx(t), "short", []byte("x"), PutOptions{TTL: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(ctx(t), "renewed", []byte("x"), PutOptions{TTL: 200 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	mustPut(t, kv, "renewed", "no ttl now")
	kvs := mustGet(t, kv, "short", ReadOptions{})
	if kvs.ExpireAt == 0 {
		t.Fatal("ttl not recorded")
	}
	testutil.Eventually(t, 5*time.Second, "short to expire", func() bool {
		_, err := kv.Get(ctx(t), "short", ReadOptions{})
		return errors.Is(err, ErrNotFound)
	})
	time.Sleep(300 * time.Millisecond)
	if got := mustGet(t, kv, "renewed", ReadOptions{}); string(got.Value) != "no ttl now" {
		t.Fatalf("overwritten key expired: %+v", got)
	}
}

func TestWatchExactlyOnceAcrossReconnect(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	start := mustPut(t, kv, "w/0", "0").Revision
	for i := 1; i < 10; i++ {
		mustPut(t, kv, fmt.Sprintf("w/%d", i), fmt.Sprint(i))
	}
	mustPut(t, kv, "elsewhere", "x")
	if _, err := kv.Delete(ctx(t), "w/3"); err != nil {
		t.Fatal(err)
	}

	// Read the first 5 events, "disconnect", then resume after the last one.
	c1, cancel1 := contextWithCancel(t)
	ch, err := kv.Watch(c1, "w/", start)
	if err != nil {
		t.Fatal(err)
	}
	var got []Event
	for len(got) < 5 {
		r := <-ch
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got = append(got, r.Events...)
	}
	cancel1()
	got = got[:5]
	ch2, err := kv.Watch(ctx(t), "w/", got[4].KV.ModRevision+1)
	if err != nil {
		t.Fatal(err)
	}
	go func() { mustPut(t, kv, "w/live", "l") }()
	for len(got) < 12 {
		r := <-ch2
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		got = append(got, r.Events...)
	}
	var desc []string
	for i, ev := range got {
		desc = append(desc, ev.Type.String()+" "+ev.KV.Key)
		if i > 0 && ev.KV.ModRevision <= got[i-1].KV.ModRevision {
			t.Fatalf("events out of order or repeated: %v", desc)
		}
	}
	want := []string{"PUT w/0", "PUT w/1", "PUT w/2", "PUT w/3", "PUT w/4", "PUT w/5", "PUT w/6", "PUT w/7", "PUT w/8", "PUT w/9", "DELETE w/3", "PUT w/live"}
	if fmt.Sprint(desc) != fmt.Sprint(want) {
		t.Fatalf("events:\n got %v\nwant %v", desc, want)
	}
}

func TestCompaction(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	r1 := mustPut(t, kv, "k", "1").Revision
	r2 := mustPut(t, kv, "k", "2").Revision
	if err := s.Compact(ctx(t), r2); err != nil {
		t.Fatal(err)
	}
	if s.CompactedRevision() != r2 {
		t.Fatalf("compacted at %d, want %d", s.CompactedRevision(), r2)
	}
	if _, err := kv.Get(ctx(t), "k", ReadOptions{Revision: r1}); !errors.Is(err, ErrCompacted) {
		t.Fatalf("read below compaction: %v", err)
	}
	if _, err := kv.Watch(ctx(t), "", r1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("watch below compaction: %v", err)
	}
	if got := mustGet(t, kv, "k", ReadOptions{Revision: r2}); string(got.Value) != "2" {
		t.Fatalf("read at compaction point: %+v", got)
	}
	if err := s.Compact(ctx(t), r1); !errors.Is(err, ErrCompacted) {
		t.Fatalf("compact backwards: %v", err)
	}
}

func TestRestartKeepsData(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	kv := ns(t, s, "kv")
	var last int64
	for i := 0; i < 50; i++ {
		last = mustPut(t, kv, fmt.Sprintf("k%02d", i), fmt.Sprint(i)).Revision
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSingle(t, dir)
	defer s.Close()
	kv = ns(t, s, "kv")
	if s.Revision() < last {
		t.Fatalf("revision after restart %d < %d", s.Revision(), last)
	}
	list, err := kv.List(ctx(t), "k", ListOptions{})
	if err != nil || len(list.KVs) != 50 {
		t.Fatalf("after restart: %v, %d keys", err, len(list.KVs))
	}
	r := mustPut(t, kv, "k00", "again")
	if r.Revision <= last {
		t.Fatalf("revision went backwards after restart: %d <= %d", r.Revision, last)
	}
	if got := mustGet(t, kv, "k00", ReadOptions{}); got.Version != 2 {
		t.Fatalf("version after restart: %+v", got)
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := openSingle(t, "")
	kv := ns(t, s, "kv")
	for i := 0; i < 100; i++ {
		mustPut(t, kv, fmt.Sprintf("k%03d", i), fmt.Sprint(i))
	}
	rev := s.Revision()
	var buf bytes.Buffer
	if err := s.sm.WriteSnapshot(ctx(t), &buf, uint64(rev)); err != nil {
		t.Fatal(err)
	}
	mustPut(t, kv, "after", "snapshot")
	s.Close()

	other := openSingle(t, "")
	defer other.Close()
	other.Raft().Stop() // restore needs a quiet state machine
	if err := other.sm.RestoreSnapshot(&buf, uint64(rev)); err != nil {
		t.Fatal(err)
	}
	if other.Revision() != rev {
		t.Fatalf("restored revision %d, want %d", other.Revision(), rev)
	}
	okv := ns(t, other, "kv")
	list, err := okv.List(ctx(t), "k", ListOptions{Serializable: true})
	if err != nil || len(list.KVs) != 100 {
		t.Fatalf("restored keys: %v, %d", err, len(list.KVs))
	}
	if _, err := okv.Get(ctx(t), "after", ReadOptions{Serializable: true}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a write after the snapshot leaked into it: %v", err)
	}
}

// A delete-prefix of many keys is one revision; a watch response never
// splits a revision, so resuming after a response's revision loses nothing.
func TestWatchNeverSplitsARevision(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	kv := ns(t, s, "kv")
	var ops []Op
	for i := 0; i < 300; i++ {
		op, _ := kv.PutOp(fmt.Sprintf("big/%03d", i), []byte("v"), PutOptions{})
		ops = append(ops, op)
	}
	res, err := kv.Txn(ctx(t), nil, ops, nil)
	if err != nil {
		t.Fatal(err)
	}
	del, err := kv.DeletePrefix(ctx(t), "big/")
	if err != nil {
		t.Fatal(err)
	}
	ch, err := kv.Watch(ctx(t), "big/", res.Revision)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]int{}
	for total := 0; total < 600; {
		r := <-ch
		if r.Err != nil {
			t.Fatal(r.Err)
		}
		for _, ev := range r.Events {
			seen[ev.KV.ModRevision]++
			if ev.KV.ModRevision > r.Revision {
				t.Fatalf("response at revision %d carries an event of %d", r.Revision, ev.KV.ModRevision)
			}
		}
		last := r.Events[len(r.Events)-1].KV.ModRevision
		if seen[last] != 300 {
			t.Fatalf("a response ended inside revision %d (%d of 300 events)", last, seen[last])
		}
		total += len(r.Events)
	}
	if seen[res.Revision] != 300 || seen[del.Revision] != 300 {
		t.Fatalf("events per revision: %v", seen)
	}
}

// OpAppend writes readable keys without change-log events.
func TestAppendOpWritesWithoutHistory(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	log := ns(t, s, "applog")
	start := s.Revision() + 1
	op := mustOp(t)
	var ops []Op
	for i := 0; i < 3; i++ {
		ops = append(ops, op(log.AppendOp(fmt.Sprintf("e/%d", i), []byte(fmt.Sprint(i)))))
	}
	res := mustTxn(t, log, ops...)
	got := mustGet(t, log, "e/1", ReadOptions{})
	if string(got.Value) != "1" || got.Version != 1 || got.CreateRevision != res.Revision {
		t.Fatalf("appended key: %+v", got)
	}
	mustPut(t, log, "marker", "m")
	var types []string
	err := s.sm.events("applog", nil, start-1, s.Revision(), func(ev Event) bool {
		types = append(types, ev.Type.String()+" "+ev.KV.Key)
		return true
	})
	if err != nil || len(types) != 1 || types[0] != "PUT marker" {
		t.Fatalf("change log after appends: %v %v", types, err)
	}
	trim, _ := log.TrimOp("e/0")
	if _, err := log.Txn(ctx(t), nil, []Op{trim}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := log.Get(ctx(t), "e/0", ReadOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("trimmed key: %v", err)
	}
	if list, _ := log.List(ctx(t), "e/", ListOptions{}); len(list.KVs) != 2 {
		t.Fatalf("after trim: %d keys", len(list.KVs))
	}
}

// Apply appends a live key's writes to the history the key index keeps a
// pointer to, not looking it up in the revision index again. A key deleted
// and compacted away loses its history there, and one put after that must
// start a new history that reads find; so must the histories rebuilt at a
// restart.
func TestKeyHistoryAcrossDeleteCompactAndRestart(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	kv := ns(t, s, "kv")
	mustPut(t, kv, "k", "1")
	del, err := kv.Delete(ctx(t), "k")
	if err != nil {
		t.Fatal(err)
	}
	mustPut(t, kv, "other", "x")
	if err := s.Compact(ctx(t), s.Revision()); err != nil {
		t.Fatal(err)
	}
	if n := s.sm.revs.Load().len(); n != 1 {
		t.Fatalf("revision index holds %d keys after compacting the delete at %d, want 1", n, del.Revision)
	}
	r2 := mustPut(t, kv, "k", "2").Revision
	r3 := mustPut(t, kv, "k", "3").Revision
	check := func(when string) {
		t.Helper()
		for _, c := range []struct {
			rev  int64
			want string
		}{{r2, "2"}, {r3, "3"}, {0, "3"}} {
			got := mustGet(t, kv, "k", ReadOptions{Revision: c.rev})
			if string(got.Value) != c.want {
				t.Fatalf("%s: k at %d = %q, want %q", when, c.rev, got.Value, c.want)
			}
		}
	}
	check("after the key came back")
	_, kv = reopen(t, s, dir, "kv")
	check("after a restart")
	r4 := mustPut(t, kv, "k", "4").Revision
	if got := mustGet(t, kv, "k", ReadOptions{Revision: r4}); string(got.Value) != "4" || got.Version != 3 {
		t.Fatalf("put after restart: %+v", got)
	}
	if got := mustGet(t, kv, "k", ReadOptions{Revision: r3}); string(got.Value) != "3" {
		t.Fatalf("history lost by a put after restart: %+v", got)
	}
}

// One transaction writes a key over, deletes it and creates it again: each
// op sees the ones before it (one batch, the key index updated in place),
// and the index rebuilt at a restart agrees.
func TestOneBatchWritesAKeyRepeatedly(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	kv := ns(t, s, "kv")
	r0 := mustPut(t, kv, "k", "0").Revision
	op := mustOp(t)
	put := func(v string) Op { return op(kv.PutOp("k", []byte(v), PutOptions{})) }
	res := mustTxn(t, kv, put("1"), put("2"), op(kv.DeleteOp("k")), put("3"), put("4"))
	r := res.Revision
	wantPrev := []int64{1, 2, 3, 0, 1} // the version each op found; 0: none
	for i, w := range wantPrev {
		p := res.Responses[i].Prev
		if (w == 0) != (p == nil) || (p != nil && p.Version != w) {
			t.Fatalf("op %d found %+v, want version %d", i, p, w)
		}
	}
	check := func(when string) {
		t.Helper()
		got := mustGet(t, kv, "k", ReadOptions{})
		if string(got.Value) != "4" || got.Version != 2 || got.CreateRevision != r || got.ModRevision != r {
			t.Fatalf("%s: k = %+v, want value 4, version 2, created and modified at %d", when, got, r)
		}
		if old := mustGet(t, kv, "k", ReadOptions{Revision: r0}); string(old.Value) != "0" {
			t.Fatalf("%s: k at %d = %+v, want 0", when, r0, old)
		}
	}
	check("after the transaction")
	_, kv = reopen(t, s, dir, "kv")
	check("after a restart")
	if got := mustPut(t, kv, "k", "5").Responses[0].Prev; got == nil || got.Version != 2 || got.CreateRevision != r {
		t.Fatalf("put after restart found %+v", got)
	}
}
