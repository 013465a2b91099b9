package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

// pruneBatch is how many deletes go in one transaction.
const pruneBatch = 1000

// pruneLoop runs on every node and acts only on the raft leader, so the
// log is trimmed once for the cluster, through raft, at one revision
// everywhere.
func (l *Log) pruneLoop() {
	defer l.wg.Done()
	t := time.NewTicker(l.opts.PruneInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-l.stopc:
			return
		}
		if !l.ns.Store().Raft().IsLeader() {
			continue
		}
		if n, err := l.Prune(l.ctx); err != nil {
			if l.ctx.Err() == nil {
				l.log.Warn("prune audit log", "err", err)
			}
		} else if n > 0 {
			l.log.Debug("pruned audit log", "deleted", n)
		}
	}
}

// Prune deletes the oldest entries beyond MaxEntries and those older than
// Retention, and returns how many it deleted. The pruner calls it on the
// leader; calling it elsewhere is correct too, only redundant.
//
// It works on batches in the order of their newest entries: a batch whose
// entries all go is trimmed without being read; the one batch (per node,
// for retention) that keeps some of its entries is read and written again
// without its oldest ones, its entries keeping their ids. Batches of
// different nodes overlap in time by up to a flush interval, so "oldest"
// holds to within that.
func (l *Log) Prune(ctx context.Context) (int, error) {
	// The leader's own state is current for everything it committed, so
	// a local read is enough to choose what to delete.
	keys, err := l.ns.List(ctx, keyPrefix, store.ListOptions{KeysOnly: true, Serializable: true})
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	batches := make([]batchMeta, 0, len(keys.KVs))
	total := 0
	for _, kv := range keys.KVs {
		m, err := parseBatchKey(kv.Key)
		if err != nil {
			return 0, fmt.Errorf("audit: prune: %w", err)
		}
		batches = append(batches, m)
		total += m.count
	}
	// drop[i] is how many of batch i's oldest entries go.
	drop := make([]int, len(batches))
	read := map[int][]Entry{}
	if l.opts.Retention > 0 {
		cutoff := time.Now().Add(-l.opts.Retention)
		for i, m := range batches {
			switch {
			case m.last < cutoff.UnixNano():
				drop[i] = m.count
			case m.first < cutoff.UnixNano():
				entries, err := l.readBatch(ctx, m.key)
				if err != nil {
					return 0, err
				}
				read[i] = entries
				for drop[i] < len(entries) && entries[drop[i]].Time.Before(cutoff) {
					drop[i]++
				}
			}
		}
	}
	excess := total - l.opts.MaxEntries
	for i := range drop {
		excess -= drop[i]
	}
	for i, m := range batches {
		if excess <= 0 {
			break
		}
		more := min(excess, m.count-drop[i])
		drop[i] += more
		excess -= more
	}

	var (
		ops     []store.Op
		deleted int
		pending int
	)
	commit := func() error {
		if len(ops) == 0 {
			return nil
		}
		tctx, cancel := context.WithTimeout(ctx, writeTimeout)
		_, err := l.ns.Txn(tctx, nil, ops, nil)
		cancel()
		if err != nil {
			return fmt.Errorf("audit: prune: %w", err)
		}
		deleted += pending
		l.pruned.Add(uint64(pending))
		ops, pending = ops[:0], 0
		return nil
	}
	for i, m := range batches {
		if drop[i] == 0 {
			continue
		}
		trim, err := l.ns.TrimOp(m.key)
		if err != nil {
			return deleted, err
		}
		ops = append(ops, trim)
		if drop[i] < m.count {
			keep, err := l.keepNewest(ctx, m, read[i], m.count-drop[i])
			if err != nil {
				return deleted, err
			}
			ops = append(ops, keep)
		}
		pending += drop[i]
		if len(ops) >= pruneBatch {
			if err := commit(); err != nil {
				return deleted, err
			}
		}
	}
	return deleted, commit()
}

// readBatch reads the batch at key, oldest entry first.
func (l *Log) readBatch(ctx context.Context, key string) ([]Entry, error) {
	kv, err := l.ns.Get(ctx, key, store.ReadOptions{Serializable: true})
	if err != nil {
		return nil, fmt.Errorf("audit: prune: read %s: %w", key, err)
	}
	return decodeBatch(kv)
}

// keepNewest is the write that replaces batch m by its newest n entries
// (entries, when already read, is m's content). The kept entries carry
// their ids, which came from the revision of the original write.
func (l *Log) keepNewest(ctx context.Context, m batchMeta, entries []Entry, n int) (store.Op, error) {
	if entries == nil {
		var err error
		if entries, err = l.readBatch(ctx, m.key); err != nil {
			return store.Op{}, err
		}
	}
	if len(entries) != m.count {
		return store.Op{}, fmt.Errorf("audit: prune: batch %s holds %d entries, its key says %d", m.key, len(entries), m.count)
	}
	kept := make([]stored, 0, n)
	for _, e := range entries[len(entries)-n:] {
		kept = append(kept, stored{Entry: e})
	}
	b, err := encodeBatch(kept)
	if err != nil {
		return store.Op{}, err
	}
	return l.ns.AppendOp(batchKey(m.last, m.node, n, kept[0].Time.UnixNano()), b)
}
