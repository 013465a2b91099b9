package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/storage"
	"github.com/trellis-cp/trellis/internal/testutil"
)

func testLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TRELLISTEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

func raftConfig(id uint64, addr string, cluster map[uint64]string) raft.Config {
	return raft.Config{
		ID: id, Name: fmt.Sprintf("node-%d", id), PeerAddr: addr, InitialCluster: cluster,
		SnapshotCount: 10000, SnapshotCatchupEntries: 5000,
		TickInterval: 20 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1,
		RequestTimeout: 3 * time.Second,
	}
}

// openSingle starts a one-node store in dir (a fresh temp dir when empty).
func openSingle(t *testing.T, dir string) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	addr := testutil.FreeAddr(t)
	s, err := Open(Options{DataDir: dir, Raft: raftConfig(1, addr, nil), Logger: testLogger(), TTLInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	waitLeader(t, s)
	return s
}

// reopen closes s and opens the store in dir again, as a restart would,
// returning it and its namespace name; the test's end closes it.
func reopen(t *testing.T, s *Store, dir, name string) (*Store, *Namespace) {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openSingle(t, dir)
	t.Cleanup(func() { s.Close() })
	return s, ns(t, s, name)
}

// openSingleWith starts a one-node store in dir (a fresh temp dir when
// empty) with options adjusted by set.
func openSingleWith(t *testing.T, dir string, set func(*Options)) *Store {
	t.Helper()
	if dir == "" {
		dir = t.TempDir()
	}
	opts := Options{DataDir: dir, Raft: raftConfig(1, testutil.FreeAddr(t), nil), Logger: testLogger(), TTLInterval: 50 * time.Millisecond}
	if set != nil {
		set(&opts)
	}
	s, err := Open(opts)
	if err != nil {
		t.Fatalf("open store: %v", err)
	}
	waitLeader(t, s)
	return s
}

func waitLeader(t *testing.T, stores ...*Store) {
	t.Helper()
	testutil.Eventually(t, 10*time.Second, "a leader", func() bool {
		for _, s := range stores {
			if s.Raft().Leader() == 0 {
				return false
			}
		}
		return true
	})
}

func ns(t *testing.T, s *Store, name string) *Namespace {
	t.Helper()
	n, err := s.Namespace(name)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustPut(t *testing.T, n *Namespace, key, value string) *TxnResult {
	t.Helper()
	res, err := n.Put(ctx(t), key, []byte(value), PutOptions{})
	if err != nil {
		t.Fatalf("put %s: %v", key, err)
	}
	return res
}

// mustOp returns a function that unwraps an op builder's result or fails
// the test: mustOp(t)(n.PutOp(...)).
func mustOp(t *testing.T) func(Op, error) Op {
	return func(op Op, err error) Op {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return op
	}
}

// mustTxn runs ops as one unconditional transaction.
func mustTxn(t *testing.T, n *Namespace, ops ...Op) *TxnResult {
	t.Helper()
	res, err := n.Txn(ctx(t), nil, ops, nil)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func mustGet(t *testing.T, n *Namespace, key string, o ReadOptions) *KV {
	t.Helper()
	kv, err := n.Get(ctx(t), key, o)
	if err != nil {
		t.Fatalf("get %s: %v", key, err)
	}
	return kv
}

func contextWithCancel(t *testing.T) (context.Context, context.CancelFunc) {
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	return c, cancel
}

// openStateMachine opens the state store of a closed store's dir and a
// state machine on it, with no raft node: for tests that drive restores
// and reads directly. The state store closes at cleanup.
func openStateMachine(t *testing.T, dir string) (*stateMachine, *storage.StateDB) {
	t.Helper()
	st, err := storage.OpenStateDB(filepath.Join(dir, "state"), testLogger())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	sm, err := newStateMachine(st, testLogger())
	if err != nil {
		t.Fatal(err)
	}
	return sm, st
}
