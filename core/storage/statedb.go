package storage

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"

	"github.com/trellis-cp/trellis/core/internal/failpoint"
)

// stateValueLogFileSize is the size at which the state store starts a new
// value-log file.
const stateValueLogFileSize = 16 << 20

// StateDB is the state machine's Badger, opened in managed mode: every
// version timestamp is the raft index of the entry that wrote it, so a read
// at revision N is a Badger read at timestamp N, and compaction below N is
// SetDiscardTs(N).
type StateDB struct {
	db  *badger.DB
	dir string
}

// OpenStateDB opens (or creates) the state store under dir.
func OpenStateDB(dir string, logger *slog.Logger) (*StateDB, error) {
	// NumVersionsToKeep=1 lets compaction drop versions at or below the
	// discard timestamp while every version above it is kept for MVCC reads.
	// Value-log GC never rewrites the file being written, so the state
	// store's value-log files are smaller than the raft log's: at most that
	// much space of overwritten large values outlives a Defragment.
	opts := baseOptions(dir, logger).WithNumVersionsToKeep(1).WithValueLogFileSize(stateValueLogFileSize)
	db, err := badger.OpenManaged(opts)
	if err != nil {
		return nil, fmt.Errorf("storage: open state store %s: %w", dir, err)
	}
	return &StateDB{db: db, dir: dir}, nil
}

// DB is the Badger handle for the state machine in core/store.
func (s *StateDB) DB() *badger.DB { return s.db }

// WriteSnapshot streams every live key as of revision ts to w, in Badger's
// backup format. MVCC makes it consistent without stopping writes.
func (s *StateDB) WriteSnapshot(ctx context.Context, w io.Writer, ts uint64) error {
	stream := s.db.NewStreamAt(ts)
	stream.LogPrefix = "trellis.snapshot"
	bw := bufio.NewWriterSize(w, 256<<10)
	if _, err := stream.Backup(bw, 0); err != nil {
		return fmt.Errorf("storage: stream snapshot at %d: %w", ts, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("storage: stream snapshot at %d: %w", ts, err)
	}
	return ctx.Err()
}

// RestoreSnapshot replaces the whole state with a snapshot written by
// WriteSnapshot, except the key hold: its versions are left out and the
// newest one's value is returned (nil when the stream has none), for the
// caller to write once everything else is loaded and synced. That key can
// thus mark a complete restore: the stream's key ranges arrive in no
// particular order, and a crash part-way through would otherwise leave
// any subset of the state behind, that key included. The caller guarantees
// nothing else writes meanwhile.
func (s *StateDB) RestoreSnapshot(r io.Reader, hold []byte) ([]byte, error) {
	if err := s.db.DropAll(); err != nil {
		return nil, fmt.Errorf("storage: clear state for snapshot: %w", err)
	}
	var held []byte
	var heldVersion uint64
	ldr := s.db.NewKVLoader(256)
	err := decodeBackup(failpointReader{r}, func(kv *pb.KV) error {
		if hold != nil && bytes.Equal(kv.Key, hold) {
			if held == nil || kv.Version >= heldVersion {
				held, heldVersion = kv.Value, kv.Version
			}
			return nil
		}
		return ldr.Set(kv)
	})
	if err != nil {
		ldr.Finish()
		return nil, err
	}
	if err := ldr.Finish(); err != nil {
		return nil, fmt.Errorf("storage: load snapshot: %w", err)
	}
	return held, s.Sync()
}

// SetDiscardTs lets Badger drop versions older than ts during compaction.
func (s *StateDB) SetDiscardTs(ts uint64) { s.db.SetDiscardTs(ts) }

// Sync flushes the state store's logs to disk.
func (s *StateDB) Sync() error {
	if err := s.db.Sync(); err != nil {
		return fmt.Errorf("storage: fsync state store: %w", err)
	}
	return nil
}

// Size reports LSM and value-log bytes on disk.
func (s *StateDB) Size() (lsm, vlog int64) { return s.db.Size() }

// MaxTs is the newest version timestamp a reader may use.
const MaxTs = math.MaxUint64

// Close closes the state store.
func (s *StateDB) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("storage: close state store: %w", err)
	}
	return nil
}

// failpointReader marks the failpoint storageDuringSnapshotRestore on every
// read of a snapshot being loaded (after the state was cleared). Reads are
// at most 256 KiB, so the N-th hit is about N×256 KiB into the stream.
type failpointReader struct{ r io.Reader }

func (f failpointReader) Read(p []byte) (int, error) {
	failpoint.Hit("storageDuringSnapshotRestore")
	if len(p) > 256<<10 {
		p = p[:256<<10]
	}
	return f.r.Read(p)
}
