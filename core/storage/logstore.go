package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"
)

// LogStore is the durable raft log. Raft reads through an in-memory
// raft.MemoryStorage, as etcd pairs MemoryStorage with its WAL; every write
// goes to the write-ahead log (wal.go) first, so on restart the memory copy
// is rebuilt by replaying it. Only the Ready loop goroutine calls Save,
// SaveSnapshot, CreateSnapshot and Compact.
type LogStore struct {
	wal *wal
	mem *raft.MemoryStorage
	// buf is the Ready loop's encoding buffer, kept between Saves.
	buf []byte

	lastProbe  atomic.Int64
	fsyncs     atomic.Uint64
	fsyncNanos atomic.Uint64
}

// OpenLogStore opens (or creates) the raft log under dir and loads it. A
// record torn by a crash at the end of the log is cut off; damage anywhere
// else is an error, as is a dir that holds the Badger log of an older
// Trellis.
func OpenLogStore(dir string, logger *slog.Logger) (*LogStore, error) {
	return openLogStore(dir, logger, defaultSegmentSize)
}

func openLogStore(dir string, logger *slog.Logger, segSize int64) (*LogStore, error) {
	if logger == nil {
		logger = slog.Default()
	}
	w, st, err := openWAL(dir, segSize, logger)
	if err != nil {
		return nil, fmt.Errorf("storage: open raft log %s: %w", dir, err)
	}
	s := &LogStore{wal: w, mem: raft.NewMemoryStorage()}
	if err := s.load(st); err != nil {
		w.close()
		return nil, fmt.Errorf("storage: load raft log %s: %w", dir, err)
	}
	return s, nil
}

// load rebuilds the in-memory log from what replay found: snapshot first,
// then hard state, then the entries after the snapshot.
func (s *LogStore) load(st replayState) error {
	if !raft.IsEmptySnap(st.snap) {
		if err := s.mem.ApplySnapshot(st.snap); err != nil {
			return fmt.Errorf("apply snapshot: %w", err)
		}
	}
	// A crash between a snapshot record and the hard state written with it
	// leaves a commit index below the snapshot; raft refuses to start from
	// that, and the snapshot is committed state, so its index is committed.
	if hs := coverSnapshot(st.hs, st.snap.Metadata); !raft.IsEmptyHardState(hs) {
		if err := s.mem.SetHardState(hs); err != nil {
			return err
		}
	}
	if len(st.ents) == 0 {
		return nil
	}
	return s.mem.Append(st.ents)
}

// Storage is what raft reads the log through.
func (s *LogStore) Storage() raft.Storage { return s.mem }

// Memory exposes the in-memory log for snapshot creation.
func (s *LogStore) Memory() *raft.MemoryStorage { return s.mem }

// Save persists a Ready's entries and hard state as records appended to
// the log and, when mustSync, one fdatasync: this is the group commit —
// every proposal that arrived since the last Ready shares it. Entries come
// before the hard state, so a torn write never keeps a commit index
// without the entries under it. Entries that replace a conflicting tail
// are simply appended: on replay a later entry supersedes every earlier
// one at its index or above.
func (s *LogStore) Save(hs raftpb.HardState, ents []raftpb.Entry, mustSync bool) error {
	if raft.IsEmptyHardState(hs) && len(ents) == 0 {
		return nil
	}
	buf := s.buf[:0]
	var err error
	for i := range ents {
		if buf, err = appendMessage(buf, recEntry, &ents[i]); err != nil {
			return fmt.Errorf("storage: write raft log: %w", err)
		}
	}
	if !raft.IsEmptyHardState(hs) {
		if buf, err = appendMessage(buf, recHardState, &hs); err != nil {
			return fmt.Errorf("storage: write raft log: %w", err)
		}
	}
	s.buf = buf
	first, maxIndex := s.nextIndex(), uint64(0)
	if len(ents) > 0 {
		first, maxIndex = ents[0].Index, ents[len(ents)-1].Index
	}
	if err := s.wal.write(buf, first, maxIndex, nil, &hs); err != nil {
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

// nextIndex is the index the next appended entry would have.
func (s *LogStore) nextIndex() uint64 {
	last, _ := s.mem.LastIndex()
	return last + 1
}

func (s *LogStore) sync() error {
	start := time.Now()
	if err := s.wal.sync(); err != nil {
		return fmt.Errorf("storage: fsync raft log: %w", err)
	}
	s.fsyncs.Add(1)
	s.fsyncNanos.Add(uint64(time.Since(start)))
	return nil
}

// SaveSnapshot durably records a snapshot received from the leader (or
// made by an offline restore) and makes it the base of the in-memory log,
// which it replaces. One synced write holds the snapshot (a record that,
// on replay, drops every entry before it) followed by a hard state raised
// to cover it (commit at least the snapshot's index, term at least its
// term): a crash right after it never leaves a snapshot ahead of the
// stored commit index, which raft refuses to restart from ("state.commit
// is out of range"), nor the old entries beside it. A crash that tears the
// hard state off still opens, because load raises the commit to the
// snapshot. A snapshot older than the current one is ignored.
func (s *LogStore) SaveSnapshot(snap raftpb.Snapshot) error {
	if raft.IsEmptySnap(snap) {
		return nil
	}
	if cur, _ := s.mem.Snapshot(); snap.Metadata.Index <= cur.Metadata.Index {
		return nil
	}
	old, _, _ := s.mem.InitialState()
	hs := coverSnapshot(old, snap.Metadata)
	buf, err := appendMessage(s.buf[:0], recSnapshotInstall, &snap)
	if err == nil && !raft.IsEmptyHardState(hs) {
		buf, err = appendMessage(buf, recHardState, &hs)
	}
	if err != nil {
		return fmt.Errorf("storage: save snapshot: %w", err)
	}
	s.buf = buf
	if err := s.wal.write(buf, snap.Metadata.Index+1, 0, &snap, &hs); err != nil {
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

// CreateSnapshot records a snapshot of the state machine at index i and
// compacts the log, keeping `keep` entries before i for slow followers.
// The snapshot record is synced before any segment is deleted.
func (s *LogStore) CreateSnapshot(i uint64, cs *raftpb.ConfState, data []byte, keep uint64) (raftpb.Snapshot, error) {
	snap, err := s.mem.CreateSnapshot(i, cs, data)
	if err != nil {
		return raftpb.Snapshot{}, fmt.Errorf("storage: create snapshot at %d: %w", i, err)
	}
	buf, err := appendMessage(s.buf[:0], recSnapshot, &snap)
	if err != nil {
		return raftpb.Snapshot{}, fmt.Errorf("storage: save snapshot: %w", err)
	}
	s.buf = buf
	if err := s.wal.write(buf, s.nextIndex(), 0, &snap, nil); err != nil {
		return raftpb.Snapshot{}, fmt.Errorf("storage: save snapshot: %w", err)
	}
	if err := s.sync(); err != nil {
		return raftpb.Snapshot{}, err
	}
	if i > keep {
		if err := s.Compact(i - keep); err != nil {
			return snap, err
		}
	}
	return snap, nil
}

// Compact drops entries before index from memory and, a whole segment at
// a time, from disk. A segment goes only when all its entries are below
// index and at or below the snapshot: the log replays from its snapshot,
// so entries past it must stay on disk whatever memory keeps.
func (s *LogStore) Compact(index uint64) error {
	first, _ := s.mem.FirstIndex()
	if index <= first {
		return nil
	}
	if err := s.mem.Compact(index); err != nil && !errors.Is(err, raft.ErrCompacted) {
		return fmt.Errorf("storage: compact memory log to %d: %w", index, err)
	}
	snap, _ := s.mem.Snapshot()
	if err := s.wal.compact(min(index-1, snap.Metadata.Index)); err != nil {
		return fmt.Errorf("storage: compact raft log to %d: %w", index, err)
	}
	return nil
}

// Fsyncs returns how many fsyncs the log has made and their total time.
func (s *LogStore) Fsyncs() (count uint64, total time.Duration) {
	return s.fsyncs.Load(), time.Duration(s.fsyncNanos.Load())
}

// Size reports the on-disk size of the log: its segments, preallocated
// space included. The spare segment prepared for the next rollover (at
// most one segment's size more on disk) is not counted.
func (s *LogStore) Size() int64 { return s.wal.size.Load() }

// Close syncs and closes the log.
func (s *LogStore) Close() error {
	if err := s.wal.close(); err != nil {
		return fmt.Errorf("storage: close raft log: %w", err)
	}
	return nil
}

// Probe appends a small record to check the log accepts writes (health
// checks); replay skips it. Probes within a second of a successful one
// reuse its answer, so a busy health checker does not turn into a stream
// of writes.
func (s *LogStore) Probe() error {
	now := time.Now()
	if now.UnixNano()-s.lastProbe.Load() < int64(time.Second) {
		return nil
	}
	rec := appendRecord(nil, recProbe, []byte(now.UTC().Format(time.RFC3339Nano)))
	if err := s.wal.write(rec, s.nextIndex(), 0, nil, nil); err != nil {
		return fmt.Errorf("storage: probe raft log: %w", err)
	}
	s.lastProbe.Store(now.UnixNano())
	return nil
}
