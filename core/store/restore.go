package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/dgraph-io/badger/v4"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/storage"
)

// The directories Open expects under DataDir.
const (
	dirRaft  = "raft"
	dirState = "state"
	dirSnap  = "snap"
)

// RestoreSnapshot turns a snapshot written by Snapshot into the data
// directory of a new one-member cluster whose only member is m, with the
// same data at the same revision. dataDir must not hold raft or state data.
//
// The file is checked as it is read (magic, format version, SHA-256
// trailer); a bad one is refused with ErrBadSnapshot. Everything is built
// in a temporary directory next to dataDir and moved into place only once
// complete, so a failure leaves dataDir as it was. The restored state keeps
// the keys (with their revisions and TTLs), the change log and the
// compacted revision; its applied index is the snapshot's revision, reads
// below it are refused, the member table is m alone and no alarm is
// raised. The raft log starts with a snapshot at that revision whose only
// voter is m, so Open with node id m.ID and peer address m.PeerAddr
// restarts it as a one-member cluster, which elects itself at once.
func RestoreSnapshot(ctx context.Context, r io.Reader, dataDir string, m raft.Member) (SnapshotInfo, error) {
	if m.ID == 0 || m.PeerAddr == "" {
		return SnapshotInfo{}, fmt.Errorf("store: restore: the new member needs an id and a peer address (got %d, %q)", m.ID, m.PeerAddr)
	}
	dataDir = filepath.Clean(dataDir)
	if err := checkRestoreTarget(dataDir); err != nil {
		return SnapshotInfo{}, err
	}
	parent := filepath.Dir(dataDir)
	if err := os.MkdirAll(parent, 0o750); err != nil {
		return SnapshotInfo{}, fmt.Errorf("store: restore: %w", err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dataDir)+".restore-")
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("store: restore: %w", err)
	}
	defer os.RemoveAll(tmp) // gone by rename when all went well
	if err := os.Chmod(tmp, 0o750); err != nil {
		return SnapshotInfo{}, fmt.Errorf("store: restore: %w", err)
	}
	info, err := buildDataDir(ctx, r, tmp, m)
	if err != nil {
		return SnapshotInfo{}, err
	}
	if err := ctx.Err(); err != nil {
		return SnapshotInfo{}, err
	}
	if err := moveIntoPlace(tmp, dataDir); err != nil {
		return SnapshotInfo{}, err
	}
	return info, nil
}

// checkRestoreTarget refuses a data directory that holds raft or state
// data (a non-empty raft/, state/ or snap/). Anything else in it stays.
func checkRestoreTarget(dataDir string) error {
	for _, sub := range []string{dirRaft, dirState, dirSnap} {
		entries, err := os.ReadDir(filepath.Join(dataDir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return fmt.Errorf("store: restore into %s: %w", dataDir, err)
		}
		if len(entries) > 0 {
			return fmt.Errorf("store: restore into %s: it already holds data (%s/ is not empty)", dataDir, sub)
		}
	}
	return nil
}

// moveIntoPlace renames the built directory to dataDir, or, when dataDir
// exists (with other files in it), moves its three subdirectories in,
// undoing the moves if one fails.
func moveIntoPlace(tmp, dataDir string) error {
	if _, err := os.Stat(dataDir); errors.Is(err, fs.ErrNotExist) {
		if err := os.Rename(tmp, dataDir); err != nil {
			return fmt.Errorf("store: restore: %w", err)
		}
		return syncDir(filepath.Dir(dataDir))
	}
	var moved []string
	for _, sub := range []string{dirState, dirRaft, dirSnap} {
		dst := filepath.Join(dataDir, sub)
		err := os.Remove(dst) // empty, checked before
		if err == nil || errors.Is(err, fs.ErrNotExist) {
			err = os.Rename(filepath.Join(tmp, sub), dst)
		}
		if err != nil {
			for _, done := range moved {
				os.Rename(filepath.Join(dataDir, done), filepath.Join(tmp, done))
			}
			return fmt.Errorf("store: restore into %s: %w", dataDir, err)
		}
		moved = append(moved, sub)
	}
	return syncDir(dataDir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("store: restore: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("store: restore: sync %s: %w", dir, err)
	}
	return nil
}

// buildDataDir reads the snapshot into a new state store and raft log
// under dir.
func buildDataDir(ctx context.Context, r io.Reader, dir string, m raft.Member) (SnapshotInfo, error) {
	logger := slog.Default().With("module", "store")
	sr := newSnapshotReader(ctx, r)
	hdr, err := sr.readHeader()
	if err != nil {
		return SnapshotInfo{}, err
	}
	st, err := storage.OpenStateDB(filepath.Join(dir, dirState), logger)
	if err != nil {
		return SnapshotInfo{}, err
	}
	info, err := loadState(sr, st, &hdr, m, logger)
	if cerr := st.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return SnapshotInfo{}, err
	}
	if err := initRaftLog(filepath.Join(dir, dirRaft), &hdr, m, logger); err != nil {
		return SnapshotInfo{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, dirSnap), 0o750); err != nil {
		return SnapshotInfo{}, fmt.Errorf("store: restore: %w", err)
	}
	info.Revision = hdr.Revision
	return info, nil
}

// loadState loads the body into st, checks the trailer, then rewrites the
// member-specific metadata and checks the result opens as a state machine.
func loadState(sr *snapshotReader, st *storage.StateDB, hdr *snapshotHeader, m raft.Member, logger *slog.Logger) (SnapshotInfo, error) {
	if err := st.LoadSnapshot(sr, keepOnRestore); err != nil {
		if sr.err != nil {
			return SnapshotInfo{}, sr.err // truncated, or cancelled
		}
		// The body did not parse: a failed checksum says why more plainly.
		sr.drain()
		if _, cerr := sr.finish(); cerr != nil {
			return SnapshotInfo{}, cerr
		}
		return SnapshotInfo{}, fmt.Errorf("%w: %w", ErrBadSnapshot, err)
	}
	info, err := sr.finish()
	if err != nil {
		return SnapshotInfo{}, err
	}
	if err := writeRestoredMeta(st, hdr.Revision, m); err != nil {
		return SnapshotInfo{}, err
	}
	sm, err := newStateMachine(st, logger)
	if err != nil {
		return SnapshotInfo{}, fmt.Errorf("store: restore: restored state does not load: %w", err)
	}
	if got := sm.revision(); got != hdr.Revision {
		return SnapshotInfo{}, fmt.Errorf("store: restore: restored state at revision %d, want %d", got, hdr.Revision)
	}
	return info, nil
}

// keepOnRestore leaves out the metadata RestoreSnapshot writes anew: the
// applied index, the read floor, the member table and the alarms.
func keepOnRestore(key []byte) bool {
	return !bytes.Equal(key, metaApplied) && !bytes.Equal(key, metaReadFloor) &&
		!bytes.HasPrefix(key, metaMember) && !bytes.HasPrefix(key, metaAlarm)
}

// writeRestoredMeta records, at the snapshot's revision, that the state is
// applied up to it, that nothing below it can be read (the older versions
// are not all there) and that m is the only member.
func writeRestoredMeta(st *storage.StateDB, rev int64, m raft.Member) error {
	m.Learner = false
	v, err := json.Marshal(m)
	if err != nil {
		return err
	}
	wb := st.DB().NewManagedWriteBatch()
	defer wb.Cancel()
	for _, e := range []*badger.Entry{
		badger.NewEntry(metaApplied, u64bytes(uint64(rev))),
		badger.NewEntry(metaReadFloor, u64bytes(uint64(rev))),
		badger.NewEntry(memberKey(m.ID), v),
	} {
		if err := wb.SetEntryAt(e, uint64(rev)); err != nil {
			return fmt.Errorf("store: restore: %w", err)
		}
	}
	if err := wb.Flush(); err != nil {
		return fmt.Errorf("store: restore: write metadata: %w", err)
	}
	return st.Sync()
}

// initRaftLog starts a raft log whose base is a snapshot at the restored
// revision with m as the only voter, committed by the hard state.
func initRaftLog(dir string, hdr *snapshotHeader, m raft.Member, logger *slog.Logger) error {
	lg, err := storage.OpenLogStore(dir, logger)
	if err != nil {
		return err
	}
	term := max(hdr.Term, 1)
	index := uint64(hdr.Revision)
	snap := raftpb.Snapshot{Metadata: raftpb.SnapshotMetadata{
		Index: index, Term: term, ConfState: raftpb.ConfState{Voters: []uint64{m.ID}},
	}}
	err = lg.SaveSnapshot(snap)
	if err == nil {
		err = lg.Save(raftpb.HardState{Term: term, Commit: index}, nil, true)
	}
	if cerr := lg.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("store: restore: initialize raft log: %w", err)
	}
	return nil
}
