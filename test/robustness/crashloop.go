package robustness

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CrashLoopResult is what the crash loop found.
type CrashLoopResult struct {
	Kills, Restarts int
	// AckedChecked counts acknowledged unique writes found after restarts
	// (each write counted once per check).
	AckedChecked    int
	Lost            []string
	RestartFailures []string
	Failures        []string
	Verdict         Verdict
}

// uniqueWriter writes keys crash/w<i>-<seq>, each once, and remembers the
// acknowledged ones.
type uniqueWriter struct {
	mu    sync.Mutex
	acked map[string]string // key -> value
}

func (u *uniqueWriter) snapshot() map[string]string {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make(map[string]string, len(u.acked))
	for k, v := range u.acked {
		out[k] = v
	}
	return out
}

// RunCrashLoop runs a one-node cluster under writes and SIGKILLs it kills
// times, a random 0.3–2s after each restart. After every restart the node
// must open its stores and answer, and a linearizable read of every
// acknowledged unique write must find it. The hot keys' history is checked
// for linearizability at the end: a write acknowledged before a crash and
// missing after it is a violation there too.
func RunCrashLoop(t testing.TB, bin string, kills int, reportDir string) CrashLoopResult {
	var res CrashLoopResult
	c := NewCluster(t, bin, Options{Nodes: 1, NoProxy: true, LogDir: filepath.Join(reportDir, "crash-loop-logs")})
	n := c.Nodes()[0]
	h := NewHistory()
	tr := StartTraffic(c, h, TrafficConfig{Rate: 150, ClientsPerNode: 3, Keys: 5})
	uw := &uniqueWriter{acked: map[string]string{}}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			kv := NewKVClient(c, n)
			for seq := 0; ctx.Err() == nil; seq++ {
				key := fmt.Sprintf("crash/w%d-%06d", w, seq)
				value := fmt.Sprintf("u%d", valueSeq.Add(1))
				rctx, rcancel := context.WithTimeout(context.Background(), clientTimeout)
				r := kv.Do(rctx, Request{Kind: OpPut, Key: key, Value: value})
				rcancel()
				if r.Outcome == OK {
					uw.mu.Lock()
					uw.acked[key] = value
					uw.mu.Unlock()
				} else {
					time.Sleep(20 * time.Millisecond)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}(w)
	}
	for i := 0; i < kills; i++ {
		time.Sleep(300*time.Millisecond + rand.N(1700*time.Millisecond))
		c.Kill(n)
		res.Kills++
		if err := c.StartErr(n); err != nil {
			res.RestartFailures = append(res.RestartFailures, fmt.Sprintf("kill %d: %v\n%s", i+1, err, c.LogTail(n, 3000)))
			t.Errorf("restart after kill %d: %v", i+1, err)
			if err := c.StartErr(n); err != nil {
				t.Fatalf("second restart after kill %d: %v\n%s", i+1, err, c.LogTail(n, 6000))
			}
		}
		res.Restarts++
		want := uw.snapshot()
		got, err := c.readPrefix(n, "crash", time.Minute)
		if err != nil {
			res.Failures = append(res.Failures, fmt.Sprintf("after kill %d: %v", i+1, err))
			t.Errorf("after kill %d: %v\n%s", i+1, err, c.LogTail(n, 3000))
			continue
		}
		missing := 0
		for k, v := range want {
			if got[k] != v {
				missing++
				if len(res.Lost) < 20 {
					res.Lost = append(res.Lost, fmt.Sprintf("after kill %d: acknowledged %s=%s reads %q", i+1, k, v, got[k]))
				}
			}
		}
		res.AckedChecked += len(want)
		if missing > 0 {
			t.Errorf("after kill %d: %d of %d acknowledged writes missing", i+1, missing, len(want))
		}
	}
	cancel()
	wg.Wait()
	tr.Stop()
	cv := c.Converge(h, h.Ops(), 5, time.Minute)
	res.Failures = append(res.Failures, cv.Problems...)
	ops := h.Ops()
	res.Verdict = CheckHistory(ops, filepath.Join(reportDir, "crash-loop.html"))
	if !res.Verdict.OK() {
		res.Failures = append(res.Failures, fmt.Sprintf("linearizability: %s %v", res.Verdict.Result, res.Verdict.StaleViolations))
		if path, keys := writeFailingKeys(ops, reportDir, "crash-loop"); path != "" {
			res.Failures = append(res.Failures, fmt.Sprintf("not linearizable: keys %v, their history in %s", keys, path))
		}
	}
	for _, f := range res.Failures {
		t.Error(f)
	}
	for _, note := range res.Verdict.StaleNotes {
		t.Log("note: stale read across a restart: " + note)
	}
	t.Logf("crash loop: %d kills, %d acknowledged unique writes checked, %d lost; %d ops, %d checked for linearizability (%d unknown)",
		res.Kills, res.AckedChecked, len(res.Lost), res.Verdict.Ops, res.Verdict.Checked, res.Verdict.Unknown)
	return res
}

// readPrefix reads every key under prefix (linearizably) as key -> value,
// retrying for up to d while the node is not yet able to answer.
func (c *Cluster) readPrefix(n *Node, prefix string, d time.Duration) (map[string]string, error) {
	deadline := time.Now().Add(d)
	var last error
	for time.Now().Before(deadline) {
		out, err := c.readPrefixOnce(n, prefix)
		if err == nil {
			return out, nil
		}
		last = err
		time.Sleep(200 * time.Millisecond)
	}
	return nil, fmt.Errorf("reading %s/ never succeeded: %w", prefix, last)
}

type treeNode struct {
	Key           string     `json:"key"`
	Value         string     `json:"value"`
	ModifiedIndex int64      `json:"modifiedIndex"`
	Nodes         []treeNode `json:"nodes"`
}

func (c *Cluster) readPrefixOnce(n *Node, prefix string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+n.HTTPAddr()+kvPrefix+"/getpath?key="+url.QueryEscape(prefix), nil)
	req.Header.Set("Authorization", "Bearer "+c.Token())
	resp, err := c.ctl.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("getpath: %d %s", resp.StatusCode, raw)
	}
	var ans struct {
		Node treeNode `json:"node"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil {
		return nil, err
	}
	out := map[string]string{}
	var walk func(t treeNode)
	walk = func(t treeNode) {
		if t.ModifiedIndex > 0 {
			out[t.Key] = t.Value
		}
		for _, ch := range t.Nodes {
			walk(ch)
		}
	}
	walk(ans.Node)
	return out, nil
}
