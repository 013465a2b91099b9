package robustness

import (
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// faultMatrix is every fault the full run injects, on 3 and on 5 nodes.
// Network faults last well past the nodes' 3s request timeout, so the
// clients' requests that were stuck on the cut-off leader time out and
// traffic goes on against the new one while the fault holds.
func faultMatrix() []Fault {
	const hold = 8 * time.Second
	return []Fault{
		KillFault(true),
		KillFault(false),
		NetFault("partition", true, LinkFault{Kind: Partition}, hold),
		NetFault("partition", false, LinkFault{Kind: Partition}, hold),
		NetFault("blackhole", true, LinkFault{Kind: Blackhole}, hold),
		NetFault("blackhole", false, LinkFault{Kind: Blackhole}, hold),
		AllLinksFault("delay", LinkFault{Kind: Delay, Delay: 75 * time.Millisecond, Jitter: 50 * time.Millisecond}, hold),
		AllLinksFault("drop", LinkFault{Kind: Drop, DropRate: 0.5}, hold),
		TransferFault(3),
		MemberReplaceFault(),
		SnapshotFault("", 0),
		FailpointFault("raftBeforeSave", true),
		FailpointFault("raftBeforeSave", false),
		FailpointFault("raftAfterSave", true),
		FailpointFault("raftAfterSave", false),
		FailpointFault("raftBeforeApply", true),
		FailpointFault("raftBeforeApply", false),
		SnapshotFault("raftBeforeSnapshotRestore=kill", 0),
		// About 24 MB of snapshot: ~90 reads of 256 KiB, ~10 loader
		// batches; killed at a read in the middle.
		SnapshotFault(fmt.Sprintf("storageDuringSnapshotRestore=kill@%d", 10+rand.IntN(60)), 12<<20),
	}
}

// shortFaults is the pass `go test ./...` runs: a crash, a partition and a
// failpoint, on 3 nodes.
func shortFaults() []Fault {
	return []Fault{
		KillFault(true),
		NetFault("partition", true, LinkFault{Kind: Partition}, 5*time.Second),
		FailpointFault("raftBeforeApply", true),
	}
}

func traffic() TrafficConfig {
	rate, clients := 200.0, 2
	if full {
		rate, clients = 300, 3
	}
	if v, err := strconv.ParseFloat(os.Getenv("TRELLIS_ROBUSTNESS_RATE"), 64); err == nil && v > 0 {
		rate = v
	}
	return TrafficConfig{Rate: rate, ClientsPerNode: clients, Keys: 10}
}

func selected(t *testing.T, name string) bool {
	pat := os.Getenv("TRELLIS_ROBUSTNESS_RUN")
	if pat == "" {
		return true
	}
	ok, err := regexp.MatchString(pat, name)
	if err != nil {
		t.Fatalf("TRELLIS_ROBUSTNESS_RUN: %v", err)
	}
	return ok
}

// TestRobustness runs each fault under traffic on a fresh cluster and
// checks linearizability, stale reads and convergence.
func TestRobustness(t *testing.T) {
	faults, sizes := shortFaults(), []int{3}
	if full {
		faults, sizes = faultMatrix(), []int{3, 5}
	}
	for _, size := range sizes {
		for _, f := range faults {
			name := fmt.Sprintf("%s/%dnodes", f.Name, size)
			t.Run(name, func(t *testing.T) {
				if !selected(t, name) {
					t.Skip("not selected by TRELLIS_ROBUSTNESS_RUN")
				}
				sc := Scenario{Name: f.Name, Nodes: size, Fault: f, Traffic: traffic(), Before: 2 * time.Second, After: 3 * time.Second}
				report.Add(RunScenario(t, bin, sc, reportDir))
			})
		}
	}
}

// TestCrashLoop SIGKILLs a one-node cluster under writes (5 times in the
// short pass, 50 in the full one) and checks every acknowledged write after
// each restart.
func TestCrashLoop(t *testing.T) {
	if !selected(t, "crash-loop") {
		t.Skip("not selected by TRELLIS_ROBUSTNESS_RUN")
	}
	kills := 5
	if full {
		kills = 50
	}
	report.AddCrash(RunCrashLoop(t, bin, kills, reportDir))
}
