package raft

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"go.etcd.io/raft/v3/raftpb"

	"github.com/trellis-cp/trellis/core/storage"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// memSM is a state machine that keeps only the applied index and the
// member table, in memory: enough for membership tests.
type memSM struct {
	mu      sync.Mutex
	applied uint64
	members map[uint64]Member
}

func newMemSM() *memSM { return &memSM{members: map[uint64]Member{}} }

func (s *memSM) AppliedIndex() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.applied
}

func (s *memSM) Apply(ents []Applied) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range ents {
		e := &ents[i]
		if e.Index <= s.applied {
			continue
		}
		if mc := e.Member; mc != nil {
			switch mc.Type {
			case raftpb.ConfChangeRemoveNode:
				delete(s.members, mc.Member.ID)
			default:
				m := s.members[mc.Member.ID]
				if mc.Member.PeerAddr != "" {
					m.PeerAddr = mc.Member.PeerAddr
				}
				m.ID, m.Learner = mc.Member.ID, mc.Type == raftpb.ConfChangeAddLearnerNode
				s.members[m.ID] = m
			}
		}
		e.Result = e.Index
		s.applied = e.Index
	}
	return nil
}

func (s *memSM) WriteSnapshot(context.Context, io.Writer, uint64) error {
	return errors.New("memSM: no snapshots")
}
func (s *memSM) RestoreSnapshot(io.Reader, uint64) error { return errors.New("memSM: no snapshots") }
func (s *memSM) Sync() error                             { return nil }

func (s *memSM) Members() []Member {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Member
	for _, m := range s.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return int(a.ID) - int(b.ID) })
	return out
}

func quietLogger() *slog.Logger {
	level := slog.LevelWarn
	if os.Getenv("TRELLISTEST_DEBUG") != "" {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
}

// startMem starts node id with a fresh log in dir.
func startMem(t *testing.T, id uint64, addr, dir string, cluster map[uint64]string, join []Member) *Node {
	t.Helper()
	return startSM(t, id, addr, dir, cluster, join, newMemSM(), nil)
}

// startSM starts node id with a fresh log in dir on sm; tweak, if set,
// adjusts the test configuration first.
func startSM(t *testing.T, id uint64, addr, dir string, cluster map[uint64]string, join []Member, sm StateMachine, tweak func(*Config)) *Node {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	lg, err := storage.OpenLogStore(filepath.Join(dir, "raft"), quietLogger())
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		ID: id, PeerAddr: addr, SnapDir: filepath.Join(dir, "snap"), InitialCluster: cluster,
		Join: join != nil, JoinMembers: join, Listener: ln,
		SnapshotCount: 10000, SnapshotCatchupEntries: 5000,
		TickInterval: 20 * time.Millisecond, ElectionTicks: 10, HeartbeatTicks: 1, RequestTimeout: 2 * time.Second,
		Logger: quietLogger().With("node", id),
	}
	if tweak != nil {
		tweak(&cfg)
	}
	n, err := Start(cfg, lg, sm)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop(); lg.Close() })
	return n
}

// A member removed and added back under the same id (with an empty data
// dir, as the operations guide says) replays its own old removal from the
// log. etcd raft blocks a node's proposals when it applies a change that
// removes it, and unblocks them only when it sees the leader change; the
// new member learns the leader from the first append, before it applies
// that history, so every write through it timed out (503) until some
// election happened. Found by test/robustness (member-replace).
func TestReaddedMemberCanPropose(t *testing.T) {
	addrs := map[uint64]string{1: testutil.FreeAddr(t), 2: testutil.FreeAddr(t), 3: testutil.FreeAddr(t)}
	nodes := map[uint64]*Node{}
	for id := uint64(1); id <= 3; id++ {
		nodes[id] = startMem(t, id, addrs[id], t.TempDir(), addrs, nil)
	}
	waitFor(t, "a leader", func() bool {
		return nodes[1].Leader() != 0 && nodes[1].Leader() == nodes[2].Leader() && nodes[2].Leader() == nodes[3].Leader()
	})
	lead := nodes[nodes[1].Leader()]
	victim := uint64(1)
	for victim == lead.ID() {
		victim++
	}
	ctx := context.Background()
	if _, err := lead.Propose(ctx, []byte("before")); err != nil {
		t.Fatal(err)
	}
	if err := lead.RemoveMember(ctx, victim); err != nil {
		t.Fatal(err)
	}
	nodes[victim].Stop()
	if _, err := lead.AddMember(ctx, Member{ID: victim, PeerAddr: addrs[victim]}); err != nil {
		t.Fatal(err)
	}
	readded := startMem(t, victim, addrs[victim], t.TempDir(), nil, lead.Members())
	waitFor(t, "the re-added member to catch up and know the leader", func() bool {
		return readded.Leader() != 0 && readded.AppliedIndex() >= lead.AppliedIndex()
	})
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := readded.Propose(pctx, []byte("through the re-added member")); err != nil {
		t.Fatalf("proposal through the re-added member: %v", err)
	}
}
