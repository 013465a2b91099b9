package audit

import (
	"context"
	"encoding/json"
	"slices"
	"time"

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
// transaction each. A failed transaction loses
// its entries (counted and logged): retrying would let a long outage grow
// an unbounded backlog.
func (l *Log) write(parent context.Context, batch []*Entry) {
	var (
		part []stored
		size int
	)
	commit := func() {
		if len(part) == 0 {
			return
		}
		err := l.writeBatch(parent, part)
		if err != nil {
			l.failed.Add(uint64(len(part)))
			l.log.Warn("write audit entries", "count", len(part), "err", err)
		} else {
			l.written.Add(uint64(len(part)))
		}
		part, size = part[:0], 0
	}
	// Entries reach the flusher in the order they were sent, which two
	// requests finishing together can swap; a batch is stored oldest
	// first.
	slices.SortStableFunc(batch, func(a, b *Entry) int { return a.Time.Compare(b.Time) })
	for _, e := range batch {
		// The encoded size decides where a large batch is cut; the
		// entry is encoded again with the rest of its batch.
		b, err := json.Marshal(e)
		if err != nil {
			l.failed.Add(1)
			l.log.Error("encode audit entry", "err", err)
			continue
		}
		if len(part) > 0 && size+len(b) > maxBatchBytes {
			commit()
		}
		part = append(part, stored{Entry: *e, Seq: len(part)})
		size += len(b) + len(`,"seq":999`)
	}
	commit()
}

// writeBatch stores entries, oldest first, under one batch key.
func (l *Log) writeBatch(parent context.Context, entries []stored) error {
	b, err := encodeBatch(entries)
	if err != nil {
		return err
	}
	first, last := entries[0].Time.UnixNano(), entries[len(entries)-1].Time.UnixNano()
	op, err := l.ns.AppendOp(batchKey(last, l.opts.NodeID, len(entries), first), b)
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
