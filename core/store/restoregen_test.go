package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"
)

// pausingReader hands out its first n bytes, then blocks until release
// closes: a snapshot restore held part-way through its load, after the
// old state was dropped.
type pausingReader struct {
	r        io.Reader
	n        int
	paused   chan struct{}
	release  chan struct{}
	pauseOne sync.Once
}

func (p *pausingReader) Read(b []byte) (int, error) {
	if p.n <= 0 {
		p.pauseOne.Do(func() { close(p.paused) })
		<-p.release
		return p.r.Read(b)
	}
	if len(b) > p.n {
		b = b[:p.n]
	}
	n, err := p.r.Read(b)
	p.n -= n
	return n, err
}

// TestReadsDuringSnapshotRestore: reads that arrive while a snapshot
// restore is part-way through its load see the restored state once it is
// whole, never the half-loaded one. Before, a get found the key in the
// old index and read a record the restore had already dropped (or
// another key's, at the same revision).
func TestReadsDuringSnapshotRestore(t *testing.T) {
	// The snapshot: a store where every k/i is "new-i", with more
	// revisions than the member that restores it.
	src := openSingle(t, "")
	srcKV := ns(t, src, "kv")
	for i := range 300 {
		mustPut(t, srcKV, fmt.Sprintf("k/%03d", i), fmt.Sprintf("new-%d", i))
	}
	for i := range 300 {
		mustPut(t, srcKV, fmt.Sprintf("pad/%03d", i), "x")
	}
	rev := src.Revision()
	var stream bytes.Buffer
	if err := src.sm.WriteSnapshot(ctx(t), &stream, uint64(rev)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for i := range 300 {
		want[fmt.Sprintf("k/%03d", i)] = fmt.Sprintf("new-%d", i)
	}
	src.Close()

	// The member: the same keys, "old-i", at other revisions.
	dir := t.TempDir()
	dst := openSingle(t, dir)
	dstKV := ns(t, dst, "kv")
	for i := range 300 {
		mustPut(t, dstKV, fmt.Sprintf("k/%03d", 299-i), fmt.Sprintf("old-%d", 299-i))
	}
	dst.Close()
	sm, _ := openStateMachine(t, dir)

	pr := &pausingReader{r: bytes.NewReader(stream.Bytes()), n: stream.Len() / 2, paused: make(chan struct{}), release: make(chan struct{})}
	restored := make(chan error, 1)
	go func() { restored <- sm.RestoreSnapshot(pr, uint64(rev)) }()
	select {
	case <-pr.paused:
	case err := <-restored:
		t.Fatalf("restore ended before its pause: %v", err)
	}

	type got struct {
		what string
		err  error
	}
	results := make(chan got, 4)
	go func() {
		kv, _, err := sm.get("kv", []byte("k/007"), 0)
		if err == nil && string(kv.Value) != want["k/007"] {
			err = fmt.Errorf("value %q, want %q", kv.Value, want["k/007"])
		}
		results <- got{"get", err}
	}()
	go func() {
		res, err := sm.list("kv", []byte("k/"), ListOptions{})
		if err == nil {
			err = sameKVs(res.KVs, want)
		}
		results <- got{"list", err}
	}()
	go func() {
		var evs []Event
		err := sm.events("kv", []byte("k/"), 0, rev, func(ev Event) bool { evs = append(evs, ev); return true })
		if err == nil && len(evs) != 300 {
			err = fmt.Errorf("%d events of k/, want the snapshot's 300", len(evs))
		}
		results <- got{"events", err}
	}()
	// Give the readers time to reach the paused restore; a reader that
	// got ahead of it would answer from the half-loaded state.
	time.Sleep(100 * time.Millisecond)
	close(pr.release)
	if err := <-restored; err != nil {
		t.Fatalf("restore: %v", err)
	}
	for range 3 {
		select {
		case r := <-results:
			if r.err != nil {
				t.Errorf("%s during the restore: %v", r.what, r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a reader still waits after the restore ended")
		}
	}
}

func sameKVs(kvs []*KV, want map[string]string) error {
	if len(kvs) != len(want) {
		return fmt.Errorf("%d keys, want %d", len(kvs), len(want))
	}
	for _, kv := range kvs {
		if want[kv.Key] != string(kv.Value) {
			return fmt.Errorf("%s = %q, want %q", kv.Key, kv.Value, want[kv.Key])
		}
	}
	return nil
}

// TestEventsOverlappedByRestore: a change-log read that a restore
// overlaps fails with errRestored rather than ending early.
func TestEventsOverlappedByRestore(t *testing.T) {
	s := openSingle(t, "")
	defer s.Close()
	n := ns(t, s, "kv")
	for i := range 5 {
		mustPut(t, n, fmt.Sprint(i), "v")
	}
	var end func()
	seen := 0
	err := s.sm.events("kv", nil, 0, s.Revision(), func(Event) bool {
		seen++
		if seen == 2 {
			end = s.sm.beginRestore() // a restore starts mid-read
		}
		return true
	})
	end()
	if !errors.Is(err, errRestored) || seen != 2 {
		t.Fatalf("events overlapped after 2 of 5: err %v after %d events; want errRestored after 2", err, seen)
	}
}
