package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/consul/sdk/freeport"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

// benchNamespace is the namespace every phase reads and writes.
const benchNamespace = "bench"

// cluster is a raft group of stores running in this process, each with a
// real TCP peer transport on a loopback port and real Badger directories.
type cluster struct {
	size   int
	stores []*store.Store // index i holds raft id i+1
	ns     []*store.Namespace
}

// raftConfig is the raft setup of every benchmarked node: production-like
// timings, not the fast ones the unit tests use.
func raftConfig(id uint64, addr string, peers map[uint64]string) raft.Config {
	return raft.Config{
		ID: id, Name: fmt.Sprintf("node-%d", id), PeerAddr: addr, InitialCluster: peers,
		TickInterval: 100 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1,
		SnapshotCount: 10000, SnapshotCatchupEntries: 5000,
		RequestTimeout: 5 * time.Second,
	}
}

// startCluster opens size nodes under dir (one subdirectory each) and waits until they agree on a
// leader. On error every node already opened is closed again.
func startCluster(ctx context.Context, dir string, size int, logger *slog.Logger) (*cluster, error) {
	addrs, err := freeAddrs(size)
	if err != nil {
		return nil, err
	}
	initial := addrs
	if size == 1 {
		initial = nil // a one-node cluster of itself
	}
	c := &cluster{size: size}
	for id := uint64(1); id <= uint64(size); id++ {
		nodeDir := filepath.Join(dir, fmt.Sprintf("node%d", id))
		if err := os.MkdirAll(nodeDir, 0o750); err != nil {
			c.close()
			return nil, err
		}
		s, err := store.Open(store.Options{
			DataDir: nodeDir,
			Raft:    raftConfig(id, addrs[id], initial),
			Logger:  logger.With("cluster", size, "node", id),
		})
		if err != nil {
			c.close()
			return nil, fmt.Errorf("open node %d: %w", id, err)
		}
		c.stores = append(c.stores, s)
		ns, err := s.Namespace(benchNamespace)
		if err != nil {
			c.close()
			return nil, err
		}
		c.ns = append(c.ns, ns)
	}
	if err := c.waitLeader(ctx, 30*time.Second); err != nil {
		c.close()
		return nil, err
	}
	return c, nil
}

// waitLeader polls until every node reports the same, non-zero leader.
func (c *cluster) waitLeader(ctx context.Context, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		var lead uint64
		agreed := true
		for _, s := range c.stores {
			l := s.Raft().Leader()
			if l == 0 || (lead != 0 && l != lead) {
				agreed = false
				break
			}
			lead = l
		}
		if agreed {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no agreed leader in the %d-node cluster after %s", c.size, timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// leader is the id of the current leader as node 1 sees it.
func (c *cluster) leader() uint64 { return c.stores[0].Raft().Leader() }

// term is the highest raft term any node has seen; it grows with every
// election, so a change across a phase means the leader changed.
func (c *cluster) term() uint64 {
	var t uint64
	for _, s := range c.stores {
		t = max(t, s.Raft().Term())
	}
	return t
}

// fsyncs samples every node's raft log fsync counter and total fsync time,
// in node order.
func (c *cluster) fsyncs() (counts []uint64, times []time.Duration) {
	for _, s := range c.stores {
		n, d := s.Fsyncs()
		counts = append(counts, n)
		times = append(times, d)
	}
	return counts, times
}

// close stops every node; the first error wins.
func (c *cluster) close() error {
	var errs []error
	for _, s := range c.stores {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// freeAddrs returns n distinct loopback addresses keyed by raft id (1..n),
// their ports from consul's freeport (a block below the kernel's ephemeral
// range, so an outgoing connection cannot take one before the store binds
// it, as it could a port found by listening on :0).
func freeAddrs(n int) (map[uint64]string, error) {
	ports, err := freeport.Take(n)
	if err != nil {
		return nil, fmt.Errorf("find free ports: %w", err)
	}
	addrs := make(map[uint64]string, n)
	for i, p := range ports {
		addrs[uint64(i+1)] = fmt.Sprintf("127.0.0.1:%d", p)
	}
	return addrs, nil
}
