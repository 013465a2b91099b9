package raft

import (
	"context"
	"testing"
	"time"
)

// Every context handed out leaves a request at least the timeout and at
// most the timeout plus one step; requests of the same moment share one.
func TestSharedDeadlinesBoundEachRequest(t *testing.T) {
	const timeout = 200 * time.Millisecond
	d := newSharedDeadlines(context.Background(), timeout)
	if d.step != timeout/16 {
		t.Fatalf("step %v, want %v", d.step, timeout/16)
	}
	var first context.Context
	contexts := map[context.Context]bool{}
	for start := time.Now(); time.Since(start) < 4*d.step; {
		before := time.Now()
		ctx := d.get()
		after := time.Now()
		dl, ok := ctx.Deadline()
		if !ok {
			t.Fatal("shared context without a deadline")
		}
		// get reads the clock between before and after.
		if left := dl.Sub(before); left < timeout {
			t.Fatalf("handed a context with %v left, want at least %v", left, timeout)
		}
		if most := dl.Sub(after); most > timeout+d.step {
			t.Fatalf("handed a context ending %v after the request began, want at most %v", most, timeout+d.step)
		}
		if first == nil {
			first = ctx
		}
		contexts[ctx] = true
		time.Sleep(d.step / 8)
	}
	if len(contexts) < 2 || len(contexts) > 8 {
		t.Fatalf("%d distinct contexts over 4 steps, want a handful shared by many requests", len(contexts))
	}
	select {
	case <-first.Done():
	case <-time.After(5 * timeout):
		t.Fatal("the first shared context never ended")
	}
}

// Ending the parent (a node stopping) ends the shared context at once.
func TestSharedDeadlinesEndWithParent(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	d := newSharedDeadlines(parent, time.Hour)
	ctx := d.get()
	cancel()
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("shared context outlived its parent")
	}
}

func TestSharedDeadlinesStep(t *testing.T) {
	for _, c := range []struct{ timeout, step time.Duration }{
		{5 * time.Second, 5 * time.Second / 16},
		{time.Minute, 500 * time.Millisecond},
		{time.Millisecond, time.Millisecond},
	} {
		if got := newSharedDeadlines(context.Background(), c.timeout).step; got != c.step {
			t.Errorf("timeout %v: step %v, want %v", c.timeout, got, c.step)
		}
	}
}
