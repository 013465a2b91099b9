// Package storetest starts real one-node stores for the tests of packages
// built on core/store (auth, audit): a real raft node on a free loopback
// port and real Badger directories in the test's temp dir.
package storetest

import (
	"log/slog"
	"net"
	"os"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// Logger logs warnings, or everything with TRELLISTEST_DEBUG set.
func Logger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TRELLISTEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// Open starts a one-node store that leads, closed when the test ends.
func Open(t testing.TB) *store.Store {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(store.Options{
		DataDir: t.TempDir(),
		Raft: raft.Config{
			ID: 1, Name: "node-1", PeerAddr: ln.Addr().String(), Listener: ln,
			SnapshotCount: 10000, SnapshotCatchupEntries: 5000,
			TickInterval: 20 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1,
			RequestTimeout: 3 * time.Second,
		},
		Logger:      Logger(),
		TTLInterval: 50 * time.Millisecond,
	})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	testutil.Eventually(t, 10*time.Second, "a leader", func() bool { return s.Raft().IsLeader() })
	return s
}
