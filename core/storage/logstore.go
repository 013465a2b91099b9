package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// Keys of the raft log store. Entries sort by index because the index is
// big-endian.
var (
	keyHardState = []byte("hs")
	keySnapshot  = []byte("snap")
	prefixEntry  = []byte("e")
)

func entryKey(index uint64) []byte {
	k := make([]byte, 9)
	k[0] = prefixEntry[0]
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// LogStore is the durable raft log. Raft reads through an in-memory
// raft.MemoryStorage (like etcd, which pairs MemoryStorage with its WAL);
// every write goes to Badger first, so on restart the memory copy is rebuilt
// from disk. Only the Ready loop goroutine calls Save, ApplySnapshot and
// Compact.
type LogStore struct {
	db  *badger.DB
	mem *raft.MemoryStorage

	lastProbe  atomic.Int64
	fsyncs     atomic.Uint64
	fsyncNanos atomic.Uint64
}

// OpenLogStore opens (or creates) the raft log under dir and loads it.
func OpenLogStore(dir string, logger *slog.Logger) (*LogStore, error) {
	db, err := badger.Open(baseOptions(dir, logger))
	if err != nil {
		return nil, fmt.Errorf("storage: open raft log %s: %w", dir, err)
	}
	s := &LogStore{db: db, mem: raft.NewMemoryStorage()}
	if err := s.load(); err != nil {
		db.Close()
		return nil, fmt.Errorf("storage: load raft log %s: %w", dir, err)
	}
	return s, nil
}

// load rebuilds the in-memory log: snapshot first, then hard state, then the
// entries after the snapshot.
func (s *LogStore) load() error {
	return s.db.View(func(txn *badger.Txn) error {
		if item, err := txn.Get(keySnapshot); err == nil {
			var snap raftpb.Snapshot
			if err := item.Value(snap.Unmarshal); err != nil {
				return fmt.Errorf("decode snapshot: %w", err)
			}
			if err := s.mem.ApplySnapshot(snap); err != nil {
				return fmt.Errorf("apply snapshot: %w", err)
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		var hs raftpb.HardState
		if item, err := txn.Get(keyHardState); err == nil {
			if err := item.Value(hs.Unmarshal); err != nil {
				return fmt.Errorf("decode hard state: %w", err)
			}
		} else if !errors.Is(err, badger.ErrKeyNotFound) {
			return err
		}
		// A log written before SaveSnapshot raised the hard state with the
		// snapshot may hold a commit index below it (a crash between the
		// two); raft refuses to start from that, and the snapshot is
		// committed state, so its index is committed.
		if hs = coverSnapshot(hs, s.snapshotMeta()); !raft.IsEmptyHardState(hs) {
			if err := s.mem.SetHardState(hs); err != nil {
				return err
			}
		}
		first, _ := s.mem.FirstIndex()
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256, Prefix: prefixEntry})
		defer it.Close()
		var ents []raftpb.Entry
		for it.Seek(entryKey(first)); it.Valid(); it.Next() {
			var e raftpb.Entry
			if err := it.Item().Value(e.Unmarshal); err != nil {
				return fmt.Errorf("decode entry: %w", err)
			}
			ents = append(ents, e)
		}
		if len(ents) == 0 {
			return nil
		}
		return s.mem.Append(ents)
	})
}

// Storage is what raft reads the log through.
func (s *LogStore) Storage() raft.Storage { return s.mem }

// Memory exposes the in-memory log for snapshot creation.
func (s *LogStore) Memory() *raft.MemoryStorage { return s.mem }

// Save persists a Ready's hard state and entries in one Badger batch and, when
// mustSync, one fsync: this is the group commit — every proposal that arrived
// since the last Ready shares it. Entries that replace a conflicting tail are
// simply overwritten; stale higher indexes are deleted.
func (s *LogStore) Save(hs raftpb.HardState, ents []raftpb.Entry, mustSync bool) error {
	if raft.IsEmptyHardState(hs) && len(ents) == 0 {
		return nil
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	if !raft.IsEmptyHardState(hs) {
		b, err := hs.Marshal()
		if err != nil {
			return err
		}
		if err := wb.Set(keyHardState, b); err != nil {
			return err
		}
	}
	for i := range ents {
		b, err := ents[i].Marshal()
		if err != nil {
			return err
		}
		if err := wb.Set(entryKey(ents[i].Index), b); err != nil {
			return err
		}
	}
	if len(ents) > 0 {
		// A new leader may truncate our tail: drop indexes past the new end.
		last, _ := s.mem.LastIndex()
		for i := ents[len(ents)-1].Index + 1; i <= last; i++ {
			if err := wb.Delete(entryKey(i)); err != nil {
				return err
			}
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("storage: write raft log: %w", err)
	}
	if mustSync {
		if err := s.sync(); err != nil {
			return err
		}
	}
	if err := s.mem.Append(ents); err != nil {
		return fmt.Errorf("storage: append to memory log: %w", err)
	}
	if !raft.IsEmptyHardState(hs) {
		return s.mem.SetHardState(hs)
	}
	return nil
}

func (s *LogStore) sync() error {
	start := time.Now()
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("storage: fsync raft log: %w", err)
	}
	s.fsyncs.Add(1)
	s.fsyncNanos.Add(uint64(time.Since(start)))
	return nil
}

// SaveSnapshot durably records a snapshot received from the leader (or
// made by an offline restore) and makes it the base of the in-memory log,
// which it replaces. One synced write batch holds the snapshot, the removal
// of the entries it replaces and a hard state raised to cover it (commit at
// least the snapshot's index, term at least its term): a crash right after
// it never leaves a snapshot ahead of the stored commit index, which raft
// refuses to restart from ("state.commit is out of range"), nor the old
// entries beside it. A snapshot older than the current one is ignored.
func (s *LogStore) SaveSnapshot(snap raftpb.Snapshot) error {
	if raft.IsEmptySnap(snap) {
		return nil
	}
	if cur, _ := s.mem.Snapshot(); snap.Metadata.Index <= cur.Metadata.Index {
		return nil
	}
	old, _, _ := s.mem.InitialState()
	hs := coverSnapshot(old, snap.Metadata)
	b, err := snap.Marshal()
	if err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	if err := wb.Set(keySnapshot, b); err != nil {
		return err
	}
	if !raft.IsEmptyHardState(hs) {
		hb, err := hs.Marshal()
		if err != nil {
			return err
		}
		if err := wb.Set(keyHardState, hb); err != nil {
			return err
		}
	}
	first, _ := s.mem.FirstIndex()
	last, _ := s.mem.LastIndex()
	for i := first - 1; i <= last; i++ {
		if err := wb.Delete(entryKey(i)); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("storage: save snapshot: %w", err)
	}
	if err := s.sync(); err != nil {
		return err
	}
	if err := s.mem.ApplySnapshot(snap); err != nil {
		return fmt.Errorf("storage: apply snapshot to memory log: %w", err)
	}
	if !raft.IsEmptyHardState(hs) {
		return s.mem.SetHardState(hs)
	}
	return nil
}

// coverSnapshot raises a hard state so it covers a snapshot: a snapshot is
// committed state, so the commit index is at least its index, and the
// current term at least its term (a vote cast in an older term does not
// carry over to a newer one).
func coverSnapshot(hs raftpb.HardState, meta raftpb.SnapshotMetadata) raftpb.HardState {
	if meta.Index == 0 {
		return hs
	}
	if hs.Term < meta.Term {
		hs.Term, hs.Vote = meta.Term, 0
	}
	if hs.Commit < meta.Index {
		hs.Commit = meta.Index
	}
	return hs
}

// snapshotMeta is the metadata of the in-memory log's snapshot.
func (s *LogStore) snapshotMeta() raftpb.SnapshotMetadata {
	snap, _ := s.mem.Snapshot()
	return snap.Metadata
}

func (s *LogStore) persistSnapshot(snap raftpb.Snapshot) error {
	b, err := snap.Marshal()
	if err != nil {
		return err
	}
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set(keySnapshot, b) }); err != nil {
		return fmt.Errorf("storage: save snapshot: %w", err)
	}
	return s.sync()
}

// CreateSnapshot records a snapshot of the state machine at index i and
// compacts the log, keeping `keep` entries before i for slow followers.
func (s *LogStore) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte, keep uint64) (raftpb.Snapshot, error) {
	snap, err := s.mem.CreateSnapshot(i, cs, data)
	if err != nil {
		return raftpb.Snapshot{}, fmt.Errorf("storage: create snapshot at %d: %w", i, err)
	}
	if err := s.persistSnapshot(snap); err != nil {
		return raftpb.Snapshot{}, err
	}
	if i > keep {
		if err := s.Compact(i - keep); err != nil {
			return snap, err
		}
	}
	return snap, nil
}

// Compact drops entries before index from memory and from disk.
func (s *LogStore) Compact(index uint64) error {
	first, _ := s.mem.FirstIndex()
	if index <= first {
		return nil
	}
	if err := s.mem.Compact(index); err != nil && !errors.Is(err, raft.ErrCompacted) {
		return fmt.Errorf("storage: compact memory log to %d: %w", index, err)
	}
	// Entry first-1 is the dummy that marks the snapshot; it may or may not
	// exist on disk, deleting it is harmless.
	return s.deleteRange(first-1, index)
}

// deleteRange deletes entries [from, to) from disk.
func (s *LogStore) deleteRange(from, to uint64) error {
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	for i := from; i < to; i++ {
		if err := wb.Delete(entryKey(i)); err != nil {
			return err
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("storage: delete raft log entries %d..%d: %w", from, to, err)
	}
	return nil
}

// Fsyncs returns how many fsyncs the log has made and their total time.
func (s *LogStore) Fsyncs() (count uint64, total time.Duration) {
	return s.fsyncs.Load(), time.Duration(s.fsyncNanos.Load())
}

// Size reports the on-disk size of the log.
func (s *LogStore) Size() int64 {
	lsm, vlog := s.db.Size()
	return lsm + vlog
}

// Close flushes and closes the log.
func (s *LogStore) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("storage: close raft log: %w", err)
	}
	return nil
}

var keyProbe = []byte("probe")

// Probe writes a small key to check the log accepts writes (health
// checks). Probes within a second of a successful one reuse its answer, so
// a busy health checker does not turn into a stream of writes.
func (s *LogStore) Probe() error {
	now := time.Now()
	if now.UnixNano()-s.lastProbe.Load() < int64(time.Second) {
		return nil
	}
	err := s.db.Update(func(txn *badger.Txn) error {
		return txn.Set(keyProbe, []byte(now.UTC().Format(time.RFC3339Nano)))
	})
	if err == nil {
		s.lastProbe.Store(now.UnixNano())
	}
	return err
}
