// Package testnode starts in-process clusters of real Trellis nodes
// (core/node, real TCP on loopback, temporary data directories) for the
// end-to-end tests under test/. Only tests import it.
package testnode

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// Logger logs errors only, or everything when TRELLISTEST_DEBUG is set.
func Logger() *slog.Logger {
	level := slog.LevelError
	if os.Getenv("TRELLISTEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Eventually polls cond until it holds or the deadline passes. It waits
// for a state; it measures nothing.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting until %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Node is one node of a test cluster.
type Node struct {
	ID     uint64
	Config *config.Config
	Node   *node.Node
	Base   string // http://host:port

	stopOnce sync.Once
	stopped  atomic.Bool
}

// Stopped reports whether Cluster.Stop has been called for the node.
func (n *Node) Stopped() bool { return n.stopped.Load() }

// Cluster is a running test cluster.
type Cluster struct {
	t     testing.TB
	Nodes []*Node
}

// Start starts size nodes as a static cluster with the defaults adjusted
// for tests (free loopback ports, temp data dirs, 50ms ticks, no modules
// configured), then tweak applied in order to every node's config. It
// waits until every node sees a leader; the nodes stop at cleanup.
func Start(t testing.TB, size int, tweak ...func(*config.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t}
	var initial []string
	for id := uint64(1); id <= uint64(size); id++ {
		cfg := config.Defaults()
		cfg.Node.ID = id
		cfg.Node.DataDir = filepath.Join(t.TempDir(), "data")
		cfg.HTTP.Addr = testutil.FreeAddr(t)
		cfg.Raft.Addr = testutil.FreeAddr(t)
		cfg.Raft.TickInterval = 50 * time.Millisecond
		cfg.Modules = map[string]config.ModuleConfig{}
		for _, f := range tweak {
			if f != nil {
				f(&cfg)
			}
		}
		c.Nodes = append(c.Nodes, &Node{ID: id, Config: &cfg})
		initial = append(initial, fmt.Sprintf("%d=%s", id, cfg.RaftAdvertise()))
	}
	for i, tn := range c.Nodes {
		if size > 1 {
			tn.Config.Raft.InitialCluster = strings.Join(initial, ",")
		}
		tn.Node = node.New(tn.Config, Logger())
		if err := tn.Node.Start(context.Background()); err != nil {
			t.Fatalf("start node %d: %v", tn.ID, err)
		}
		t.Cleanup(func() { c.Stop(i + 1) })
		tn.Base = "http://" + tn.Node.HTTPAddr()
	}
	Eventually(t, 20*time.Second, "every node sees a leader", func() bool {
		for _, tn := range c.Nodes {
			if tn.Node.Store().Raft().Leader() == 0 {
				return false
			}
		}
		return true
	})
	return c
}

// Node returns node i, counted from 1.
func (c *Cluster) Node(i int) *Node { return c.Nodes[i-1] }

// URL is the address of path on node i.
func (c *Cluster) URL(i int, path string) string { return c.Node(i).Base + path }

// Stop stops node i; safe to call again and from any goroutine.
func (c *Cluster) Stop(i int) {
	tn := c.Node(i)
	tn.stopOnce.Do(func() {
		tn.stopped.Store(true)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		tn.Node.Stop(ctx)
	})
}

// WaitApplied waits until every running node has applied everything any
// running node has applied so far: after it, a serializable read on any
// of them sees what was written before the call.
func (c *Cluster) WaitApplied() {
	c.t.Helper()
	var rev int64
	for _, tn := range c.Nodes {
		if !tn.Stopped() {
			rev = max(rev, tn.Node.Store().Revision())
		}
	}
	Eventually(c.t, 10*time.Second, fmt.Sprintf("every node applies revision %d", rev), func() bool {
		for _, tn := range c.Nodes {
			if !tn.Stopped() && tn.Node.Store().Revision() < rev {
				return false
			}
		}
		return true
	})
}
