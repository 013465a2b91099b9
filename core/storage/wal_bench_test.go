//go:build unix

package storage

import (
	"fmt"
	"testing"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/trellis-cp/trellis/internal/testutil"
)

// BenchmarkWALSaveSync is one Ready per op: 300-byte entries (3, about
// 1 KiB of records, or 13, about 4 KiB: every op then starts new blocks)
// and a hard state, synced. "zeroed" writes into a zero-filled segment, as
// spares are; "fallocated" into one made by fallocate alone, as every
// segment was before zeroFill (and as a rollover without a spare still
// makes); "buffered" is "zeroed" without direct writes (see appender), as
// on a file system without O_DIRECT. No rollover happens. Besides ns/op it reports the process's CPU
// per op (getrusage) and the mean fdatasync time.
//
//	go test -run '^$' -bench WALSaveSync -benchtime 3000x -count 5 ./core/storage/
func BenchmarkWALSaveSync(b *testing.B) {
	for _, mode := range []string{"zeroed", "buffered", "fallocated"} {
		for _, n := range []int{3, 13} {
			b.Run(fmt.Sprintf("%s/%dx300B", mode, n), func(b *testing.B) {
				benchSaveSync(b, mode, n)
			})
		}
	}
}

// benchSaveSync runs one case of BenchmarkWALSaveSync: perOp entries per
// synced Save into a segment made as mode says.
func benchSaveSync(b *testing.B, mode string, perOp int) {
	if mode == "buffered" {
		b.Cleanup(func() { directWrites = true })
		directWrites = false
	}
	dir := b.TempDir()
	// A full-size segment (not a new log's smaller first one), big enough
	// that the log never asks for a spare.
	size := max(int64(defaultSegmentSize), int64(b.N)*int64(perOp)*2*400)
	_, f, err := createSegment(dir, 1, 1, size, nil, mode != "fallocated")
	if err != nil {
		b.Fatal(err)
	}
	f.Close()
	s, err := openLogStore(dir, quiet(), size)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	data := make([]byte, 300)
	ents := make([]raftpb.Entry, perOp)
	next := uint64(1)
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := testutil.MustProcessCPU(b)
	for i := 0; i < b.N; i++ {
		for j := range ents {
			ents[j] = raftpb.Entry{Term: 1, Index: next, Data: data}
			next++
		}
		if err := s.Save(raftpb.HardState{Term: 1, Vote: 1, Commit: next - 1}, ents, true); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	cpu := testutil.MustProcessCPU(b) - cpu0
	n, total := s.Fsyncs()
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	b.ReportMetric(float64(total.Nanoseconds())/float64(n), "fsync-ns/op")
}
