package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WatchResponse carries the events of one revision range, in order. A
// response with Err set is the last one.
type WatchResponse struct {
	Events []Event
	// Revision is the store revision the response brings the watcher to.
	Revision int64
	Err      error
}

// Watch streams every change to keys under prefix after fromRev, in
// revision order and exactly once: history comes from the replicated change
// log, so a watcher that reconnects with the next revision it wants misses
// nothing and sees nothing twice. fromRev 0 starts at the next write. The
// channel closes when ctx ends.
func (n *Namespace) Watch(ctx context.Context, prefix string, fromRev int64) (<-chan WatchResponse, error) {
	sm := n.s.sm
	if fromRev == 0 {
		fromRev = sm.revision() + 1
	}
	if fromRev < 1 {
		return nil, fmt.Errorf("store: watch from revision %d", fromRev)
	}
	if c := sm.compacted.Load(); fromRev < c {
		return nil, fmt.Errorf("%w: watch from %d, compacted at %d", ErrCompacted, fromRev, c)
	}
	// A watcher reads the state store until it ends, so Close waits for
	// every one before closing Badger (whose iterators panic once closed).
	n.s.watchMu.Lock()
	if n.s.closed {
		n.s.watchMu.Unlock()
		return nil, errStoreClosed
	}
	n.s.wg.Add(1)
	n.s.watchMu.Unlock()
	out := make(chan WatchResponse, 16)
	go n.watchLoop(ctx, []byte(prefix), fromRev, out)
	return out, nil
}

func (n *Namespace) watchLoop(ctx context.Context, prefix []byte, next int64, out chan<- WatchResponse) {
	defer n.s.wg.Done()
	defer close(out)
	sm := n.s.sm
	send := func(ctx context.Context, out chan<- WatchResponse, r WatchResponse) bool {
		return sendOrStop(ctx, n.s.stopc, out, r)
	}
	for {
		changed := n.s.node.AppliedNotify()
		cur := sm.revision()
		if cur >= next && next >= sm.compacted.Load() && !sm.marks.mayHaveAfter(n.name, prefix, next-1) {
			// Nothing was written under this prefix since next: skip
			// the read (a read below the compacted revision still runs,
			// to report it).
			next = cur + 1
		}
		if cur >= next {
			sm.marks.watchReads.Add(1)
			var evs []Event
			var sent int64 // the revision the last response of this pass brought the watcher to
			err := sm.events(n.name, prefix, next-1, cur, func(ev Event) bool {
				// Responses split only between revisions, so a watcher
				// that resumes after a response's revision misses nothing.
				if len(evs) >= 256 && ev.KV.ModRevision != evs[len(evs)-1].KV.ModRevision {
					sent = evs[len(evs)-1].KV.ModRevision
					if !send(ctx, out, WatchResponse{Events: evs, Revision: sent}) {
						return false
					}
					evs = nil
				}
				evs = append(evs, ev)
				return true
			})
			if errors.Is(err, errRestored) {
				// What was sent was read before the restore; the rest is
				// read again from the restored change log.
				if sent > 0 {
					next = sent + 1
				}
				continue
			}
			if err != nil {
				if !errors.Is(err, ErrCompacted) {
					err = fmt.Errorf("store: watch: %w", err)
				}
				send(ctx, out, WatchResponse{Err: err, Revision: cur})
				return
			}
			if ctx.Err() != nil {
				return
			}
			if len(evs) > 0 && !send(ctx, out, WatchResponse{Events: evs, Revision: cur}) {
				return
			}
			next = cur + 1
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return
		case <-n.s.stopc:
			// A last word for a reader still listening; the store does
			// not wait long for one that is not.
			select {
			case out <- WatchResponse{Err: errStoreClosed, Revision: cur}:
			case <-ctx.Done():
			case <-time.After(100 * time.Millisecond):
			}
			return
		}
	}
}

var errStoreClosed = errors.New("store: closed")

// sendOrStop delivers r unless the watcher's context ends or the store
// closes first.
func sendOrStop(ctx context.Context, stopc <-chan struct{}, out chan<- WatchResponse, r WatchResponse) bool {
	select {
	case out <- r:
		return true
	case <-ctx.Done():
		return false
	case <-stopc:
		return false
	}
}
