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
func (l *Log) Prune(ctx context.Context) (int, error) {
	// The leader's own state is current for everything it committed, so
	// a local read is enough to choose what to delete.
	keys, err := l.ns.List(ctx, keyPrefix, store.ListOptions{KeysOnly: true, Serializable: true})
	if err != nil {
		return 0, fmt.Errorf("audit: prune: %w", err)
	}
	n := max(0, len(keys.KVs)-l.opts.MaxEntries)
	if l.opts.Retention > 0 {
		cutoff := timeBound(time.Now().Add(-l.opts.Retention).UnixNano())
		for n < len(keys.KVs) && keys.KVs[n].Key < cutoff {
			n++
		}
	}
	deleted := 0
	for deleted < n {
		end := min(n, deleted+pruneBatch)
		ops := make([]store.Op, 0, end-deleted)
		for _, kv := range keys.KVs[deleted:end] {
			op, err := l.ns.TrimOp(kv.Key)
			if err != nil {
				return deleted, err
			}
			ops = append(ops, op)
		}
		tctx, cancel := context.WithTimeout(ctx, writeTimeout)
		_, err := l.ns.Txn(tctx, nil, ops, nil)
		cancel()
		if err != nil {
			return deleted, fmt.Errorf("audit: prune: %w", err)
		}
		deleted = end
		l.pruned.Add(uint64(len(ops)))
	}
	return deleted, nil
}
