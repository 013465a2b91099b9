package main

import (
	"os"
	"runtime"
)

// extraProcs is how many more Ps (goroutine run slots) a node runs with
// than the runtime would give it. A thread in a blocking system call keeps
// its P until the runtime's monitor hands the P on, tens of microseconds
// later, and a node makes such calls all the time: the raft loop's WAL
// fsync, Badger's writes, every socket write. Meanwhile the goroutine
// that call just woke (the applier, Badger's writer, a proposer whose
// entry committed) waits for a P. Two spare Ps let it run at once. On two
// CPUs this gave ~13 % more puts per second on one node and a lower p99
// (docs/benchmarks.md, fifth session).
const extraProcs = 2

// serveProcs is the GOMAXPROCS a node runs with: the runtime's choice
// (current; the CPUs it may use) plus extraProcs, unless the operator set
// GOMAXPROCS in the environment (env), which is then kept as it is.
func serveProcs(env string, current int) int {
	if env != "" {
		return current
	}
	return current + extraProcs
}

// setServeProcs applies serveProcs to this process.
func setServeProcs() {
	runtime.GOMAXPROCS(serveProcs(os.Getenv("GOMAXPROCS"), runtime.GOMAXPROCS(0)))
}
