package audit

import (
	"context"
	"testing"
	"time"
)

// BenchmarkListPage reads page 1 of a full log (DefaultMaxEntries entries in
// batches of DefaultBatchSize): List reads every batch and sorts by time,
// so this is the cost of one audit-logs request at the log's bound.
func BenchmarkListPage(b *testing.B) {
	ns := openNamespace(b)
	l := New(ns, Options{NodeID: 1, FlushInterval: 20 * time.Millisecond, PruneInterval: time.Hour, Logger: testLogger()})
	b.Cleanup(func() { l.Close(context.Background()) })
	t0 := time.Now()
	for i := 0; i < DefaultMaxEntries; i++ {
		l.Record(Entry{Time: t0.Add(time.Duration(i)), Operation: "PUT /api/kv/v3/put", Target: "/bench/key",
			Params: `{"body":{"ttl":0,"value_bytes":256}}`, Status: 200, Username: "admin", RequestID: "5LH6VKFQ46LH-bd", ClientAddr: "127.0.0.1:49500"})
		if i%DefaultBatchSize == DefaultBatchSize-1 {
			time.Sleep(time.Millisecond) // let the flusher keep up with the buffer
		}
	}
	ctx := context.Background()
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := l.List(ctx, Query{PageSize: 1})
		if err == nil && p.Total == DefaultMaxEntries {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("log holds %d entries, want %d (%v)", p.Total, DefaultMaxEntries, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := l.List(ctx, Query{}); err != nil {
			b.Fatal(err)
		}
	}
}
