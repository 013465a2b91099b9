// Package store is the replicated state machine and the narrow API modules
// use. A module gets a *Namespace: its own slice of the key space with get,
// put (optionally with a TTL), delete, delete by prefix, paged lists,
// compare-and-swap transactions and watches from a revision. Every write goes
// through raft; every key carries create revision, mod revision and version;
// reads are linearizable unless the caller asks for a serializable one.
package store

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/storage"
)

// Options configures Open.
type Options struct {
	// DataDir holds raft/ (the raft log: write-ahead log segments), state/
	// (the state store) and snap/.
	DataDir string
	Raft    raft.Config
	Logger  *slog.Logger
	// TTLInterval is how often the leader looks for expired keys.
	TTLInterval time.Duration
	// QuotaBytes is the state store size at which this member raises the
	// NOSPACE alarm; 0 means no quota.
	QuotaBytes int64
	// QuotaCheckInterval is how often the state store is measured against
	// QuotaBytes.
	QuotaCheckInterval time.Duration
	// AutoCompaction has the leader discard old history by itself
	// (autocompact.go); its zero value keeps everything.
	AutoCompaction AutoCompaction
}

// Store is the node's replicated store.
type Store struct {
	log    *storage.LogStore
	state  *storage.StateDB
	sm     *stateMachine
	node   *raft.Node
	logger *slog.Logger
	ttl    time.Duration

	// quota and quotaEvery drive the quota monitor (quota.go).
	quota      int64
	quotaEvery time.Duration
	// maintMu runs one defragmentation or physical compaction at a time.
	maintMu sync.Mutex

	stopc    chan struct{}
	wg       sync.WaitGroup
	stopOnce sync.Once
	// watchMu orders new watchers against Close: none starts once closed.
	watchMu sync.Mutex
	closed  bool
}

// Open opens the raft log and the state store and starts the raft node.
func Open(opts Options) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	logger = logger.With("module", "store")
	lg, err := storage.OpenLogStore(filepath.Join(opts.DataDir, "raft"), logger)
	if err != nil {
		return nil, err
	}
	st, err := storage.OpenStateDB(filepath.Join(opts.DataDir, "state"), logger)
	if err != nil {
		lg.Close()
		return nil, err
	}
	sm, err := newStateMachine(st, logger)
	if err != nil {
		st.Close()
		lg.Close()
		return nil, err
	}
	rc := opts.Raft
	rc.SnapDir = filepath.Join(opts.DataDir, "snap")
	if rc.Logger == nil {
		rc.Logger = opts.Logger
	}
	node, err := raft.Start(rc, lg, sm)
	if err != nil {
		st.Close()
		lg.Close()
		return nil, err
	}
	s := &Store{log: lg, state: st, sm: sm, node: node, logger: logger, ttl: opts.TTLInterval, stopc: make(chan struct{}),
		quota: opts.QuotaBytes, quotaEvery: opts.QuotaCheckInterval}
	if s.ttl <= 0 {
		s.ttl = 250 * time.Millisecond
	}
	if s.quotaEvery <= 0 {
		s.quotaEvery = defaultQuotaCheckInterval
	}
	s.wg.Add(1)
	go s.expireLoop()
	if s.quota > 0 {
		s.wg.Add(1)
		go s.quotaLoop()
	}
	if opts.AutoCompaction.enabled() {
		s.wg.Add(1)
		go s.autoCompactLoop(opts.AutoCompaction)
	}
	return s, nil
}

// Raft is the consensus node, for cluster management (core/node, operator).
func (s *Store) Raft() *raft.Node { return s.node }

// Revision is the newest applied revision on this node.
func (s *Store) Revision() int64 { return s.sm.revision() }

// CompactedRevision is the oldest revision still readable.
func (s *Store) CompactedRevision() int64 { return s.sm.compacted.Load() }

// Compact discards history below rev on every node.
func (s *Store) Compact(ctx context.Context, rev int64) error {
	if rev > s.Revision() {
		return fmt.Errorf("%w: compact to %d > %d", ErrFutureRevision, rev, s.Revision())
	}
	if rev <= s.CompactedRevision() {
		return fmt.Errorf("%w: already compacted to %d", ErrCompacted, s.CompactedRevision())
	}
	_, err := s.propose(ctx, &Command{Kind: KindCompact, Revision: rev})
	return err
}

// Namespace returns the handle a module uses. name must be ValidNamespace.
func (s *Store) Namespace(name string) (*Namespace, error) {
	if !ValidNamespace(name) {
		return nil, fmt.Errorf("%w: %q", ErrBadNamespace, name)
	}
	return &Namespace{s: s, name: name}, nil
}

// Sizes reports the raft log and state store sizes in bytes.
func (s *Store) Sizes() (raftLog, state int64) {
	lsm, vlog := s.state.Size()
	return s.log.Size(), lsm + vlog
}

// Fsyncs reports the raft log's fsync count and total time.
func (s *Store) Fsyncs() (uint64, time.Duration) { return s.log.Fsyncs() }

// StateDB is the state store, for maintenance (defragment, snapshot).
func (s *Store) StateDB() *storage.StateDB { return s.state }

// Close stops raft and closes both stores.
func (s *Store) Close() error {
	var err error
	s.stopOnce.Do(func() {
		s.watchMu.Lock()
		s.closed = true
		s.watchMu.Unlock()
		close(s.stopc)
		s.wg.Wait()
		s.node.Stop()
		if e := s.state.Close(); e != nil {
			err = e
		}
		if e := s.log.Close(); e != nil && err == nil {
			err = e
		}
	})
	return err
}

func (s *Store) propose(ctx context.Context, cmd *Command) (*TxnResult, error) {
	// Apply refuses writes under an alarm anyway; refusing here as well
	// spares the raft round.
	if err := s.sm.alarms.Load().refusal(cmd); err != nil {
		return nil, err
	}
	v, err := s.node.Propose(ctx, MarshalCommand(cmd))
	if err != nil {
		return nil, err
	}
	res, ok := v.(*TxnResult)
	if !ok {
		return nil, fmt.Errorf("store: unexpected apply result %T", v)
	}
	return res, nil
}

// expireLoop runs on every node but acts only on the leader: expired keys
// are deleted through raft, so every node drops them at the same revision.
func (s *Store) expireLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.ttl)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.stopc:
			return
		}
		if !s.node.IsLeader() {
			continue
		}
		ops, err := s.sm.expired(time.Now().UnixMilli(), 512)
		if err != nil {
			s.logger.Error("scan expired keys", "err", err)
			continue
		}
		if len(ops) == 0 {
			continue
		}
		ctx, cancel := s.background(5 * time.Second)
		if _, err := s.propose(ctx, &Command{Kind: KindTxn, Success: ops}); err != nil {
			s.logger.Warn("expire keys", "count", len(ops), "err", err)
		}
		cancel()
	}
}

// background is the context of a request the store makes by itself: it
// ends after d, or as soon as the store closes.
func (s *Store) background(d time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	go func() {
		select {
		case <-s.stopc:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// Probe checks that storage accepts writes.
func (s *Store) Probe() error { return s.log.Probe() }
