package plugin

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
)

// pool holds a plugin's instances: at most max live at once, idle ones
// ready in a channel. A Go plugin takes milliseconds to instantiate, so
// instances are long-lived and reused; the pool is warmed at load and an
// instance that is discarded is replaced in the background, so callers
// rarely wait for a start.
type pool struct {
	p      *Plugin
	idle   chan *instance
	slots  chan struct{} // one token per live instance
	closed chan struct{}
	nextID atomic.Uint64
	// discarded counts instances thrown away (tests and stats).
	discarded atomic.Int64
	// refills tracks background replacements, so close can wait for them
	// before the runtime goes away.
	refills sync.WaitGroup
}

func newPool(p *Plugin, max int) *pool {
	return &pool{
		p:      p,
		idle:   make(chan *instance, max),
		slots:  make(chan struct{}, max),
		closed: make(chan struct{}),
	}
}

// warm starts n instances before the first call.
func (pl *pool) warm(ctx context.Context, n int) error {
	for i := 0; i < n; i++ {
		select {
		case pl.slots <- struct{}{}:
		default:
			return nil
		}
		in, err := pl.p.newInstance(ctx)
		if err != nil {
			<-pl.slots
			return err
		}
		in.idle()
		pl.idle <- in
	}
	return nil
}

// get hands out an instance for one call sequence: an idle one, else a
// new one while under the bound, else the next one returned.
func (pl *pool) get(ctx context.Context) (*instance, error) {
	select {
	case in := <-pl.idle:
		return pl.take(in)
	default:
	}
	select {
	case in := <-pl.idle:
		return pl.take(in)
	case pl.slots <- struct{}{}:
		in, err := pl.p.newInstance(ctx)
		if err != nil {
			<-pl.slots
			return nil, err
		}
		return in, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("plugin %s: waiting for a free instance: %w", pl.p.name, ctx.Err())
	case <-pl.closed:
		return nil, fmt.Errorf("plugin %s: %w", pl.p.name, ErrClosed)
	}
}

// take marks an instance from the idle set in use. Its memory is gone
// only if a forced close closed the runtime after the instance left the
// set: the plugin is closed.
func (pl *pool) take(in *instance) (*instance, error) {
	if !in.use() {
		pl.discard(in, false)
		return nil, fmt.Errorf("plugin %s: %w", pl.p.name, ErrClosed)
	}
	return in, nil
}

// put returns an instance after its call sequence. A dead one, or one past
// its memory high-water mark, is discarded and replaced.
func (pl *pool) put(in *instance) {
	if in.dead == "" && in.overHighWater() {
		in.dead = "memory"
	}
	if in.dead != "" {
		pl.discard(in, true)
		return
	}
	if cap(in.out) > 1<<20 {
		in.out = nil // a huge response need not stay allocated
	}
	select {
	case <-pl.closed:
		pl.discard(in, false)
		return
	default:
	}
	in.idle()
	select {
	case pl.idle <- in:
	default:
		// Cannot happen (idle holds max), but in case: the instance is
		// nobody else's.
		in.use()
		pl.discard(in, false)
	}
}

// discard closes an instance, frees its slot, and when replace is set
// starts a fresh one in the background.
func (pl *pool) discard(in *instance, replace bool) {
	reason := in.dead
	if reason == "" {
		reason = "closed"
	}
	in.close()
	<-pl.slots
	if reason != "closed" {
		pl.discarded.Add(1)
		pl.p.host.metrics.replaced.WithLabelValues(pl.p.name, reason).Inc()
		pl.p.logger.Warn("plugin instance discarded", "reason", reason, "instance", in.id)
	}
	if replace {
		pl.refills.Add(1)
		go func() {
			defer pl.refills.Done()
			pl.refill()
		}()
	}
}

// refill starts one instance into the idle set if there is room.
func (pl *pool) refill() {
	select {
	case <-pl.closed:
		return
	case pl.slots <- struct{}{}:
	default:
		return
	}
	in, err := pl.p.newInstance(context.Background())
	if err != nil {
		<-pl.slots
		select {
		case <-pl.closed:
		default:
			pl.p.logger.Error("plugin instance could not be replaced", "err", err)
		}
		return
	}
	in.idle()
	select {
	case <-pl.closed:
		in.close()
		<-pl.slots
	case pl.idle <- in:
	}
}

// close stops handing out instances, waits for background replacements
// and closes the idle instances. Instances in use are closed when they come
// back (Plugin closes the pool only once none are, unless forced).
func (pl *pool) close() {
	select {
	case <-pl.closed:
		return
	default:
		close(pl.closed)
	}
	pl.refills.Wait()
	for {
		select {
		case in := <-pl.idle:
			in.close()
			<-pl.slots
		default:
			return
		}
	}
}
