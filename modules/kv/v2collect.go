package kv

import (
	"context"
	"time"

	"github.com/trellis-cp/trellis/core/store"
)

// collectExpiredDirs runs on every node and acts on the leader: when a v2
// directory expires the store deletes only its record, and this removes
// what was under it. Readers never see those keys (their directory is
// gone), so a collection missed across a leader change only leaves
// garbage, which the next directory created at that path clears.
func (m *Module) collectExpiredDirs(ctx context.Context) {
	defer close(m.done)
	for ctx.Err() == nil {
		if ch, err := m.ns.Watch(ctx, v2Prefix, 0); err == nil {
			for resp := range ch {
				if resp.Err != nil {
					break
				}
				for _, ev := range resp.Events {
					if ev.Type == store.EventExpire {
						m.collect(ctx, ev.KV.Key)
					}
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
	}
}

func (m *Module) collect(ctx context.Context, dirKey string) {
	if m.cluster == nil || m.cluster.Leader() != m.cluster.ID() {
		return
	}
	prefix := dirKey + "/"
	res, err := m.ns.List(ctx, prefix, store.ListOptions{Limit: 1, KeysOnly: true, Serializable: true})
	if err != nil || len(res.KVs) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cmps := []store.Compare{m.ns.CmpNumber(dirKey, store.CompareVersion, store.Equal, 0)}
	if _, err := m.ns.Txn(ctx, cmps, []store.Op{m.deletePrefixOp(prefix)}, nil); err != nil {
		m.log.Debug("collect expired v2 directory", "dir", v2PathOf(dirKey), "err", err)
	}
}
