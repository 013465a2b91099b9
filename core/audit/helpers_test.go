package audit

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/internal/storetest"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/internal/testutil"
)

func testLogger() *slog.Logger { return storetest.Logger() }

// openNamespace starts a one-node store and returns its core.audit
// namespace once the node leads.
func openNamespace(t testing.TB) *store.Namespace {
	t.Helper()
	ns, err := storetest.Open(t).Namespace(Namespace)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// newLog builds a Log on a fresh store; the pruner stays idle unless the
// test asks for it, so tests call Prune themselves.
func newLog(t *testing.T, opts Options) *Log {
	t.Helper()
	ns := openNamespace(t)
	if opts.NodeID == 0 {
		opts.NodeID = 7
	}
	if opts.PruneInterval == 0 {
		opts.PruneInterval = time.Hour
	}
	if opts.Logger == nil {
		opts.Logger = testLogger()
	}
	l := New(ns, opts)
	t.Cleanup(func() { l.Close(context.Background()) })
	return l
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

// waitTotal waits until the log holds n entries.
func waitTotal(t *testing.T, l *Log, n int) {
	t.Helper()
	var got int
	testutil.Eventually(t, 10*time.Second, "audit entries written", func() bool {
		p, err := l.List(ctx(t), Query{PageSize: 1})
		if err != nil {
			return false
		}
		got = p.Total
		return got >= n
	})
	if got != n {
		t.Fatalf("log holds %d entries, want %d", got, n)
	}
}

// all returns every entry, newest first.
func all(t *testing.T, l *Log) []Entry {
	t.Helper()
	p, err := l.List(ctx(t), Query{PageSize: MaxPageSize})
	if err != nil {
		t.Fatal(err)
	}
	return p.Entries
}

// batches returns every stored batch, oldest first.
func batches(t *testing.T, l *Log) []*store.KV {
	t.Helper()
	res, err := l.ns.List(ctx(t), keyPrefix, store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return res.KVs
}

// rawValues returns every stored byte of the namespace, batches inflated
// (a secret must not hide in compressed form either).
func rawValues(t *testing.T, l *Log) [][]byte {
	t.Helper()
	res, err := l.ns.List(ctx(t), "", store.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, kv := range res.KVs {
		raw, err := batchJSON(kv.Value)
		if err != nil {
			t.Fatalf("%s: %v", kv.Key, err)
		}
		out = append(out, []byte(kv.Key), raw)
	}
	return out
}
