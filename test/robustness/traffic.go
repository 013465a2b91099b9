package robustness

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// TrafficConfig shapes the KV load.
type TrafficConfig struct {
	// Rate is the total requests per second over all clients.
	Rate float64
	// ClientsPerNode is how many concurrent clients talk to each node.
	ClientsPerNode int
	// Keys is the number of hot keys ("key-0" ... ).
	Keys int
}

// Request mix, in percent: linearizable reads, stale reads, puts,
// compare-and-swaps (half on the value, half on the version), deletes.
const (
	mixGet      = 40
	mixStaleGet = 15
	mixPut      = 25
	mixCAS      = 12
	// the rest (8) are deletes
)

// valueSeq makes every written value unique in a test binary's life, so a
// value read names the write that produced it.
var valueSeq atomic.Int64

// Traffic is the load running against a cluster.
type Traffic struct {
	cfg     TrafficConfig
	c       *Cluster
	h       *History
	limiter *rate.Limiter
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// StartTraffic starts cfg.ClientsPerNode clients on every current node;
// Stop ends them and waits for their last requests.
func StartTraffic(c *Cluster, h *History, cfg TrafficConfig) *Traffic {
	ctx, cancel := context.WithCancel(context.Background())
	t := &Traffic{cfg: cfg, c: c, h: h, limiter: rate.NewLimiter(rate.Limit(cfg.Rate), 1), cancel: cancel}
	for _, n := range c.Nodes() {
		for i := 0; i < cfg.ClientsPerNode; i++ {
			t.wg.Add(1)
			go t.client(ctx, n.ID)
		}
	}
	return t
}

// Stop ends the traffic; requests in flight finish (or time out) first.
func (t *Traffic) Stop() {
	t.cancel()
	t.wg.Wait()
}

// seen is what one client last learned about a key, for its CAS guesses.
type seen struct {
	value   string
	version int64
	exists  bool
}

func (t *Traffic) client(ctx context.Context, nodeID uint64) {
	defer t.wg.Done()
	id := t.h.NewClientID()
	last := map[string]seen{}
	for {
		if err := t.limiter.Wait(ctx); err != nil {
			return
		}
		n := t.c.Node(nodeID)
		if n == nil {
			return
		}
		req := t.next(last)
		op := RunOp(t.c, t.h, n, id, req)
		switch {
		case op.Resp.Outcome == Unknown && req.Kind != OpGet && req.Kind != OpStaleGet:
			// This client's write may land any time from now on:
			// porcupine sees it as still running, so the client goes on
			// under a new id.
			id = t.h.NewClientID()
			delete(last, req.Key)
		case op.Resp.Outcome == OK:
			switch req.Kind {
			case OpGet, OpStaleGet:
				last[req.Key] = seen{value: op.Resp.Value, version: op.Resp.Version, exists: op.Resp.Found}
			case OpPut, OpCAS:
				last[req.Key] = seen{value: req.Value, version: op.Resp.Version, exists: true}
			case OpDelete:
				last[req.Key] = seen{}
			}
		case op.Resp.Outcome == CompareFailed:
			delete(last, req.Key)
		}
		if op.Resp.Outcome != OK && op.Resp.Outcome != CompareFailed {
			// A node that is down or without quorum answers at once; do
			// not spin on it.
			select {
			case <-ctx.Done():
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
}

// RunOp sends req to n and records it in h.
func RunOp(c *Cluster, h *History, n *Node, client int, req Request) Op {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	op := Op{Client: client, Node: n.ID, Incarnation: n.Incarnation(), Req: req, Phase: h.Phase()}
	start := time.Now()
	op.Call = h.Now()
	op.Resp = NewKVClient(c, n).Do(ctx, req)
	op.Return = h.Now()
	op.Took = time.Since(start)
	if n.Incarnation() != op.Incarnation {
		op.Incarnation = 0 // the node restarted meanwhile: which process answered is unknown
	}
	h.Add(op)
	return op
}

// next picks a request: a random hot key and a random kind from the mix.
func (t *Traffic) next(last map[string]seen) Request {
	key := fmt.Sprintf("key-%d", rand.IntN(t.cfg.Keys))
	value := fmt.Sprintf("v%d", valueSeq.Add(1))
	p := rand.IntN(100)
	switch {
	case p < mixGet:
		return Request{Kind: OpGet, Key: key}
	case p < mixGet+mixStaleGet:
		return Request{Kind: OpStaleGet, Key: key}
	case p < mixGet+mixStaleGet+mixPut:
		return Request{Kind: OpPut, Key: key, Value: value}
	case p < mixGet+mixStaleGet+mixPut+mixCAS:
		s := last[key]
		if rand.IntN(2) == 0 {
			prev := s.value
			if !s.exists {
				prev = "never-written"
			}
			return Request{Kind: OpCAS, Key: key, Value: value, PrevValue: &prev}
		}
		v := s.version
		if !s.exists {
			v = 0
		}
		return Request{Kind: OpCAS, Key: key, Value: value, PrevVersion: &v}
	default:
		return Request{Kind: OpDelete, Key: key}
	}
}
