package raft

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/trellis-cp/trellis/core/storage"
)

// Config configures a Node.
type Config struct {
	ID       uint64
	Name     string
	PeerAddr string
	HTTPAddr string
	// SnapDir holds snapshots received from the leader until applied.
	SnapDir string
	// InitialCluster maps ids to peer addresses for a new static cluster;
	// empty means a one-node cluster of this node.
	InitialCluster map[uint64]string
	// Join starts the node without peers: it was added to a running cluster
	// (JoinMembers tells it who is there) and waits for the leader.
	Join        bool
	JoinMembers []Member

	SnapshotCount          uint64
	SnapshotCatchupEntries uint64
	TickInterval           time.Duration
	ElectionTicks          int
	HeartbeatTicks         int
	RequestTimeout         time.Duration

	// Listener, when set, is the already bound peer listener.
	Listener net.Listener

	ServerTLS *tls.Config
	ClientTLS *tls.Config
	Logger    *slog.Logger
	Registry  prometheus.Registerer
}

// Node is one member of the raft group.
type Node struct {
	cfg    Config
	logger *slog.Logger
	rn     etcdraft.Node
	log    *storage.LogStore
	sm     StateMachine
	tr     *transport
	m      *metrics

	waits  *waitList
	ids    *idGen
	reads  *readBatcher
	leadCh *broadcast // notified when the known leader changes
	applCh *broadcast // notified after each apply

	lead  atomic.Uint64
	term  atomic.Uint64
	state atomic.Int32 // etcdraft.StateType

	applied atomic.Pointer[appliedState]

	// Owned by the Ready loop.
	confState raftpb.ConfState
	snapIndex uint64
	// commit is the last commit index raft reported.
	commit uint64
	// campaigned is set once a sole voter has started its own election.
	campaigned bool
	// confMu lets one membership change from this node be in flight at a
	// time: raft refuses a second while one is pending.
	confMu    sync.Mutex
	appliedMu sync.Mutex // guards promoting, read by the promotion check
	promoting map[uint64]bool

	lastTick   atomic.Int64 // unix nanos of the last Ready loop iteration
	removed    atomic.Bool
	stopOnce   sync.Once
	stopc      chan struct{}
	donec      chan struct{}
	fatalErr   atomic.Value
	runtimeCtx context.Context
	cancelRun  context.CancelFunc
	// deadlines bounds proposals and reads by RequestTimeout.
	deadlines *sharedDeadlines
}

// Start opens the raft group on an already opened log and state machine.
func Start(cfg Config, log *storage.LogStore, sm StateMachine) (*Node, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	n := &Node{
		cfg: cfg, logger: cfg.Logger.With("module", "raft"), log: log, sm: sm,
		m: newMetrics(cfg.Registry), waits: newWaitList(), ids: newIDGen(cfg.ID),
		leadCh: newBroadcast(), applCh: newBroadcast(), promoting: map[uint64]bool{},
		stopc: make(chan struct{}), donec: make(chan struct{}),
	}
	n.runtimeCtx, n.cancelRun = context.WithCancel(context.Background())
	n.deadlines = newSharedDeadlines(n.runtimeCtx, cfg.RequestTimeout)
	n.reads = newReadBatcher(n)
	if err := n.prepare(); err != nil {
		if cfg.Listener != nil {
			cfg.Listener.Close()
		}
		n.cancelRun()
		return nil, err
	}
	n.tr = newTransport(cfg.ID, n.logger, n, cfg.ServerTLS, cfg.ClientTLS)
	n.startRaft()
	// Accept peer connections only now: an incoming message must find the
	// raft node there.
	if err := n.tr.listen(cfg.PeerAddr, cfg.Listener); err != nil {
		n.rn.Stop()
		n.cancelRun()
		return nil, err
	}
	n.lastTick.Store(time.Now().UnixNano())
	go n.run()
	go n.reads.run()
	return n, nil
}

func (n *Node) prepare() error {
	if err := os.MkdirAll(n.cfg.SnapDir, 0o750); err != nil {
		return fmt.Errorf("raft: create snapshot dir: %w", err)
	}
	return n.recoverState()
}

// recoverState brings the state machine up to the log's snapshot if a crash
// came between saving a received snapshot and applying it.
func (n *Node) recoverState() error {
	snap, err := n.log.Storage().Snapshot()
	if err != nil {
		return fmt.Errorf("raft: read snapshot: %w", err)
	}
	n.confState = snap.Metadata.ConfState
	n.snapIndex = snap.Metadata.Index
	if snap.Metadata.Index > n.sm.AppliedIndex() {
		n.logger.Warn("state machine behind raft snapshot, restoring", "applied", n.sm.AppliedIndex(), "snapshot", snap.Metadata.Index)
		if err := n.restoreFromFile(snap.Metadata.Index); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) startRaft() {
	rc := &etcdraft.Config{
		ID:              n.cfg.ID,
		ElectionTick:    n.cfg.ElectionTicks,
		HeartbeatTick:   n.cfg.HeartbeatTicks,
		Storage:         n.log.Storage(),
		Applied:         n.snapIndex,
		MaxSizePerMsg:   1 << 20,
		MaxInflightMsgs: 512,
		// Bound the uncommitted tail so a leader cut off from its quorum
		// refuses proposals instead of buffering them without limit.
		MaxUncommittedEntriesSize: 64 << 20,
		CheckQuorum:               true,
		PreVote:                   true,
		Logger:                    raftLogger{n.logger},
	}
	hs, _, _ := n.log.Storage().InitialState()
	restart := !etcdraft.IsEmptyHardState(hs) || n.snapIndex > 0
	for _, m := range n.sm.Members() {
		n.tr.setPeer(m.ID, m.PeerAddr)
	}
	switch {
	case restart:
		n.logger.Info("restarting raft node", "id", n.cfg.ID, "term", hs.Term, "commit", hs.Commit, "applied", n.sm.AppliedIndex())
		n.rn = etcdraft.RestartNode(rc)
	case n.cfg.Join:
		for _, m := range n.cfg.JoinMembers {
			n.tr.setPeer(m.ID, m.PeerAddr)
		}
		n.logger.Info("joining raft cluster", "id", n.cfg.ID, "members", len(n.cfg.JoinMembers))
		n.rn = etcdraft.RestartNode(rc)
	default:
		// Every node writes the bootstrap entries itself, so they must be
		// identical everywhere: sorted by id, carrying only what all nodes
		// know. Names and HTTP addresses follow through raft (announce).
		cluster := n.cfg.InitialCluster
		if len(cluster) == 0 {
			cluster = map[uint64]string{n.cfg.ID: n.cfg.PeerAddr}
		}
		ids := make([]uint64, 0, len(cluster))
		for id := range cluster {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		var peers []etcdraft.Peer
		for _, id := range ids {
			ctx, _ := json.Marshal(Member{ID: id, PeerAddr: cluster[id]})
			peers = append(peers, etcdraft.Peer{ID: id, Context: ctx})
			n.tr.setPeer(id, cluster[id])
		}
		n.logger.Info("starting new raft cluster", "id", n.cfg.ID, "members", len(peers))
		n.rn = etcdraft.StartNode(rc, peers)
	}
}

// ID is this node's raft id.
func (n *Node) ID() uint64 { return n.cfg.ID }

// Leader is the id of the leader this node knows of, 0 for none.
func (n *Node) Leader() uint64 { return n.lead.Load() }

// Term is the current raft term.
func (n *Node) Term() uint64 { return n.term.Load() }

// IsLeader reports whether this node leads.
func (n *Node) IsLeader() bool { return etcdraft.StateType(n.state.Load()) == etcdraft.StateLeader }

// AppliedIndex is the state machine's applied index.
func (n *Node) AppliedIndex() uint64 { return n.sm.AppliedIndex() }

// Status is raft's own view (progress of followers on the leader).
func (n *Node) Status() etcdraft.Status { return n.rn.Status() }

// PeerAddr is the bound raft address.
func (n *Node) PeerAddr() string { return n.tr.addr() }

// Members is the member table as applied.
func (n *Node) Members() []Member { return n.sm.Members() }

// Removed reports whether this node has been removed from the cluster.
func (n *Node) Removed() bool { return n.removed.Load() }

// LoopAlive reports whether the Ready loop has run within d.
func (n *Node) LoopAlive(d time.Duration) bool {
	return time.Since(time.Unix(0, n.lastTick.Load())) < d
}

// Err is the error that stopped the Ready loop, if any.
func (n *Node) Err() error {
	if v := n.fatalErr.Load(); v != nil {
		return v.(error)
	}
	return nil
}

// Done is closed when the Ready loop has exited.
func (n *Node) Done() <-chan struct{} { return n.donec }

// Stop stops raft and the transport. The log and state stores stay open;
// their owner closes them.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		close(n.stopc)
		<-n.donec
		n.cancelRun()
		n.tr.close()
	})
}

func (n *Node) fail(err error) {
	n.fatalErr.CompareAndSwap(nil, err)
	n.logger.Error("raft loop stopped on error", "err", err)
}

func (n *Node) snapPath(index uint64) string {
	return filepath.Join(n.cfg.SnapDir, fmt.Sprintf("%016x.snap", index))
}
