package store

import (
	"bytes"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/storage"
)

func TestEventMarks(t *testing.T) {
	var m eventMarks
	m.reset(10)
	if !m.mayHaveAfter("a", 9) || m.mayHaveAfter("a", 10) {
		t.Fatal("the floor: every namespace may hold events up to it, none above")
	}
	m.note("a", 12)
	if m.mayHaveAfter("a", 10) {
		t.Fatal("a noted event is visible before publish")
	}
	m.drop()
	m.publish()
	if m.mayHaveAfter("a", 10) {
		t.Fatal("a dropped event was published")
	}
	m.note("a", 13)
	m.publish()
	if !m.mayHaveAfter("a", 12) || m.mayHaveAfter("a", 13) || m.mayHaveAfter("b", 10) {
		t.Fatal("after publish: a has events up to 13, b none above the floor")
	}
	m.reset(20)
	if !m.mayHaveAfter("b", 19) || m.mayHaveAfter("a", 20) {
		t.Fatal("reset (a snapshot restore) raises the floor for every namespace")
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
		var got []string
		deadline := time.After(10 * time.Second)
		for len(got) < len(keys) {
			select {
			case r := <-ch:
				if r.Err != nil {
					t.Fatal(r.Err)
				}
				for _, ev := range r.Events {
					got = append(got, ev.KV.Key)
				}
			case <-deadline:
				t.Fatalf("got %v, want %v", got, keys)
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(keys) {
			t.Fatalf("got %v, want %v", got, keys)
		}
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
	st, err := storage.OpenStateDB(filepath.Join(dir, "state"), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	sm, err := newStateMachine(st, testLogger())
	if err != nil {
		t.Fatal(err)
	}
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
			if cur := sm.revision(); cur >= rev && !sm.marks.mayHaveAfter("kv", rev-1) {
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
	if !sm.marks.mayHaveAfter("kv", rev-1) {
		t.Fatal("after the restore the marks do not cover the snapshot's events")
	}
}
