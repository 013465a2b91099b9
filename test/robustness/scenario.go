package robustness

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Scenario is one fault under traffic on a fresh cluster.
type Scenario struct {
	Name    string
	Nodes   int
	Fault   Fault
	Traffic TrafficConfig
	// Before and After are how long the traffic runs before the fault and
	// after it is healed.
	Before, After time.Duration
}

// PhaseStats are the requests of one phase of a scenario.
type PhaseStats struct {
	Phase                         Phase
	Requests, OK, Unknown, Failed int
	P50, P99, Max                 time.Duration
}

// Result is everything a scenario found.
type Result struct {
	Name        string
	Nodes       int
	Duration    time.Duration
	FaultErr    string
	Notes       []string
	Verdict     Verdict
	Convergence Convergence
	Phases      []PhaseStats
	Net         NetStats
	// Failures summarise what broke a guarantee; empty when clean.
	Failures []string
}

// RunScenario runs sc on a new cluster of bin and checks it. Violations
// are test errors; artifacts (porcupine's visualization, the history of a
// failing key) go to reportDir.
func RunScenario(t testing.TB, bin string, sc Scenario, reportDir string) Result {
	start := time.Now()
	res := Result{Name: sc.Name, Nodes: sc.Nodes}
	slug := strings.ReplaceAll(fmt.Sprintf("%s-%dnodes", sc.Name, sc.Nodes), "/", "-")
	c := NewCluster(t, bin, Options{Nodes: sc.Nodes, Env: sc.Fault.Env, LogDir: filepath.Join(reportDir, slug+"-logs")})
	if err := c.HealthCheck(time.Minute); err != nil {
		t.Fatalf("cluster unhealthy before the fault: %v", err)
	}
	if sc.Fault.Preload > 0 {
		if err := c.Preload(sc.Fault.Preload); err != nil {
			t.Fatalf("preload: %v", err)
		}
	}
	h := NewHistory()
	tr := StartTraffic(c, h, sc.Traffic)
	time.Sleep(sc.Before)
	h.SetPhase(PhaseFault)
	env := &FaultEnv{C: c, Logf: t.Logf}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	if err := sc.Fault.Run(ctx, env); err != nil {
		res.FaultErr = err.Error()
		t.Errorf("fault %s: %v", sc.Fault.Name, err)
	}
	cancel()
	c.Net.HealAll()
	// A fault that failed part-way may leave a node down; the checks
	// still want the whole cluster.
	for _, n := range c.Nodes() {
		if !n.Running() {
			n.Env = nil
			env.note("harness: node %d was down after the fault; restarting it", n.ID)
			if err := c.StartErr(n); err != nil {
				res.Failures = append(res.Failures, fmt.Sprintf("node %d cannot restart: %v\n%s", n.ID, err, c.LogTail(n, 3000)))
			}
		}
	}
	h.SetPhase(PhaseAfter)
	time.Sleep(sc.After)
	tr.Stop()
	res.Notes = env.Notes
	res.Net = c.Net.Stats()
	if err := c.HealthCheck(2 * time.Minute); err != nil {
		res.Failures = append(res.Failures, "unhealthy after healing: "+err.Error())
	}
	res.Convergence = c.Converge(h, h.Ops(), sc.Traffic.Keys, 2*time.Minute)
	for _, p := range res.Convergence.Problems {
		res.Failures = append(res.Failures, "convergence: "+p)
	}
	ops := h.Ops()
	res.Phases = phaseStats(ops)
	res.Verdict = CheckHistory(ops, filepath.Join(reportDir, slug+".html"))
	v := &res.Verdict
	if v.Result != porcupine.Ok {
		res.Failures = append(res.Failures, fmt.Sprintf("linearizability: %s (visualization %s)", v.Result, v.Visualization))
		if path, keys := writeFailingKeys(ops, reportDir, slug); path != "" {
			res.Failures = append(res.Failures, fmt.Sprintf("not linearizable: keys %v, their history in %s", keys, path))
		}
	}
	for _, s := range v.StaleViolations {
		res.Failures = append(res.Failures, "stale read: "+s)
	}
	res.Duration = time.Since(start)
	for _, f := range res.Failures {
		t.Error(f)
	}
	for _, n := range v.StaleNotes {
		t.Log("note: stale read across a restart: " + n)
	}
	t.Logf("%s on %d nodes: %d ops, %d checked for linearizability (%d unknown outcome), %d stale reads, %d acknowledged writes read back, revision %d, %s",
		sc.Name, sc.Nodes, v.Ops, v.Checked, v.Unknown, v.StaleReads, res.Convergence.AckedChecked, res.Convergence.Revision, res.Duration.Round(time.Second))
	return res
}

// HealthCheck waits (up to d) for a leader and for a put and a
// linearizable get to succeed on every running node.
func (c *Cluster) HealthCheck(d time.Duration) error {
	deadline := time.Now().Add(d)
	if _, err := c.waitLeader(d); err != nil {
		return err
	}
	for _, n := range c.Running() {
		key := fmt.Sprintf("health-%d", n.ID)
		value := fmt.Sprintf("h%d", valueSeq.Add(1))
		for {
			ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
			kv := NewKVClient(c, n)
			put := kv.Do(ctx, Request{Kind: OpPut, Key: key, Value: value})
			get := kv.Do(ctx, Request{Kind: OpGet, Key: key})
			cancel()
			if put.Outcome == OK && get.Outcome == OK && get.Value == value {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("node %d: health put %s %s, get %s %s", n.ID, put.Outcome, put.Err, get.Outcome, get.Err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// Preload writes about bytes of filler keys (fill-N, 64 KiB values)
// through the leader; they are not part of any checked history.
func (c *Cluster) Preload(bytes int) error {
	const size = 64 << 10
	value := strings.Repeat("f", size)
	lead := c.Leader()
	kv := NewKVClient(c, lead)
	for i := 0; i*size < bytes; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
		r := kv.Do(ctx, Request{Kind: OpPut, Key: fmt.Sprintf("fill-%d", i), Value: value})
		cancel()
		if r.Outcome != OK {
			return fmt.Errorf("fill-%d: %s %s", i, r.Outcome, r.Err)
		}
	}
	return nil
}

func phaseStats(ops []Op) []PhaseStats {
	var out []PhaseStats
	for p := PhaseBefore; p <= PhaseAfter; p++ {
		s := PhaseStats{Phase: p}
		var lat []time.Duration
		for i := range ops {
			op := &ops[i]
			if op.Phase != p {
				continue
			}
			s.Requests++
			switch op.Resp.Outcome {
			case OK, CompareFailed:
				s.OK++
				lat = append(lat, op.Took)
			case Unknown:
				s.Unknown++
			default:
				s.Failed++
			}
		}
		if len(lat) > 0 {
			slices.Sort(lat)
			s.P50 = lat[len(lat)/2]
			s.P99 = lat[len(lat)*99/100]
			s.Max = lat[len(lat)-1]
		}
		out = append(out, s)
	}
	return out
}

// writeFailingKeys checks each key alone and writes the history of those
// that are not linearizable to a text file, in call order.
func writeFailingKeys(ops []Op, dir, slug string) (string, []string) {
	byKey := map[string][]Op{}
	for _, op := range ops {
		byKey[op.Req.Key] = append(byKey[op.Req.Key], op)
	}
	var bad []string
	var b strings.Builder
	keys := make([]string, 0, len(byKey))
	for k := range byKey {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v := CheckHistory(byKey[k], "")
		if v.Result == porcupine.Ok {
			continue
		}
		bad = append(bad, k)
		fmt.Fprintf(&b, "== key %s: %s\n", k, v.Result)
		for _, op := range byKey[k] {
			ret := "∞"
			if op.Return != int64(^uint64(0)>>1) {
				ret = time.Duration(op.Return).String()
			}
			fmt.Fprintf(&b, "client %3d node %d/%d %-6s [%s, %s] %s  %d %s\n", op.Client, op.Node, op.Incarnation, op.Phase,
				time.Duration(op.Call), ret, describe(op.Req, op.Resp), op.Resp.Status, op.Resp.Err)
		}
	}
	if len(bad) == 0 {
		return "", nil
	}
	os.MkdirAll(dir, 0o755)
	path := filepath.Join(dir, slug+"-history.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return "", bad
	}
	return path, bad
}
