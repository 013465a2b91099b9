package robustness

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// Convergence is what the after-heal checks found.
type Convergence struct {
	Members  int
	Revision int64
	Hash     uint32
	// AckedChecked counts (write, member) pairs read back at the write's
	// revision; AckedSkipped those below a member's read floor (a member
	// restored from a snapshot has no older versions).
	AckedChecked, AckedSkipped int
	// Problems are lost writes, divergent members, members that never
	// caught up.
	Problems []string
}

// revisionView is GET /api/ops/compact/revision.
type revisionView struct {
	Revision        int64 `json:"revision"`
	CompactRevision int64 `json:"compact_revision"`
}

type hashResult struct {
	MemberID string `json:"member_id"`
	Hash     uint32 `json:"hash"`
	Revision int64  `json:"revision"`
	Error    string `json:"error"`
}

type hashView struct {
	Consistent bool         `json:"consistent"`
	Revision   int64        `json:"revision"`
	Results    []hashResult `json:"results"`
}

// Converge runs once the faults are healed and the traffic stopped: every
// node running and ready, one leader, every member at the same revision
// with the same hash (hashkv), every member's local value of every key
// equal to the linearizable one (recorded in h as final reads), and every
// acknowledged write of ops readable at its revision on every member.
func (c *Cluster) Converge(h *History, ops []Op, keys int, timeout time.Duration) Convergence {
	var cv Convergence
	problem := func(format string, args ...any) { cv.Problems = append(cv.Problems, fmt.Sprintf(format, args...)) }
	for _, msg := range c.UnexpectedExits() {
		problem("%s", msg)
	}
	lead, err := c.waitLeader(timeout)
	if err != nil {
		problem("no leader after healing: %v", err)
		return cv
	}
	nodes := c.Running()
	cv.Members = len(nodes)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := c.waitReady(ctx, nodes); err != nil {
		problem("%v", err)
		return cv
	}
	rev, err := c.waitSameRevision(ctx, nodes)
	if err != nil {
		problem("%v", err)
		return cv
	}
	cv.Revision = rev
	if hv, err := c.hashKV(ctx, lead); err != nil {
		problem("hashkv: %v", err)
	} else {
		var hashes []string
		errs := 0
		for _, r := range hv.Results {
			hashes = append(hashes, fmt.Sprintf("member %s: %d at %d %s", r.MemberID, r.Hash, r.Revision, r.Error))
			if r.Error != "" {
				errs++
			}
		}
		if !hv.Consistent || errs > 0 || len(hv.Results) != len(nodes) {
			problem("hashkv at revision %d: consistent=%t, %d members answered of %d: %s", hv.Revision, hv.Consistent, len(hv.Results), len(nodes), strings.Join(hashes, "; "))
		} else if len(hv.Results) > 0 {
			cv.Hash = hv.Results[0].Hash
		}
	}
	// Final reads: the linearizable value of every key, then every
	// member's local one.
	h.SetPhase(PhaseFinal)
	finalClient := h.NewClientID()
	for k := 0; k < keys; k++ {
		key := fmt.Sprintf("key-%d", k)
		var want Op
		for attempt := 0; attempt < 20; attempt++ {
			want = RunOp(c, h, lead, finalClient, Request{Kind: OpGet, Key: key})
			if want.Resp.Outcome == OK {
				break
			}
			time.Sleep(250 * time.Millisecond)
		}
		if want.Resp.Outcome != OK {
			problem("final linearizable read of %s on leader %d failed: %s", key, lead.ID, want.Resp.Err)
			continue
		}
		for _, n := range nodes {
			got := RunOp(c, h, n, finalClient, Request{Kind: OpStaleGet, Key: key})
			if got.Resp.Outcome != OK || got.Resp.Found != want.Resp.Found || got.Resp.Value != want.Resp.Value || got.Resp.ModRev != want.Resp.ModRev {
				problem("member %d diverges on %s: local %s, linearizable %s", n.ID, key, describe(got.Req, got.Resp), describe(want.Req, want.Resp))
			}
		}
	}
	checked, skipped, lost := c.checkAcked(ctx, nodes, ops)
	cv.AckedChecked, cv.AckedSkipped = checked, skipped
	cv.Problems = append(cv.Problems, lost...)
	return cv
}

// waitReady waits until every node's readiness probe passes.
func (c *Cluster) waitReady(ctx context.Context, nodes []*Node) error {
	for _, n := range nodes {
		for {
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTPAddr()+"/health/ready", nil)
			resp, err := c.ctl.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("node %d never became ready", n.ID)
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return nil
}

// waitSameRevision waits until every node reports the same revision twice
// in a row (the cluster is quiet: the audit log flushes within a second of
// the traffic stopping).
func (c *Cluster) waitSameRevision(ctx context.Context, nodes []*Node) (int64, error) {
	var last string
	prev := int64(-1)
	for {
		revs := map[uint64]int64{}
		same := true
		var rev int64 = -1
		for _, n := range nodes {
			var v revisionView
			if err := c.Do(ctx, n, http.MethodGet, "/api/ops/compact/revision", nil, &v); err != nil {
				same = false
				last = err.Error()
				break
			}
			revs[n.ID] = v.Revision
			if rev != -1 && v.Revision != rev {
				same = false
			}
			rev = v.Revision
		}
		if same && rev == prev {
			return rev, nil
		}
		if same {
			prev = rev
		} else {
			prev = -1
			if len(revs) == len(nodes) {
				last = fmt.Sprint("revisions by member: ", revs)
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("members never reached the same revision: %s", last)
		case <-time.After(300 * time.Millisecond):
		}
	}
}

func (c *Cluster) hashKV(ctx context.Context, via *Node) (hashView, error) {
	var hv hashView
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		err = c.Do(ctx, via, http.MethodPost, "/api/ops/hashkv", map[string]any{}, &hv)
		var se *StatusError
		if err == nil || !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
			return hv, err
		}
		time.Sleep(500 * time.Millisecond)
	}
	return hv, err
}

// checkAcked reads every acknowledged put back on every member at the
// revision it was acknowledged with.
func (c *Cluster) checkAcked(ctx context.Context, nodes []*Node, ops []Op) (checked, skipped int, lost []string) {
	type job struct {
		n  *Node
		op *Op
	}
	jobs := make(chan job)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range jobs {
				var r Response
				for attempt := 0; attempt < 3; attempt++ {
					r = NewKVClient(c, j.n).GetAt(ctx, j.op.Req.Key, j.op.Resp.ModRev)
					if r.Outcome == OK || r.Status == http.StatusGone || r.Status == http.StatusNotFound {
						break
					}
				}
				mu.Lock()
				switch {
				case r.Status == http.StatusGone:
					skipped++
				case r.Outcome == OK && r.Found && r.Value == j.op.Req.Value && r.ModRev == j.op.Resp.ModRev:
					checked++
				default:
					if len(lost) < 20 {
						lost = append(lost, fmt.Sprintf("acknowledged %s (rev %d, at %s on node %d) reads on member %d at rev %d as %s",
							j.op.Req, j.op.Resp.ModRev, time.Duration(j.op.Return), j.op.Node, j.n.ID, j.op.Resp.ModRev, describe(Request{Kind: OpStaleGet, Key: j.op.Req.Key}, r)+" "+r.Err))
					}
				}
				mu.Unlock()
			}
		}()
	}
	for i := range ops {
		op := &ops[i]
		if (op.Req.Kind == OpPut || op.Req.Kind == OpCAS) && op.Resp.Outcome == OK {
			for _, n := range nodes {
				jobs <- job{n, op}
			}
		}
	}
	close(jobs)
	wg.Wait()
	sort.Strings(lost)
	return checked, skipped, lost
}
