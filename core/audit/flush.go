package audit

import (
	"context"
	"encoding/json"
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

// write stores a batch in as few transactions as fit raft's message size;
// usually one. A failed transaction loses its entries (counted and logged):
// retrying would let a long outage grow an unbounded backlog.
func (l *Log) write(parent context.Context, batch []*Entry) {
	var (
		ops   []store.Op
		size  int
		first int
	)
	commit := func(end int) {
		if len(ops) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(parent, writeTimeout)
		_, err := l.ns.Txn(ctx, nil, ops, nil)
		cancel()
		if err != nil {
			l.failed.Add(uint64(len(ops)))
			l.log.Warn("write audit entries", "count", len(ops), "err", err)
		} else {
			l.written.Add(uint64(len(ops)))
		}
		ops, size, first = ops[:0], 0, end
	}
	for i, e := range batch {
		b, err := json.Marshal(stored{Entry: *e, Seq: i - first})
		if err != nil {
			l.failed.Add(1)
			l.log.Error("encode audit entry", "err", err)
			continue
		}
		if len(ops) > 0 && size+len(b) > maxTxnBytes {
			commit(i)
			if b, err = json.Marshal(stored{Entry: *e, Seq: 0}); err != nil {
				continue
			}
		}
		op, err := l.ns.AppendOp(e.key(), b)
		if err != nil {
			l.failed.Add(1)
			l.log.Error("audit entry", "err", err)
			continue
		}
		ops = append(ops, op)
		size += len(b)
	}
	commit(len(batch))
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
