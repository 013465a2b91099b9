package testutil

import "testing"

// ProcessCPU grows while this process computes.
func TestProcessCPUGrows(t *testing.T) {
	before, err := ProcessCPU()
	if err != nil {
		t.Fatal(err)
	}
	x := uint64(1)
	for i := 0; i < 50_000_000; i++ {
		x = x*6364136223846793005 + 1442695040888963407
	}
	after, err := ProcessCPU()
	if err != nil {
		t.Fatal(err)
	}
	if after <= before {
		t.Fatalf("CPU time %v after a busy loop (result %d), %v before", after, x, before)
	}
}
