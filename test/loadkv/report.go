package main

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/trellis-cp/trellis/test/internal/loadstat"
)

// row is one line of the report: one operation on one cluster.
type row struct {
	Round  int    `json:"round"`
	System string `json:"system"`
	loadstat.Row
	// IdleRSSMiB is the largest node's resident memory once the cluster
	// was up, before any load; PeakRSSMiB its high-water mark so far.
	IdleRSSMiB float64 `json:"idle_rss_mib"`
	PeakRSSMiB float64 `json:"peak_rss_mib"`
	// NodeCPUs is how many CPUs the cluster's processes kept busy during
	// the window, summed over nodes; HostBusy the machine's busy share.
	NodeCPUs   float64 `json:"node_cpus"`
	DriverCPUs float64 `json:"driver_cpus"`
	HostBusy   float64 `json:"host_cpu_busy"`
	// OtherCPUs is the machine's busy CPUs minus the cluster's and the
	// driver's: kernel threads (writeback) and anything else running. A
	// large value means the row was disturbed.
	OtherCPUs float64 `json:"other_cpus"`
	// FsyncsPerSec sums every node's log fsyncs (etcd: WAL fsyncs);
	// FsyncMs is their mean duration; OpsPerFsync = ops × nodes / fsyncs,
	// above 1 when one fsync covers several writes (group commit).
	FsyncsPerSec float64 `json:"fsyncs_per_sec"`
	FsyncMs      float64 `json:"fsync_ms"`
	OpsPerFsync  float64 `json:"ops_per_fsync,omitempty"`
	// RevisionsPerOp is how far the store revision moved per put: 1 when
	// a put is the only write, more when other writes (Trellis's audit
	// entries) share the log.
	RevisionsPerOp float64 `json:"revisions_per_op,omitempty"`
	// OpsPerCPUSec is throughput per CPU-second the cluster used.
	OpsPerCPUSec float64 `json:"ops_per_cpu_sec"`
}

func newRow(system string, nodes int, op string, clients int, r *phaseResult, idleRSS, peakRSS float64) row {
	out := row{
		System: system, Row: loadstat.NewRow(nodes, op, clients, &r.Samples, r.Elapsed),
		IdleRSSMiB: idleRSS, PeakRSSMiB: peakRSS,
		NodeCPUs: r.NodeCPU, DriverCPUs: r.DriverCPU, HostBusy: r.HostBusy,
	}
	if r.NodeCPU > 0 {
		out.OpsPerCPUSec = out.OpsPerSec / r.NodeCPU
	}
	if st := r.Storage; st.ok {
		out.FsyncsPerSec = st.Fsyncs / r.Elapsed.Seconds()
		if st.Fsyncs > 0 {
			out.FsyncMs = 1000 * st.FsyncSeconds / st.Fsyncs
			if op == "put" {
				out.OpsPerFsync = float64(r.Ops) * float64(nodes) / st.Fsyncs
			}
		}
		if op == "put" && r.Ops > 0 {
			out.RevisionsPerOp = st.Revision / float64(r.Ops)
		}
	}
	out.OtherCPUs = max(0, r.HostBusy*float64(runtime.NumCPU())-r.NodeCPU-r.DriverCPU)
	return out
}

func withRound(rows []row, round int) []row {
	for i := range rows {
		rows[i].Round = round
	}
	return rows
}

// medianRows keeps, for every system, size and operation (in the order
// they first ran), the round with the median throughput (the lower middle
// one for an even count).
func medianRows(all []row) []row {
	type key struct {
		system string
		nodes  int
		op     string
	}
	var order []key
	groups := map[key][]row{}
	for _, r := range all {
		k := key{r.System, r.Nodes, r.Op}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []row
	for _, k := range order {
		g := groups[k]
		slices.SortStableFunc(g, func(a, b row) int { return cmp.Compare(a.OpsPerSec, b.OpsPerSec) })
		out = append(out, g[(len(g)-1)/2])
	}
	return out
}

func dashIfZero(format string, v float64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf(format, v)
}

// opLabel names an operation in the tables.
func opLabel(op string) string {
	if op == "get" {
		return "linearizable get"
	}
	return op
}

// printTable writes the rows as an aligned text table.
func printTable(w io.Writer, rows []row) {
	cells := [][]string{{"system", "cluster", "op", "clients", "ops", "ops/s", "p50 ms", "p99 ms", "max ms", "errors", "node CPUs", "driver CPUs", "other CPUs", "ops/CPU-s", "fsyncs/s", "fsync ms", "ops/fsync", "idle RSS MiB", "peak RSS MiB"}}
	for _, r := range rows {
		cells = append(cells, []string{
			r.System, plural(r.Nodes, "node"), opLabel(r.Op), fmt.Sprint(r.Clients), fmt.Sprint(r.Ops),
			fmt.Sprintf("%.0f", r.OpsPerSec), fmt.Sprintf("%.2f", r.P50Ms), fmt.Sprintf("%.2f", r.P99Ms),
			fmt.Sprintf("%.1f", r.MaxMs), fmt.Sprint(r.Errors), fmt.Sprintf("%.2f", r.NodeCPUs), fmt.Sprintf("%.2f", r.DriverCPUs), fmt.Sprintf("%.2f", r.OtherCPUs),
			fmt.Sprintf("%.0f", r.OpsPerCPUSec), fmt.Sprintf("%.0f", r.FsyncsPerSec), fmt.Sprintf("%.2f", r.FsyncMs),
			dashIfZero("%.1f", r.OpsPerFsync), fmt.Sprintf("%.0f", r.IdleRSSMiB), fmt.Sprintf("%.0f", r.PeakRSSMiB),
		})
	}
	loadstat.WriteCells(w, cells, 3)
}

// comparison is Trellis against etcd for one cluster size and operation.
type comparison struct {
	Nodes      int     `json:"nodes"`
	Op         string  `json:"op"`
	TrellisOps float64 `json:"trellis_ops_per_sec"`
	EtcdOps    float64 `json:"etcd_ops_per_sec"`
	// Ratio is the median of RoundRatios, Trellis's throughput over etcd's
	// in the same round.
	Ratio        float64   `json:"throughput_ratio"`
	RoundRatios  []float64 `json:"round_ratios"`
	TrellisP99Ms float64   `json:"trellis_p99_ms"`
	EtcdP99Ms    float64   `json:"etcd_p99_ms"`
	// FloorOps is the HTTP floor's throughput under the same load (0 when
	// it was not measured): no Go HTTP server in Trellis's place could do
	// better on this machine with this driver.
	FloorOps float64 `json:"floor_ops_per_sec,omitempty"`
	// MeetsTarget: at least 2x etcd's throughput with a p99 no worse.
	MeetsTarget bool `json:"meets_target"`
}

// targetRatio is the goal: Trellis at least twice etcd's throughput.
const targetRatio = 2.0

// compare pairs every Trellis row of results (each the round with the
// median throughput) with the etcd row of the same size and operation. The
// ratio it judges is paired by round: Trellis and etcd run one after the
// other within a round, and the machine's speed moves more between rounds
// than within one, so each round gives one ratio and the median of those
// (the lower middle for an even count) is the verdict's.
func compare(results, all []row) []comparison {
	var out []comparison
	for _, t := range results {
		if t.System != "trellis" {
			continue
		}
		for _, e := range results {
			if e.System != "etcd" || e.Nodes != t.Nodes || e.Op != t.Op || e.OpsPerSec == 0 {
				continue
			}
			c := comparison{
				Nodes: t.Nodes, Op: t.Op, TrellisOps: t.OpsPerSec, EtcdOps: e.OpsPerSec,
				RoundRatios: roundRatios(all, t.Nodes, t.Op), TrellisP99Ms: t.P99Ms, EtcdP99Ms: e.P99Ms,
			}
			if len(c.RoundRatios) == 0 {
				c.RoundRatios = []float64{t.OpsPerSec / e.OpsPerSec}
			}
			sorted := slices.Sorted(slices.Values(c.RoundRatios))
			c.Ratio = sorted[(len(sorted)-1)/2]
			c.MeetsTarget = c.Ratio >= targetRatio && c.TrellisP99Ms <= c.EtcdP99Ms && t.Errors == 0
			for _, f := range results {
				if f.System == "http-floor" && f.Nodes == t.Nodes && f.Op == t.Op {
					c.FloorOps = f.OpsPerSec
				}
			}
			out = append(out, c)
		}
	}
	return out
}

// roundRatios is Trellis's throughput over etcd's for one size and
// operation, per round in which both ran, in round order (all is).
func roundRatios(all []row, nodes int, op string) []float64 {
	var out []float64
	for _, t := range all {
		if t.System != "trellis" || t.Nodes != nodes || t.Op != op {
			continue
		}
		for _, e := range all {
			if e.System == "etcd" && e.Round == t.Round && e.Nodes == nodes && e.Op == op && e.OpsPerSec > 0 {
				out = append(out, t.OpsPerSec/e.OpsPerSec)
			}
		}
	}
	return out
}

func printComparisons(w io.Writer, cs []comparison) {
	paired := slices.ContainsFunc(cs, func(c comparison) bool { return len(c.RoundRatios) > 1 })
	head := []string{"cluster", "op", "trellis ops/s", "etcd ops/s", "trellis/etcd", "trellis p99 ms", "etcd p99 ms", "target (>= 2x, p99 no worse)"}
	if paired {
		head[4] = "trellis/etcd (median round)"
		head = append(head, "per round")
	}
	cells := [][]string{head}
	for _, c := range cs {
		verdict := "met"
		if !c.MeetsTarget {
			var why []string
			if c.Ratio < targetRatio {
				why = append(why, fmt.Sprintf("%.2fx < %.0fx", c.Ratio, targetRatio))
			}
			if c.TrellisP99Ms > c.EtcdP99Ms {
				why = append(why, "p99 worse")
			}
			if len(why) == 0 {
				why = append(why, "errors")
			}
			verdict = "missed: " + strings.Join(why, ", ")
		}
		line := []string{
			plural(c.Nodes, "node"), opLabel(c.Op), fmt.Sprintf("%.0f", c.TrellisOps), fmt.Sprintf("%.0f", c.EtcdOps),
			fmt.Sprintf("%.2fx", c.Ratio), fmt.Sprintf("%.2f", c.TrellisP99Ms), fmt.Sprintf("%.2f", c.EtcdP99Ms), verdict,
		}
		if paired {
			rs := make([]string, len(c.RoundRatios))
			for i, r := range c.RoundRatios {
				rs[i] = fmt.Sprintf("%.2f", r)
			}
			line = append(line, strings.Join(rs, " "))
		}
		cells = append(cells, line)
	}
	loadstat.WriteCells(w, cells, 2)
	floor := [][]string{{"cluster", "op", "http-floor ops/s", "floor/etcd", "trellis/floor"}}
	for _, c := range cs {
		if c.FloorOps > 0 {
			floor = append(floor, []string{plural(c.Nodes, "node"), opLabel(c.Op), fmt.Sprintf("%.0f", c.FloorOps),
				fmt.Sprintf("%.2fx", c.FloorOps/c.EtcdOps), fmt.Sprintf("%.2f", c.TrellisOps/c.FloorOps)})
		}
	}
	if len(floor) > 1 {
		fmt.Fprintln(w, "\nThe HTTP floor: Go net/http servers that decode each request and answer its shape, storing nothing.")
		loadstat.WriteCells(w, floor, 2)
	}
}

// report is the -json document.
type report struct {
	Started     time.Time    `json:"started"`
	GoVersion   string       `json:"go_version"`
	CPUs        int          `json:"cpus"`
	BusyBefore  float64      `json:"host_cpu_busy_before"`
	EtcdVersion string       `json:"etcd_version,omitempty"`
	Duration    string       `json:"duration"`
	Warmup      string       `json:"warmup"`
	Load        options      `json:"load"`
	Results     []row        `json:"results"`
	AllRounds   []row        `json:"all_rounds,omitempty"`
	Comparisons []comparison `json:"comparisons,omitempty"`
}

func writeJSON(path string, rep report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
