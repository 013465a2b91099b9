package testutil

import (
	"fmt"
	"syscall"
	"testing"
	"time"
)

// ProcessCPU is the user and system CPU time this process has used.
// Benchmarks report CPU per operation with it: on a busy machine it moves
// less between runs than wall time does.
func ProcessCPU() (time.Duration, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0, fmt.Errorf("getrusage: %w", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), nil
}

// MustProcessCPU is ProcessCPU for a test or benchmark, which it fails
// when the time cannot be read.
func MustProcessCPU(tb testing.TB) time.Duration {
	tb.Helper()
	d, err := ProcessCPU()
	if err != nil {
		tb.Fatal(err)
	}
	return d
}
