// Package loadstat is what the load drivers under test/ (test/bench,
// test/loadkv) share: tallying operations inside a measuring window,
// latency percentiles, and the report columns every driver prints.
package loadstat

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// Tally is one worker's count inside the window; the workers' tallies
// are merged once the phase ends.
type Tally struct {
	Lat    []time.Duration // latencies of the operations that succeeded
	Errors int
	ErrMsg map[string]int // errors by message
}

// Fail counts one failed operation.
func (t *Tally) Fail(err error) {
	if t.ErrMsg == nil {
		t.ErrMsg = map[string]int{}
	}
	t.Errors++
	t.ErrMsg[err.Error()]++
}

// Samples is what the workers of one phase measured, merged.
type Samples struct {
	Ops       int
	Errors    int
	Latencies []time.Duration // sorted ascending
	// ErrSamples counts errors by message, to explain a non-zero Errors.
	ErrSamples map[string]int
}

// Merge merges the workers' tallies.
func Merge(tallies []Tally) Samples {
	s := Samples{ErrSamples: map[string]int{}}
	for _, w := range tallies {
		s.Latencies = append(s.Latencies, w.Lat...)
		s.Errors += w.Errors
		for m, n := range w.ErrMsg {
			s.ErrSamples[m] += n
		}
	}
	s.Ops = len(s.Latencies)
	slices.Sort(s.Latencies)
	return s
}

// Percentile is the nearest-rank percentile (0 < p <= 1) of the sorted
// latencies, 0 when there are none.
func (s *Samples) Percentile(p float64) time.Duration {
	n := len(s.Latencies)
	if n == 0 {
		return 0
	}
	i := int(float64(n)*p+0.999999) - 1
	return s.Latencies[min(max(i, 0), n-1)]
}

// Row is the columns every driver's report line starts with: one
// operation on one cluster. Drivers embed it in their own row type.
type Row struct {
	Nodes     int     `json:"nodes"`
	Op        string  `json:"op"`
	Clients   int     `json:"clients"`
	Ops       int     `json:"ops"`
	Seconds   float64 `json:"seconds"`
	OpsPerSec float64 `json:"ops_per_sec"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	MaxMs     float64 `json:"max_ms"`
	Errors    int     `json:"errors"`
	// ErrorSamples counts errors by message.
	ErrorSamples map[string]int `json:"error_samples,omitempty"`
}

// NewRow fills the common columns from what a phase measured over elapsed.
func NewRow(nodes int, op string, clients int, s *Samples, elapsed time.Duration) Row {
	secs := elapsed.Seconds()
	out := Row{
		Nodes: nodes, Op: op, Clients: clients, Ops: s.Ops, Seconds: secs,
		OpsPerSec: float64(s.Ops) / secs,
		P50Ms:     Ms(s.Percentile(0.50)), P99Ms: Ms(s.Percentile(0.99)), MaxMs: Ms(s.Percentile(1)),
		Errors: s.Errors,
	}
	if len(s.ErrSamples) > 0 {
		out.ErrorSamples = s.ErrSamples
	}
	return out
}

// Ms is d in (fractional) milliseconds.
func Ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// SleepUntil waits for t or for ctx to end.
func SleepUntil(ctx context.Context, t time.Time) {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-ctx.Done():
	}
}

// WriteCells aligns cells in columns: the first text columns left, the
// rest right (the last too when it is not a number), a rule under the
// header.
func WriteCells(w io.Writer, cells [][]string, textCols int) {
	widths := make([]int, len(cells[0]))
	for _, line := range cells {
		for i, c := range line {
			widths[i] = max(widths[i], len(c))
		}
	}
	for n, line := range cells {
		var b strings.Builder
		for i, c := range line {
			if i > 0 {
				b.WriteString("  ")
			}
			if i < textCols || i == len(line)-1 && n > 0 && !isNumber(c) {
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			} else {
				fmt.Fprintf(&b, "%*s", widths[i], c)
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
		if n == 0 {
			fmt.Fprintln(w, strings.Repeat("-", b.Len()))
		}
	}
}

func isNumber(s string) bool {
	var f float64
	_, err := fmt.Sscan(s, &f)
	return err == nil
}
