package raft

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// sharedDeadlines bounds requests by the request timeout without a timer
// and a derived context per request: every request that starts within one
// step shares a context ending timeout+step after the first of them began,
// so each is bounded between timeout and timeout+step. At thousands of
// writes a second a context.WithTimeout per proposal (its timer, its
// registration with the caller's context and its cancel) cost 4 % of a
// node's CPU.
type sharedDeadlines struct {
	parent  context.Context
	timeout time.Duration
	step    time.Duration

	cur atomic.Pointer[sharedDeadline]
	mu  sync.Mutex // serialises making a new one
}

type sharedDeadline struct {
	ctx context.Context
	// cancel is never called before the deadline: the context's timer
	// ends it, and the parent (the node's runtime) on Stop.
	cancel context.CancelFunc
	// handOutUntil is when requests stop getting this one: later ones
	// would have less than timeout left.
	handOutUntil time.Time
}

// newSharedDeadlines makes contexts under parent; step is a sixteenth of
// timeout, at least a millisecond and at most half a second.
func newSharedDeadlines(parent context.Context, timeout time.Duration) *sharedDeadlines {
	step := min(max(timeout/16, time.Millisecond), 500*time.Millisecond)
	return &sharedDeadlines{parent: parent, timeout: timeout, step: step}
}

// get returns a context that ends at least timeout from now and at most
// timeout+step from now (or when parent ends).
func (d *sharedDeadlines) get() context.Context {
	now := time.Now()
	if c := d.cur.Load(); c != nil && now.Before(c.handOutUntil) {
		return c.ctx
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if c := d.cur.Load(); c != nil && now.Before(c.handOutUntil) {
		return c.ctx
	}
	ctx, cancel := context.WithDeadline(d.parent, now.Add(d.timeout+d.step))
	d.cur.Store(&sharedDeadline{ctx: ctx, cancel: cancel, handOutUntil: now.Add(d.step)})
	return ctx
}

// bound is how long a request may wait: rctx is the context to hand raft
// (the caller's when its own deadline comes before the request timeout,
// otherwise a shared one), expired is closed when the request timeout has
// passed, nil when the caller's deadline is the bound. A waiter selects on
// the caller's ctx.Done() and expired.
func (n *Node) bound(ctx context.Context) (rctx context.Context, expired <-chan struct{}) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < n.cfg.RequestTimeout {
		return ctx, nil
	}
	shared := n.deadlines.get()
	return shared, shared.Done()
}

// expiredErr is the error of a request whose shared context ended: the
// node stopping, or the request timeout.
func (n *Node) expiredErr() error {
	select {
	case <-n.stopc:
		return ErrStopped
	default:
		return ErrTimeout
	}
}
