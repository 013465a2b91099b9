package store

import (
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/storage"
)

// stateMachine is the replicated state: namespaced keys with MVCC revisions
// on the managed-mode StateDB. The raft index of an entry is the revision of
// everything it writes. Apply runs only on the Ready loop goroutine; reads run
// anywhere, at a Badger snapshot of some applied revision.
type stateMachine struct {
	db     *storage.StateDB
	logger *slog.Logger

	applied   atomic.Uint64
	compacted atomic.Int64
	// compactedAt is the index of the entry that last compacted: the
	// change log below the compacted revision may be gone at revisions
	// from there on, so whole-state streams are taken at or above it.
	compactedAt atomic.Uint64
	// readFloor is the oldest revision this node can read at: the index
	// of a snapshot it was restored from (0 otherwise). Node-local.
	readFloor atomic.Int64
	// restoreGen is odd while a snapshot restore runs, and restoreDone
	// closes when it ends (restoregen.go).
	restoreGen  atomic.Uint64
	restoreDone atomic.Pointer[chan struct{}]
	// snapIndex is the newest raft snapshot index; Badger may only discard
	// versions at or below it, so that snapshot stays streamable, unless a
	// physical compaction asked for more (discard.go).
	snapIndex atomic.Uint64
	// appliedTerm is the raft term of the newest applied entry (0 until
	// this process applies one).
	appliedTerm atomic.Uint64

	// alarms is the raised alarms as of the applied index (alarm.go).
	alarms atomic.Pointer[alarmSet]

	// marks is which namespaces wrote change-log events when
	// (eventmarks.go).
	marks eventMarks

	// writeMu is held by everything that writes to the state store (apply,
	// snapshot restore) and by a memtable flush, during which Badger
	// refuses writes (discard.go).
	writeMu sync.Mutex

	// discard is what bounds Badger's discard timestamp (discard.go).
	discard discardState

	mu      sync.Mutex
	members map[uint64]raft.Member

	// index is every live key's metadata (index.go); Ready loop only.
	index keyIndex
	// revs maps every key to the revisions its records are at
	// (revindex.go): reads find records through it. Replaced whole when a
	// snapshot is installed.
	revs atomic.Pointer[revIndex]
}

var _ raft.StateMachine = (*stateMachine)(nil)

func newStateMachine(db *storage.StateDB, logger *slog.Logger) (*stateMachine, error) {
	sm := &stateMachine{db: db, logger: logger, members: map[uint64]raft.Member{}}
	sm.discard.pins, sm.discard.readers = map[int64]int{}, map[int64]int{}
	sm.alarms.Store(newAlarmSet(nil))
	if err := sm.loadMeta(); err != nil {
		return nil, err
	}
	if err := sm.loadIndex(sm.applied.Load()); err != nil {
		return nil, err
	}
	sm.marks.reset(sm.revision())
	return sm, nil
}

// loadMeta reads the applied index, compaction point and member table.
func (sm *stateMachine) loadMeta() error {
	txn := sm.db.DB().NewTransactionAt(storage.MaxTs, false)
	defer txn.Discard()
	if v, err := getU64(txn, metaApplied); err != nil {
		return err
	} else {
		sm.applied.Store(v)
	}
	if err := sm.checkLayout(txn); err != nil {
		return err
	}
	if v, at, err := getU64At(txn, metaCompacted); err != nil {
		return err
	} else {
		sm.compacted.Store(int64(v))
		sm.compactedAt.Store(at)
	}
	if v, err := getU64(txn, metaReadFloor); err != nil {
		return err
	} else {
		sm.readFloor.Store(int64(v))
	}
	members := map[uint64]raft.Member{}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: metaMember, PrefetchValues: true})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		var m raft.Member
		if err := it.Item().Value(func(v []byte) error { return json.Unmarshal(v, &m) }); err != nil {
			return fmt.Errorf("store: decode member: %w", err)
		}
		members[m.ID] = m
	}
	sm.mu.Lock()
	sm.members = members
	sm.mu.Unlock()
	return sm.loadAlarms()
}

// ErrLayout is returned when a state store was written in a key layout
// this build does not read.
var ErrLayout = errors.New("store: state store layout")

// checkLayout refuses a state store of another layout and records this
// build's in a new one (nothing applied yet).
func (sm *stateMachine) checkLayout(txn *badger.Txn) error {
	layout, err := getU64(txn, metaLayout)
	if err != nil {
		return err
	}
	switch {
	case layout == stateLayout:
		return nil
	case layout == 0 && sm.applied.Load() == 0:
		w := sm.db.DB().NewTransactionAt(1, true)
		defer w.Discard()
		if err := w.Set(metaLayout, u64bytes(stateLayout)); err != nil {
			return err
		}
		if err := w.CommitAt(1, nil); err != nil {
			return fmt.Errorf("store: record the layout: %w", err)
		}
		return nil
	}
	return fmt.Errorf("%w: it is layout %d, this build reads layout %d; start this member from an empty data directory (it catches up from the cluster) or restore a snapshot file taken by this build", ErrLayout, max(layout, 1), stateLayout)
}

func getU64(txn *badger.Txn, key []byte) (uint64, error) {
	v, _, err := getU64At(txn, key)
	return v, err
}

// getU64At also returns the version the value was written at.
func getU64At(txn *badger.Txn, key []byte) (v, version uint64, err error) {
	item, err := txn.Get(key)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("store: read %s: %w", key, err)
	}
	err = item.Value(func(b []byte) error {
		if len(b) != 8 {
			return errCorrupt
		}
		v = binary.BigEndian.Uint64(b)
		return nil
	})
	return v, item.Version(), err
}

func u64bytes(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

// AppliedIndex implements raft.StateMachine.
func (sm *stateMachine) AppliedIndex() uint64 { return sm.applied.Load() }

// Members implements raft.StateMachine.
func (sm *stateMachine) Members() []raft.Member {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	out := make([]raft.Member, 0, len(sm.members))
	for _, m := range sm.members {
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b raft.Member) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Sync implements raft.StateMachine.
func (sm *stateMachine) Sync() error { return sm.db.Sync() }

// WriteSnapshot implements raft.StateMachine. The index is pinned while the
// stream runs so neither a physical compaction nor a compaction's change
// log deletes change what it reads. An index below the last compaction's
// is refused before anything is written: versions it needs may be gone (a
// physical compaction, maybe before this process started, may have
// dropped them), or the change log there may lack what the compacted
// revision it carries promises. Raft then sends the next snapshot at the
// newest applied index.
func (sm *stateMachine) WriteSnapshot(ctx context.Context, w io.Writer, index uint64) error {
	unpin := sm.pin(int64(index))
	defer unpin()
	if at := sm.compactedAt.Load(); index < at {
		return fmt.Errorf("store: snapshot at %d is below the last compaction (at %d)", index, at)
	}
	return sm.db.WriteSnapshot(ctx, w, index)
}

// RestoreSnapshot implements raft.StateMachine.
func (sm *stateMachine) RestoreSnapshot(r io.Reader, index uint64) error {
	sm.writeMu.Lock()
	defer sm.writeMu.Unlock()
	defer sm.beginRestore()()
	// The applied index is held back from the load and written last, once
	// the rest is synced: a crash part-way through the load leaves no
	// applied index, so the next start finds the state behind the raft
	// log's snapshot and restores from the file again, instead of taking
	// part of the state for all of it.
	applied, err := sm.db.RestoreSnapshot(r, metaApplied)
	if err != nil {
		return err
	}
	if len(applied) != 8 {
		return fmt.Errorf("store: snapshot %d carries no applied index", index)
	}
	// The snapshot holds each key's version as of index, not the versions
	// before it: reads below index are refused on this node from now on.
	// The change log came whole, so watches keep their full history. The
	// floor is stored with the applied index, before loadMeta publishes
	// it, so nobody sees the new state without it.
	txn := sm.db.DB().NewTransactionAt(index, true)
	defer txn.Discard()
	if err := txn.Set(metaReadFloor, u64bytes(index)); err != nil {
		return err
	}
	if err := txn.Set(metaApplied, applied); err != nil {
		return err
	}
	if err := txn.CommitAt(index, nil); err != nil {
		return fmt.Errorf("store: record applied index and read floor: %w", err)
	}
	if err := sm.db.Sync(); err != nil {
		return err
	}
	sm.readFloor.Store(int64(index))
	// Marks first: a watcher that sees the new applied index must not
	// take any namespace for one without the snapshot's events. The
	// indexes too: a reader at the new applied index finds its keys
	// through them.
	sm.marks.reset(int64(index))
	if err := sm.loadIndex(index); err != nil {
		return err
	}
	if err := sm.loadMeta(); err != nil {
		return err
	}
	if got := sm.applied.Load(); got != index {
		return fmt.Errorf("store: snapshot holds index %d, want %d", got, index)
	}
	sm.snapIndex.Store(index)
	return nil
}

// setSnapshotIndex records a new raft snapshot so compaction may go up to it.
func (sm *stateMachine) setSnapshotIndex(i uint64) {
	sm.snapIndex.Store(i)
	sm.updateDiscardTs()
}

// Apply implements raft.StateMachine: one Badger write batch for the whole
// batch of entries, each entry's writes at its own index.
func (sm *stateMachine) Apply(entries []raft.Applied) error {
	if len(entries) == 0 {
		return nil
	}
	sm.writeMu.Lock()
	defer sm.writeMu.Unlock()
	// Marks noted by an Apply that fails are not published.
	defer sm.marks.drop()
	b := sm.newBatch(sm.applied.Load(), len(entries))
	last, lastTerm := uint64(0), uint64(0)
	for i := range entries {
		e := &entries[i]
		if e.Index <= sm.applied.Load() {
			continue
		}
		last, lastTerm = e.Index, e.Term
		switch {
		case e.Member != nil:
			if err := b.applyMember(e.Index, e.Member); err != nil {
				return err
			}
		case len(e.Data) > 0:
			cmd, err := UnmarshalCommand(e.Data)
			if err != nil {
				// A corrupt command is skipped the same way on every node.
				sm.logger.Error("skipping undecodable command", "index", e.Index, "err", err)
				e.Result = err
				continue
			}
			// Alarms are replicated state, so every member refuses the
			// same writes at the same index.
			if err := sm.alarms.Load().refusal(cmd); err != nil {
				e.Result = err
				continue
			}
			if cmd.needsFlush() {
				if err := b.flush(); err != nil {
					return err
				}
				b = sm.newBatch(e.Index-1, len(entries)-i)
			}
			res, err := b.applyCommand(e.Index, cmd)
			if err != nil {
				return err
			}
			e.Result = res
		}
	}
	if last == 0 {
		return nil
	}
	if err := b.wb.SetEntryAt(badger.NewEntry(metaApplied, u64bytes(last)), last); err != nil {
		return fmt.Errorf("store: record applied index: %w", err)
	}
	if err := b.flush(); err != nil {
		return err
	}
	sm.marks.publish()
	sm.applied.Store(last)
	sm.appliedTerm.Store(lastTerm)
	return nil
}

func (c *Command) needsFlush() bool {
	if c.Kind == KindCompact {
		return true
	}
	for _, ops := range [][]Op{c.Success, c.Failure} {
		for i := range ops {
			if ops[i].Type == OpDeletePrefix {
				return true
			}
		}
	}
	return false
}

// Revision is the newest applied revision.
func (sm *stateMachine) revision() int64 { return int64(sm.applied.Load()) }

// memberUpdate turns a committed membership change into the member table.
func (b *batch) applyMember(index uint64, mc *raft.MemberChange) error {
	sm := b.sm
	sm.mu.Lock()
	defer sm.mu.Unlock()
	key := memberKey(mc.Member.ID)
	switch mc.Type {
	case raftpb.ConfChangeRemoveNode:
		delete(sm.members, mc.Member.ID)
		return b.wb.DeleteAt(key, index)
	default:
		m := sm.members[mc.Member.ID]
		m.ID = mc.Member.ID
		if mc.Member.PeerAddr != "" {
			m.PeerAddr = mc.Member.PeerAddr
		}
		if mc.Member.HTTPAddr != "" {
			m.HTTPAddr = mc.Member.HTTPAddr
		}
		if mc.Member.Name != "" {
			m.Name = mc.Member.Name
		}
		switch mc.Type {
		case raftpb.ConfChangeAddLearnerNode:
			m.Learner = true
		case raftpb.ConfChangeAddNode:
			m.Learner = false
		}
		sm.members[m.ID] = m
		v, err := json.Marshal(m)
		if err != nil {
			return err
		}
		return b.wb.SetEntryAt(badger.NewEntry(key, v), index)
	}
}

// SnapshotTaken is called by the raft node after a snapshot at index.
func (sm *stateMachine) SnapshotTaken(index uint64) { sm.setSnapshotIndex(index) }
