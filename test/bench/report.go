package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/trellis-cp/trellis/test/internal/loadstat"
)

// row is one line of the report: one phase on one cluster.
type row struct {
	loadstat.Row
	// NodeFsyncs is each node's raft log fsync count in the window.
	NodeFsyncs []uint64 `json:"node_fsyncs"`
	// FsyncsPerSec sums every node's fsyncs.
	FsyncsPerSec float64 `json:"fsyncs_per_sec"`
	// FsyncAvgMs is the mean duration of one fsync.
	FsyncAvgMs float64 `json:"fsync_avg_ms"`
	// ProposalsPerFsync is, for puts, how many proposals one node's fsync
	// covers on average: ops × nodes / fsyncs summed over nodes (every node
	// persists every entry). Above 1 means group commit is at work.
	ProposalsPerFsync float64 `json:"proposals_per_fsync,omitempty"`
	// Elections counts terms started during the phase (0 in a stable run).
	Elections uint64 `json:"elections"`
}

// newRow turns a phase result into a report line.
func newRow(nodes int, op string, clients int, r *phaseResult) row {
	var fsyncs uint64
	for _, n := range r.Fsyncs {
		fsyncs += n
	}
	out := row{
		Row:        loadstat.NewRow(nodes, op, clients, &r.Samples, r.Elapsed),
		NodeFsyncs: r.Fsyncs, Elections: r.Elections,
		FsyncsPerSec: float64(fsyncs) / r.Elapsed.Seconds(),
	}
	if fsyncs > 0 {
		out.FsyncAvgMs = loadstat.Ms(r.FsyncTime) / float64(fsyncs)
		if op == "put" {
			out.ProposalsPerFsync = float64(r.Ops) * float64(nodes) / float64(fsyncs)
		}
	}
	return out
}

// printTable writes the rows as an aligned text table.
func printTable(w io.Writer, rows []row) {
	header := []string{"cluster", "op", "clients", "ops", "ops/s", "p50 ms", "p99 ms", "max ms", "errors", "fsyncs/s", "fsync ms", "props/fsync", "elections"}
	cells := [][]string{header}
	for _, r := range rows {
		perFsync := "-"
		if r.ProposalsPerFsync > 0 {
			perFsync = fmt.Sprintf("%.1f", r.ProposalsPerFsync)
		}
		fsyncMs := "-"
		if r.FsyncAvgMs > 0 {
			fsyncMs = fmt.Sprintf("%.2f", r.FsyncAvgMs)
		}
		cells = append(cells, []string{
			plural(r.Nodes, "node"), r.Op, fmt.Sprint(r.Clients), fmt.Sprint(r.Ops),
			fmt.Sprintf("%.0f", r.OpsPerSec), fmt.Sprintf("%.2f", r.P50Ms), fmt.Sprintf("%.2f", r.P99Ms),
			fmt.Sprintf("%.1f", r.MaxMs), fmt.Sprint(r.Errors), fmt.Sprintf("%.0f", r.FsyncsPerSec), fsyncMs, perFsync, fmt.Sprint(r.Elections),
		})
	}
	loadstat.WriteCells(w, cells, 2)
}

func plural(n int, word string) string {
	if n == 1 {
		return fmt.Sprintf("%d %s", n, word)
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// report is the -json document.
type report struct {
	Started   time.Time   `json:"started"`
	GoVersion string      `json:"go_version"`
	CPUs      int         `json:"cpus"`
	Duration  string      `json:"duration"`
	Warmup    string      `json:"warmup"`
	Load      loadConfig  `json:"load"`
	Results   []row       `json:"results"`
	Auth      *authResult `json:"auth,omitempty"`
}

// writeJSON writes rep to path, indented.
func writeJSON(path string, rep report) error {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
