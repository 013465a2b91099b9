package audit

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

// flushLoop gathers entries and writes them in batches: when BatchSize
// have gathered, or every FlushInterval. It is the only writer, so a slow
// or leaderless cluster delays audit writes and fills the buffer, never a
// request.
func (l *Log) flushLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.opts.FlushInterval)
	defer t.Stop()
	batch := make([]*Entry, 0, l.opts.BatchSize)
	flush := func(ctx context.Context) {
		if len(batch) > 0 {
			l.write(ctx, batch)
			clear(batch)
			batch = batch[:0]
		}
	}
	for {
		select {
		case e := <-l.entries:
			batch = append(batch, e)
			if len(batch) >= l.opts.BatchSize {
				flush(context.Background())
			}
		case <-t.C:
			flush(context.Background())
			l.reportDrops()
		case <-l.stopc:
			// Final flush: whatever is buffered, under one deadline.
			ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
			defer cancel()
		drain:
			for {
				select {
				case e := <-l.entries:
					batch = append(batch, e)
					if len(batch) >= l.opts.BatchSize {
						flush(ctx)
					}
				default:
					break drain
				}
			}
			flush(ctx)
			l.reportDrops()
			return
		}
	}
}

// write stores a flush as batch keys of at most maxBatchBytes, one
// transaction each. A failed transaction loses its entries (counted and
// logged): retrying would let a long outage grow an unbounded backlog.
func (l *Log) write(parent context.Context, batch []*Entry) {
	// Entries reach the flusher in the order they were sent, which two
	// requests finishing together can swap; a batch is stored oldest
	// first.
	slices.SortStableFunc(batch, func(a, b *Entry) int { return a.Time.Compare(b.Time) })
	var p batchWriter
	for _, e := range batch {
		// Each entry is encoded with its place in its batch: once, or
		// twice when it starts the next batch.
		b, ok := l.encode(e, p.count)
		if ok && p.count > 0 && len(p.buf)+len(b)+1 > maxBatchBytes {
			l.commit(parent, &p)
			b, ok = l.encode(e, 0)
		}
		if ok {
			p.add(e, b)
		}
	}
	l.commit(parent, &p)
}

// encode is an entry as stored at place seq of its batch; false when it
// cannot be encoded (counted as failed and logged).
func (l *Log) encode(e *Entry, seq int) ([]byte, bool) {
	s := stored{Entry: *e, Seq: seq}
	if b, ok := s.appendJSON(make([]byte, 0, 384)); ok {
		return b, true
	}
	b, err := json.Marshal(s)
	if err != nil {
		l.failed.Add(1)
		l.log.Error("encode audit entry", "err", err)
		return nil, false
	}
	return b, true
}

// batchWriter gathers encoded entries into one batch value: a JSON array,
// oldest first.
type batchWriter struct {
	buf         []byte
	count       int
	first, last int64
}

func (p *batchWriter) add(e *Entry, encoded []byte) {
	if p.count == 0 {
		p.buf = append(p.buf[:0], '[')
		p.first = e.Time.UnixNano()
	} else {
		p.buf = append(p.buf, ',')
	}
	p.buf = append(p.buf, encoded...)
	p.last = e.Time.UnixNano()
	p.count++
}

// commit stores the gathered batch under its key and starts a new one.
func (l *Log) commit(parent context.Context, p *batchWriter) {
	if p.count == 0 {
		return
	}
	p.buf = append(p.buf, ']')
	err := l.storeBatch(parent, batchKey(p.last, l.opts.NodeID, p.count, p.first), compressBatch(p.buf))
	if err != nil {
		l.failed.Add(uint64(p.count))
		l.log.Warn("write audit entries", "count", p.count, "err", err)
	} else {
		l.written.Add(uint64(p.count))
	}
	p.count = 0
}

// storeBatch stores one encoded batch under key, trying again while the
// cluster is briefly unavailable. Leadership moving is the common case: a
// leader transfer drops proposals while it runs, and a write a follower
// forwarded is then lost and times out, where the same write succeeds a
// moment later. The audit of the transfer itself is such a write. Trying
// again is safe because a batch is a blind write of one value under one
// key. Entries recorded meanwhile wait in the buffer, which drops them when
// full, as during any outage.
func (l *Log) storeBatch(parent context.Context, key string, value []byte) error {
	for attempt := 1; ; attempt++ {
		err := l.writeBatch(parent, key, value)
		if err == nil || attempt == writeAttempts || !transient(err) {
			return err
		}
		l.log.Debug("audit write failed, trying again", "attempt", attempt, "err", err)
		t := time.NewTimer(retryDelay)
		select {
		case <-t.C:
		case <-parent.Done():
			t.Stop()
			return err
		}
	}
}

// transient reports whether a failed write may succeed if tried again: the
// cluster had no leader or did not answer, and this node is not stopping.
func transient(err error) bool {
	return raft.IsUnavailable(err) && !errors.Is(err, raft.ErrStopped)
}

// writeBatch stores one encoded batch under key, once.
func (l *Log) writeBatch(parent context.Context, key string, value []byte) error {
	if l.writeHook != nil {
		if err := l.writeHook(); err != nil {
			return err
		}
	}
	op, err := l.ns.AppendOp(key, value)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(parent, writeTimeout)
	defer cancel()
	_, err = l.ns.Txn(ctx, nil, []store.Op{op}, nil)
	return err
}

// reportDrops logs entries dropped since the last report, at most once per
// flush interval, so a flood produces one line, not one per request.
func (l *Log) reportDrops() {
	d := l.dropped.Load()
	if d == l.reported {
		return
	}
	l.log.Warn("audit buffer full: entries dropped", "dropped", d-l.reported, "dropped_total", d)
	l.reported = d
}
