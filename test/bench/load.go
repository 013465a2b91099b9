package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/test/internal/loadstat"
)

// loadConfig is the shape of the load every phase applies.
type loadConfig struct {
	Clients   int `json:"clients"`
	ValueSize int `json:"value_size"`
	Keys      int `json:"keys"`
	// LeaderOnly sends every request to the leader instead of spreading
	// the clients over all nodes.
	LeaderOnly bool          `json:"leader_only"`
	Warmup     time.Duration `json:"-"`
	Duration   time.Duration `json:"-"`
}

// opFunc is one request. ns is the namespace handle of the node the worker
// talks to; key is the key it picked.
type opFunc func(ctx context.Context, ns *store.Namespace, key string) error

// allPhases lists what can be measured, in the order it runs. Puts come
// first so that the fsync counters of that window show group commit
// undisturbed.
var allPhases = []string{"put", "get", "get-serializable"}

// phaseOp is the request a phase makes, nil for an unknown phase.
func phaseOp(name string, value []byte) opFunc {
	switch name {
	case "put":
		return func(ctx context.Context, ns *store.Namespace, key string) error {
			_, err := ns.Put(ctx, key, value, store.PutOptions{})
			return err
		}
	case "get":
		return func(ctx context.Context, ns *store.Namespace, key string) error {
			_, err := ns.Get(ctx, key, store.ReadOptions{})
			return err
		}
	case "get-serializable":
		return func(ctx context.Context, ns *store.Namespace, key string) error {
			_, err := ns.Get(ctx, key, store.ReadOptions{Serializable: true})
			return err
		}
	}
	return nil
}

// phaseResult is what one phase measured inside its window.
type phaseResult struct {
	loadstat.Samples
	Elapsed time.Duration
	// Fsyncs and FsyncTime are the raft log fsyncs each node made inside
	// the window, in node order, and their summed duration.
	Fsyncs    []uint64
	FsyncTime time.Duration
	// Elections counts raft terms that began inside the window (from the
	// warm-up on): a non-zero value means the leader changed under load.
	Elections uint64
}

// keyNames are the keys the load spreads over: k/00000 … k/<n-1>.
func keyNames(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("k/%05d", i)
	}
	return keys
}

// preload writes every key once, in transactions of a few hundred puts, so
// that reads hit existing keys and puts overwrite rather than create.
func preload(ctx context.Context, c *cluster, keys []string, value []byte) error {
	const batch = 256
	ns := c.ns[0]
	for lo := 0; lo < len(keys); lo += batch {
		ops := make([]store.Op, 0, batch)
		for _, k := range keys[lo:min(lo+batch, len(keys))] {
			op, err := ns.PutOp(k, value, store.PutOptions{})
			if err != nil {
				return err
			}
			ops = append(ops, op)
		}
		if _, err := ns.Txn(ctx, nil, ops, nil); err != nil {
			return fmt.Errorf("preload keys %d..: %w", lo, err)
		}
	}
	return nil
}

// runPhase drives cfg.Clients workers, worker i talking to node i mod size
// (or all to the leader with cfg.LeaderOnly), each issuing op back to back
// on uniformly random keys. Requests that complete during the warm-up are
// discarded; those completing inside the following cfg.Duration window are
// counted and timed (errors apart). The fsync counters are sampled at the
// window's edges. A closed loop: latency includes time the worker waits for
// a CPU, which on a small machine dominates the tail of local reads.
func runPhase(ctx context.Context, c *cluster, cfg loadConfig, keys []string, op opFunc) (*phaseResult, error) {
	start := time.Now()
	winStart := start.Add(cfg.Warmup)
	winEnd := winStart.Add(cfg.Duration)

	targets := c.ns
	if cfg.LeaderOnly {
		lead := c.leader()
		if lead == 0 || int(lead) > len(c.ns) {
			return nil, fmt.Errorf("no leader to aim at (node 1 sees %d)", lead)
		}
		targets = c.ns[lead-1 : lead]
	}
	term0 := c.term()
	var stop atomic.Bool
	var wg sync.WaitGroup
	results := make([]loadstat.Tally, cfg.Clients)
	for w := range cfg.Clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res := &results[w]
			res.Lat = make([]time.Duration, 0, 4096)
			ns := targets[w%len(targets)]
			rng := rand.New(rand.NewPCG(uint64(start.UnixNano()), uint64(w)))
			for !stop.Load() && ctx.Err() == nil {
				key := keys[rng.IntN(len(keys))]
				t0 := time.Now()
				err := op(ctx, ns, key)
				t1 := time.Now()
				if t1.Before(winStart) || !t1.Before(winEnd) {
					continue
				}
				if err != nil {
					res.Fail(err)
					continue
				}
				res.Lat = append(res.Lat, t1.Sub(t0))
			}
		}()
	}

	loadstat.SleepUntil(ctx, winStart)
	fs0, ft0 := c.fsyncs()
	loadstat.SleepUntil(ctx, winEnd)
	fs1, ft1 := c.fsyncs()
	stop.Store(true)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	r := &phaseResult{Samples: loadstat.Merge(results), Elapsed: cfg.Duration, Elections: c.term() - term0}
	for i := range fs0 {
		r.Fsyncs = append(r.Fsyncs, fs1[i]-fs0[i])
		r.FsyncTime += ft1[i] - ft0[i]
	}
	return r, nil
}
