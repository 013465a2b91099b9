package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

// TestCloseWaitsForWatchers: closing the store with watchers running — one
// that reads, one that never does — returns, ends both, and no watcher
// touches Badger after it is closed (its iterators panic then). Found by
// the kv tests: a watch goroutine outlived Close.
func TestCloseWaitsForWatchers(t *testing.T) {
	s := openSingle(t, t.TempDir())
	n := ns(t, s, "kv")
	for i := 0; i < 40; i++ {
		mustPut(t, n, "k", "v")
	}
	reading, err := n.Watch(context.Background(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	stalled, err := n.Watch(context.Background(), "", 1)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		var last error
		for r := range reading {
			if r.Err != nil {
				last = r.Err
			}
		}
		done <- last
	}()
	// Writes keep the readers busy while the store closes.
	go func() {
		for i := 0; i < 200; i++ {
			if _, err := n.Put(context.Background(), "k", []byte("v"), PutOptions{}); err != nil {
				return
			}
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil && !errors.Is(err, errStoreClosed) {
			t.Fatalf("reading watcher ended with %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a reading watcher outlived Close")
	}
	// The stalled watcher's channel is closed too (after what it buffered).
	for range stalled {
	}
	if _, err := n.Watch(context.Background(), "", 0); !errors.Is(err, errStoreClosed) {
		t.Fatalf("watch on a closed store: %v", err)
	}
}
