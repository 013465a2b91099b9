package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/trellis-cp/trellis/test/internal/loadstat"
)

func testRow(round int, system string, nodes int, op string, opsPerSec, p99 float64) row {
	return row{Round: round, System: system, Row: loadstat.Row{Nodes: nodes, Op: op, OpsPerSec: opsPerSec, P99Ms: p99}}
}

// Three rounds in which the machine slows down: Trellis's median round
// over etcd's median round would say 1.5x, the rounds themselves say 2x.
func TestCompareMedianOfPairedRounds(t *testing.T) {
	all := []row{
		testRow(1, "trellis", 1, "put", 16000, 10), testRow(1, "etcd", 1, "put", 8000, 20),
		testRow(2, "trellis", 1, "put", 12000, 10), testRow(2, "etcd", 1, "put", 6500, 20),
		testRow(3, "trellis", 1, "put", 9000, 10), testRow(3, "etcd", 1, "put", 4000, 20),
	}
	cs := compare(medianRows(all), all)
	if len(cs) != 1 {
		t.Fatalf("got %d comparisons, want 1: %+v", len(cs), cs)
	}
	c := cs[0]
	if want := []float64{2, 12000.0 / 6500, 2.25}; !slices.Equal(c.RoundRatios, want) {
		t.Errorf("round ratios %v, want %v", c.RoundRatios, want)
	}
	if c.Ratio != 2 {
		t.Errorf("ratio %.3f, want the median round's 2", c.Ratio)
	}
	if c.TrellisOps != 12000 || c.EtcdOps != 6500 {
		t.Errorf("ops/s %v and %v, want the median rows' 12000 and 6500", c.TrellisOps, c.EtcdOps)
	}
	if !c.MeetsTarget {
		t.Errorf("target not met at a median ratio of 2 with a better p99")
	}
}

// An even count takes the lower middle ratio, as medianRows takes the
// lower middle row; a round etcd did not run in gives no ratio.
func TestCompareEvenRoundsAndMissingPartner(t *testing.T) {
	all := []row{
		testRow(1, "trellis", 3, "put", 7000, 20), testRow(1, "etcd", 3, "put", 4000, 30),
		testRow(2, "trellis", 3, "put", 9000, 20), testRow(2, "etcd", 3, "put", 4000, 30),
		testRow(3, "trellis", 3, "put", 5000, 20),
		testRow(1, "trellis", 1, "put", 99999, 1), // another size: not paired with 3 nodes
	}
	cs := compare(medianRows(all), all)
	var c *comparison
	for i := range cs {
		if cs[i].Nodes == 3 {
			c = &cs[i]
		}
	}
	if c == nil {
		t.Fatalf("no 3-node comparison in %+v", cs)
	}
	if want := []float64{1.75, 2.25}; !slices.Equal(c.RoundRatios, want) {
		t.Errorf("round ratios %v, want %v", c.RoundRatios, want)
	}
	if c.Ratio != 1.75 || c.MeetsTarget {
		t.Errorf("ratio %.2f met=%v, want the lower middle 1.75, missed", c.Ratio, c.MeetsTarget)
	}
}

func TestCompareTargetNeedsP99NoWorse(t *testing.T) {
	all := []row{testRow(1, "trellis", 1, "get", 30000, 25), testRow(1, "etcd", 1, "get", 6000, 20)}
	cs := compare(medianRows(all), all)
	if len(cs) != 1 || cs[0].Ratio != 5 || cs[0].MeetsTarget {
		t.Fatalf("got %+v, want one comparison at 5x that misses on p99", cs)
	}
	var out bytes.Buffer
	printComparisons(&out, cs)
	if !strings.Contains(out.String(), "missed: p99 worse") {
		t.Errorf("verdict not printed:\n%s", out.String())
	}
	if strings.Contains(out.String(), "per round") {
		t.Errorf("one round printed a per-round column:\n%s", out.String())
	}
}

func TestPrintComparisonsShowsRounds(t *testing.T) {
	all := []row{
		testRow(1, "trellis", 1, "put", 15000, 10), testRow(1, "etcd", 1, "put", 7000, 20),
		testRow(2, "trellis", 1, "put", 13000, 10), testRow(2, "etcd", 1, "put", 7000, 20),
	}
	var out bytes.Buffer
	printComparisons(&out, compare(medianRows(all), all))
	for _, want := range []string{"median round", "per round", "2.14 1.86", "1.86x", "missed: 1.86x < 2x"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
