package robustness

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
)

// Report collects the results of a run and writes them as Markdown.
type Report struct {
	mu      sync.Mutex
	Started time.Time
	Mode    string
	Results []Result
	Crash   []CrashLoopResult
}

// Add records a scenario's result.
func (r *Report) Add(res Result) {
	r.mu.Lock()
	r.Results = append(r.Results, res)
	r.mu.Unlock()
}

// AddCrash records a crash loop's result.
func (r *Report) AddCrash(res CrashLoopResult) {
	r.mu.Lock()
	r.Crash = append(r.Crash, res)
	r.mu.Unlock()
}

// Empty reports whether nothing was recorded.
func (r *Report) Empty() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.Results) == 0 && len(r.Crash) == 0
}

// Write writes the report.
func (r *Report) Write(w io.Writer) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ops, checked, unknown, stale, acked, violations, lost, divergent int
	for _, res := range r.Results {
		ops += res.Verdict.Ops
		checked += res.Verdict.Checked
		unknown += res.Verdict.Unknown
		stale += res.Verdict.StaleReads
		acked += res.Convergence.AckedChecked
		if !res.Verdict.OK() {
			violations++
		}
		for _, p := range res.Convergence.Problems {
			if strings.HasPrefix(p, "acknowledged") {
				lost++
			} else {
				divergent++
			}
		}
	}
	for _, c := range r.Crash {
		lost += len(c.Lost)
	}
	fmt.Fprintf(w, "# Trellis robustness report\n\n")
	fmt.Fprintf(w, "Run %s, mode %s, took %s.\n\n", r.Started.Format(time.RFC3339), r.Mode, time.Since(r.Started).Round(time.Second))
	fmt.Fprintf(w, "- scenarios: %d (%d clean)\n", len(r.Results), countClean(r.Results))
	fmt.Fprintf(w, "- requests: %d; checked for linearizability: %d (%d writes of unknown outcome); stale reads checked: %d\n", ops, checked, unknown, stale)
	fmt.Fprintf(w, "- acknowledged writes read back at their revision (per member): %d\n", acked)
	fmt.Fprintf(w, "- scenarios with linearizability or stale-read violations: %d; lost acknowledged writes: %d; other convergence problems: %d\n", violations, lost, divergent)
	for _, c := range r.Crash {
		fmt.Fprintf(w, "- crash loop: %d SIGKILLs of a one-node cluster under writes, %d acknowledged writes checked after each restart, %d lost, %d restarts that failed; linearizability %s\n",
			c.Kills, c.AckedChecked, len(c.Lost), len(c.RestartFailures), c.Verdict.Result)
	}
	fmt.Fprintf(w, "\n## Scenarios\n\n")
	fmt.Fprintf(w, "| scenario | nodes | result | requests | checked | unknown | stale reads | acked read back | revision | took |\n")
	fmt.Fprintf(w, "|---|---|---|---|---|---|---|---|---|---|\n")
	for _, res := range r.Results {
		verdict := "clean"
		if len(res.Failures) > 0 || res.FaultErr != "" {
			verdict = fmt.Sprintf("**%d failures**", len(res.Failures)+btoi(res.FaultErr != ""))
		}
		fmt.Fprintf(w, "| %s | %d | %s | %d | %d | %d | %d | %d | %d | %s |\n", res.Name, res.Nodes, verdict,
			res.Verdict.Ops, res.Verdict.Checked, res.Verdict.Unknown, res.Verdict.StaleReads,
			res.Convergence.AckedChecked, res.Convergence.Revision, res.Duration.Round(time.Second))
	}
	fmt.Fprintf(w, "\n## Latency by phase\n\nSuccessful requests (including compare failures); unknown = timed out, broken or 5xx; failed = refused before anything was proposed.\n\n")
	fmt.Fprintf(w, "| scenario | nodes | phase | requests | ok | unknown | failed | p50 | p99 | max |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for _, res := range r.Results {
		for _, p := range res.Phases {
			fmt.Fprintf(w, "| %s | %d | %s | %d | %d | %d | %d | %s | %s | %s |\n", res.Name, res.Nodes, p.Phase, p.Requests, p.OK, p.Unknown, p.Failed,
				ms(p.P50), ms(p.P99), ms(p.Max))
		}
	}
	fmt.Fprintf(w, "\n## Details\n")
	for _, res := range r.Results {
		fmt.Fprintf(w, "\n### %s, %d nodes\n\n", res.Name, res.Nodes)
		for _, n := range res.Notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
		fmt.Fprintf(w, "- proxies: %d frames, %d dropped, %d delayed, %d connections refused, %d blackholed\n",
			res.Net.Frames, res.Net.Dropped, res.Net.Delayed, res.Net.Refused, res.Net.Blackholed)
		fmt.Fprintf(w, "- converged: %d members at revision %d, hash %d; %d acknowledged writes read back, %d below a read floor\n",
			res.Convergence.Members, res.Convergence.Revision, res.Convergence.Hash, res.Convergence.AckedChecked, res.Convergence.AckedSkipped)
		if res.FaultErr != "" {
			fmt.Fprintf(w, "- **fault error**: %s\n", res.FaultErr)
		}
		for _, f := range res.Failures {
			fmt.Fprintf(w, "- **%s**\n", f)
		}
		for _, n := range res.Verdict.StaleNotes {
			fmt.Fprintf(w, "- note: stale read across a restart: %s\n", n)
		}
	}
	for _, c := range r.Crash {
		fmt.Fprintf(w, "\n### crash loop\n\n- %d kills, %d restarts, %d acknowledged writes checked after restarts, %d requests checked for linearizability (%d unknown)\n",
			c.Kills, c.Restarts, c.AckedChecked, c.Verdict.Checked, c.Verdict.Unknown)
		for _, l := range c.Lost {
			fmt.Fprintf(w, "- **lost: %s**\n", l)
		}
		for _, f := range c.RestartFailures {
			fmt.Fprintf(w, "- **restart failed: %s**\n", f)
		}
		for _, f := range c.Failures {
			fmt.Fprintf(w, "- **%s**\n", f)
		}
	}
}

func countClean(rs []Result) int {
	n := 0
	for _, r := range rs {
		if len(r.Failures) == 0 && r.FaultErr == "" {
			n++
		}
	}
	return n
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func ms(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fms", float64(d)/float64(time.Millisecond))
}
