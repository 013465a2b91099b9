package store

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestEventMarks(t *testing.T) {
	var m eventMarks
	m.reset(10)
	if !m.mayHaveAfter("a", nil, 9) || m.mayHaveAfter("a", nil, 10) || !m.mayHaveAfter("a", []byte("x"), 9) {
		t.Fatal("the floor: every namespace and prefix may hold events up to it, none above")
	}
	m.note("a", []byte("k"), 12)
	if m.mayHaveAfter("a", nil, 10) {
		t.Fatal("a noted event is visible before publish")
	}
	m.drop()
	m.publish()
	if m.mayHaveAfter("a", nil, 10) || m.mayHaveAfter("a", []byte("k"), 10) {
		t.Fatal("a dropped event was published")
	}
	m.note("a", []byte("k"), 13)
	m.publish()
	if !m.mayHaveAfter("a", nil, 12) || m.mayHaveAfter("a", nil, 13) || m.mayHaveAfter("b", nil, 10) {
		t.Fatal("after publish: a has events up to 13, b none above the floor")
	}
	m.reset(20)
	if !m.mayHaveAfter("b", nil, 19) || m.mayHaveAfter("a", nil, 20) {
		t.Fatal("reset (a snapshot restore) raises the floor for every namespace")
	}
}

// TestEventMarksPrefix: within a namespace the marks tell prefixes apart
// by the keys' first markDepth bytes, and never miss a prefix's event.
func TestEventMarksPrefix(t *testing.T) {
	var m eventMarks
	m.reset(10)
	m.note("kv", []byte("v3/foo"), 11)
	m.note("kv", []byte("v"), 11)
	m.note("kv", []byte("app"), 12)
	m.publish()
	for _, c := range []struct {
		prefix string
		may    bool
	}{
		{"", true}, {"v", true}, {"v3", true}, {"v3/", true}, {"v3/f", true}, {"v3/foo", true},
		{"v3/fox", true}, // past markDepth: the same bucket as v3/foo
		{"v2", false}, {"v3/g", false}, {"w", false}, {"a", true}, {"ap", true}, {"app/", false},
	} {
		if got := m.mayHaveAfter("kv", []byte(c.prefix), 10); got != c.may {
			t.Errorf("prefix %q: mayHaveAfter %v, want %v", c.prefix, got, c.may)
		}
	}
	if m.mayHaveAfter("kv", []byte("v3/foo"), 11) || !m.mayHaveAfter("kv", []byte("a"), 11) || m.mayHaveAfter("other", []byte("v"), 10) {
		t.Fatal("a prefix's mark is its newest event's revision, per namespace")
	}
	// A later Apply with an older revision for a bucket (not possible, but
	// publish must not lower a mark) and one that fails.
	m.note("kv", []byte("v3/foo"), 11)
	m.publish()
	m.note("kv", []byte("w"), 13)
	m.drop()
	m.publish()
	if !m.mayHaveAfter("kv", []byte("app"), 11) || m.mayHaveAfter("kv", []byte("w"), 10) || m.mayHaveAfter("kv", nil, 12) {
		t.Fatal("publish lowered a mark or published a dropped one")
	}

	// Against the truth, random keys and prefixes over a small alphabet
	// (so they share first bytes): a prefix that has an event above rev
	// is always reported.
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = "ab/"[rng.IntN(3)]
		}
		return b
	}
	m.reset(0)
	var keys [][]byte
	var revs []int64
	for rev := int64(1); rev <= 300; rev++ {
		for range 1 + rng.IntN(3) {
			k := word(1 + rng.IntN(6))
			m.note("kv", k, rev)
			keys, revs = append(keys, k), append(revs, rev)
		}
		if rng.IntN(4) > 0 {
			m.publish()
		} else {
			m.drop()
			for len(revs) > 0 && revs[len(revs)-1] == rev {
				keys, revs = keys[:len(keys)-1], revs[:len(revs)-1]
			}
		}
		for range 20 {
			p, after := word(rng.IntN(7)), rng.Int64N(rev+1)
			want := false
			for i, k := range keys {
				want = want || revs[i] > after && bytes.HasPrefix(k, p)
			}
			if want && !m.mayHaveAfter("kv", p, after) {
				t.Fatalf("prefix %q has an event above %d; the marks say none", p, after)
			}
		}
	}
}

func TestEventHasPrefix(t *testing.T) {
	rec := &record{value: []byte("v")}
	b := encodeEvent(EventPut, []byte("app/x"), rec)
	if !eventHasPrefix(b, []byte("app/")) || eventHasPrefix(b, []byte("other/")) {
		t.Fatal("prefix of the event's key")
	}
	if !eventHasPrefix(b[:3], []byte("other/")) {
		t.Fatal("a corrupt event must reach decodeEvent, which reports it")
	}
}

// watchEvents receives n events from ch, and no more.
func watchEvents(t *testing.T, ch <-chan WatchResponse, n int) []Event {
	t.Helper()
	var got []Event
	deadline := time.After(10 * time.Second)
	for len(got) < n {
		select {
		case r, ok := <-ch:
			if !ok {
				t.Fatalf("watch ended after %d events, want %d", len(got), n)
			}
			if r.Err != nil {
				t.Fatal(r.Err)
			}
			got = append(got, r.Events...)
		case <-deadline:
			t.Fatalf("got %d events, want %d", len(got), n)
		}
	}
	if len(got) > n {
		t.Fatalf("got %d events, want %d", len(got), n)
	}
	return got
}

// wantKeys receives the events of keys, in order, from ch.
func wantKeys(t *testing.T, ch <-chan WatchResponse, keys ...string) {
	t.Helper()
	var got []string
	for _, ev := range watchEvents(t, ch, len(keys)) {
		got = append(got, ev.KV.Key)
	}
	if fmt.Sprint(got) != fmt.Sprint(keys) {
		t.Fatalf("got %v, want %v", got, keys)
	}
}

// TestWatchIdleNamespace: a watcher of a namespace nobody writes to skips
// the change-log reads other namespaces' writes would cost, and still
// gets its own namespace's history and new events, also after a restart
// (the marks start over from the applied index).
func TestWatchIdleNamespace(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	a, b := ns(t, s, "a"), ns(t, s, "b")
	first := mustPut(t, b, "b/first", "1").Revision

	live, err := b.Watch(ctx(t), "", 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		mustPut(t, a, fmt.Sprintf("a/%d", i), "x")
	}
	last := mustPut(t, b, "b/second", "2").Revision
	want := func(ch <-chan WatchResponse, keys ...string) {
		t.Helper()
		wantKeys(t, ch, keys...)
	}
	want(live, "b/second")
	hist, err := b.Watch(ctx(t), "", first)
	if err != nil {
		t.Fatal(err)
	}
	want(hist, "b/first", "b/second")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openSingle(t, dir)
	defer s.Close()
	b = ns(t, s, "b")
	again, err := b.Watch(ctx(t), "", first)
	if err != nil {
		t.Fatal(err)
	}
	want(again, "b/first", "b/second")
	if r := mustPut(t, ns(t, s, "b"), "b/third", "3").Revision; r <= last {
		t.Fatalf("revision %d after %d", r, last)
	}
	want(again, "b/third")
}

// TestRestoreResetsMarksBeforeApplied: a snapshot restore publishes its
// applied index only once the marks say every namespace may hold events
// up to it; a watcher that saw the new index first skipped the history
// the snapshot brought (seen as a hung watch on a node that joined by
// snapshot).
func TestRestoreResetsMarksBeforeApplied(t *testing.T) {
	s := openSingle(t, "")
	kv := ns(t, s, "kv")
	for i := range 60 {
		var ops []Op
		for j := range 100 {
			op, _ := kv.PutOp(fmt.Sprintf("k%02d-%02d", i, j), []byte("v"), PutOptions{})
			ops = append(ops, op)
		}
		if _, err := kv.Txn(ctx(t), nil, ops, nil); err != nil {
			t.Fatal(err)
		}
	}
	rev := s.Revision()
	var snap bytes.Buffer
	if err := s.sm.WriteSnapshot(ctx(t), &snap, uint64(rev)); err != nil {
		t.Fatal(err)
	}
	s.Close()

	dir := t.TempDir()
	other := openSingle(t, dir)
	other.Raft().Stop()
	other.Close()
	sm, _ := openStateMachine(t, dir)
	done := make(chan struct{})
	unmarked := make(chan int64, 1)
	go func() {
		defer close(unmarked)
		for {
			select {
			case <-done:
				return
			default:
			}
			// A watcher's order: the applied index, then the marks.
			if cur := sm.revision(); cur >= rev && (!sm.marks.mayHaveAfter("kv", nil, rev-1) || !sm.marks.mayHaveAfter("kv", []byte("k5"), rev-1)) {
				unmarked <- cur
				return
			}
		}
	}()
	if err := sm.RestoreSnapshot(bytes.NewReader(snap.Bytes()), uint64(rev)); err != nil {
		t.Fatal(err)
	}
	close(done)
	if cur, ok := <-unmarked; ok {
		t.Fatalf("applied index %d visible while the marks said namespace kv had no events", cur)
	}
	if !sm.marks.mayHaveAfter("kv", nil, rev-1) || !sm.marks.mayHaveAfter("kv", []byte("k59-9"), rev-1) {
		t.Fatal("after the restore the marks do not cover the snapshot's events")
	}
}

// TestWatchIdlePrefix: a watcher of one prefix skips the change-log reads
// the writes to other prefixes of its namespace would cost (the KV
// module's watcher of "v2" under a load of "v3/" puts), and still gets
// every event under its prefix exactly once and in order: interleaved
// with other keys, several in one transaction or one Apply, and after a
// restart. A watcher of the whole namespace still gets them all.
func TestWatchIdlePrefix(t *testing.T) {
	dir := t.TempDir()
	s := openSingle(t, dir)
	kv := ns(t, s, "kv")
	reads := func() int64 { return s.sm.marks.watchReads.Load() }
	watch := func(prefix string, from int64) <-chan WatchResponse {
		t.Helper()
		ch, err := kv.Watch(ctx(t), prefix, from)
		if err != nil {
			t.Fatal(err)
		}
		return ch
	}
	first := mustPut(t, kv, "b/first", "1").Revision

	b, v2 := watch("b", 0), watch("v2", 0)
	before := reads()
	for i := range 50 {
		mustPut(t, kv, fmt.Sprintf("a/%d", i), "x")
		mustPut(t, kv, fmt.Sprintf("v3/%d", i), "x")
	}
	mustPut(t, kv, "b/second", "2")
	mustPut(t, kv, "v2/x", "2")
	wantKeys(t, b, "b/second")
	wantKeys(t, v2, "v2/x")
	if n := reads() - before; n != 2 {
		t.Fatalf("%d change-log reads for one event under each watched prefix, want 2", n)
	}

	// Interleaved writes: transactions mixing the prefixes, deletes, and
	// concurrent puts that raft applies several at a time.
	all := watch("", 0)
	var written []string
	for i := range 20 {
		var ops []Op
		for _, k := range []string{"a/%d", "b/%d", "v3/%d", "b/%d/x"} {
			k = fmt.Sprintf(k, i)
			op, err := kv.PutOp(k, []byte("t"), PutOptions{})
			if err != nil {
				t.Fatal(err)
			}
			ops, written = append(ops, op), append(written, k)
		}
		if i%4 == 0 {
			op, _ := kv.DeleteOp(fmt.Sprintf("b/%d", i-1))
			if i == 0 {
				op, _ = kv.DeleteOp("b/first")
			}
			ops, written = append(ops, op), append(written, string(op.Key))
		}
		if _, err := kv.Txn(ctx(t), nil, ops, nil); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				k := fmt.Sprintf("%c/c%d-%d", "ab"[(g+i)%2], g, i)
				if _, err := kv.Put(context.Background(), k, []byte("c"), PutOptions{}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	for g := range 4 {
		for i := range 25 {
			written = append(written, fmt.Sprintf("%c/c%d-%d", "ab"[(g+i)%2], g, i))
		}
	}
	mustPut(t, kv, "b/end", "e")
	written = append(written, "b/end")

	gotAll := watchEvents(t, all, len(written))
	var keys []string
	var wantB []Event
	for i, ev := range gotAll {
		if i > 0 && ev.KV.ModRevision < gotAll[i-1].KV.ModRevision {
			t.Fatalf("event %d at revision %d after %d", i, ev.KV.ModRevision, gotAll[i-1].KV.ModRevision)
		}
		keys = append(keys, ev.KV.Key)
		if strings.HasPrefix(ev.KV.Key, "b") {
			wantB = append(wantB, ev)
		}
	}
	slices.Sort(keys)
	slices.Sort(written)
	if !slices.Equal(keys, written) {
		t.Fatalf("the namespace's watcher got %v, want %v", keys, written)
	}
	same := func(what string, got, want []Event) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%s got\n%v\nwant\n%v", what, got, want)
		}
	}
	same("the prefix watcher", watchEvents(t, b, len(wantB)), wantB)
	wantB = append([]Event{{Type: EventPut, KV: *mustGet(t, kv, "b/second", ReadOptions{})}}, wantB...)
	wantB = append([]Event{{Type: EventPut, KV: KV{Key: "b/first", Value: []byte("1"), CreateRevision: first, ModRevision: first, Version: 1}}}, wantB...)
	hist := watch("b", first)
	same("the prefix watcher from history", watchEvents(t, hist, len(wantB)), wantB)
	// Nothing more than that: the next event each gets is the next write.
	mustPut(t, kv, "b/next", "n")
	for _, ch := range []<-chan WatchResponse{all, b, hist} {
		wantKeys(t, ch, "b/next")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// After a restart the marks start over from the applied index (the
	// floor): the history is all there, and other prefixes' writes above
	// it are skipped again.
	s = openSingle(t, dir)
	defer s.Close()
	kv = ns(t, s, "kv")
	wantB = append(wantB, Event{Type: EventPut, KV: *mustGet(t, kv, "b/next", ReadOptions{})})
	hist = watch("b", first)
	same("the prefix watcher after a restart", watchEvents(t, hist, len(wantB)), wantB)
	live := watch("b", 0)
	before = reads()
	for i := range 30 {
		mustPut(t, kv, fmt.Sprintf("a/r%d", i), "x")
	}
	mustPut(t, kv, "b/third", "3")
	wantKeys(t, hist, "b/third")
	wantKeys(t, live, "b/third")
	if n := reads() - before; n != 2 {
		t.Fatalf("%d change-log reads after the restart for one event under two watchers' prefix, want 2", n)
	}
}
