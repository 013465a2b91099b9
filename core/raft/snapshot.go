package raft

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/trellis-cp/trellis/core/internal/failpoint"
)

// step delivers a message from a peer to raft.
func (n *Node) step(ctx context.Context, m raftpb.Message) error {
	return n.rn.Step(ctx, m)
}

func (n *Node) reportUnreachable(id uint64) { n.rn.ReportUnreachable(id) }

func (n *Node) reportSnapshot(id uint64, status etcdraft.SnapshotStatus) {
	n.rn.ReportSnapshot(id, status)
}

// appliedState is the newest applied index with its term and membership,
// published by the Ready loop after every apply.
type appliedState struct {
	index, term uint64
	conf        raftpb.ConfState
}

// mergeSnapshot replaces the metadata of the snapshot raft chose (its last
// stored one, which may predate a member's own addition) with the newest
// applied state, as etcd's merged snapshots do. The receiver then always
// finds itself in the snapshot's configuration, and gets fresher data.
func (n *Node) mergeSnapshot(m raftpb.Message) raftpb.Message {
	st := n.applied.Load()
	if st == nil || st.index <= m.Snapshot.Metadata.Index {
		return m
	}
	snap := *m.Snapshot
	snap.Metadata = raftpb.SnapshotMetadata{Index: st.index, Term: st.term, ConfState: st.conf}
	m.Snapshot = &snap
	return m
}

// writeSnapshot streams the state as of the snapshot's index. The state
// store is MVCC and never discards versions above the newest snapshot, so
// this is consistent while writes go on.
func (n *Node) writeSnapshot(ctx context.Context, w io.Writer, m raftpb.Message) error {
	return n.sm.WriteSnapshot(ctx, w, m.Snapshot.Metadata.Index)
}

// receiveSnapshot writes an incoming stream to <SnapDir>/<index>.snap and
// fsyncs it before raft hears of it, so a crash can always finish the
// install from the file.
func (n *Node) receiveSnapshot(m raftpb.Message, r io.Reader) error {
	index := m.Snapshot.Metadata.Index
	final := n.snapPath(index)
	tmp, err := os.CreateTemp(n.cfg.SnapDir, "recv-*.tmp")
	if err != nil {
		return fmt.Errorf("raft: create snapshot file: %w", err)
	}
	defer os.Remove(tmp.Name())
	size, err := io.Copy(tmp, r)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("raft: receive snapshot %d: %w", index, err)
	}
	if err := os.Rename(tmp.Name(), final); err != nil {
		return fmt.Errorf("raft: store snapshot %d: %w", index, err)
	}
	n.logger.Info("snapshot received", "from", m.From, "index", index, "bytes", size)
	return nil
}

// installSnapshot is the Ready loop's half: record the snapshot in the log,
// then swap the state machine's contents for the received file.
func (n *Node) installSnapshot(snap raftpb.Snapshot) error {
	if err := n.log.SaveSnapshot(snap); err != nil {
		return err
	}
	index := snap.Metadata.Index
	if index > n.sm.AppliedIndex() {
		failpoint.Hit("raftBeforeSnapshotRestore")
		if err := n.restoreFromFile(index); err != nil {
			return err
		}
	}
	n.confState = snap.Metadata.ConfState
	n.snapIndex = index
	n.publishApplied(snap.Metadata.Term)
	for _, m := range n.sm.Members() {
		n.tr.setPeer(m.ID, m.PeerAddr)
	}
	if s, ok := n.sm.(interface{ SnapshotTaken(uint64) }); ok {
		s.SnapshotTaken(index)
	}
	n.m.snapshots.Inc()
	n.applCh.notify()
	n.logger.Info("snapshot installed", "index", index, "term", snap.Metadata.Term)
	n.pruneSnapFiles(index)
	return nil
}

func (n *Node) restoreFromFile(index uint64) error {
	f, err := os.Open(n.snapPath(index))
	if err != nil {
		return fmt.Errorf("raft: open snapshot %d: %w", index, err)
	}
	defer f.Close()
	if err := n.sm.RestoreSnapshot(f, index); err != nil {
		return fmt.Errorf("raft: restore snapshot %d: %w", index, err)
	}
	return nil
}

// pruneSnapFiles removes received snapshot files other than keep's.
func (n *Node) pruneSnapFiles(keep uint64) {
	entries, err := os.ReadDir(n.cfg.SnapDir)
	if err != nil {
		return
	}
	keepName := filepath.Base(n.snapPath(keep))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".snap") && (keep == 0 || e.Name() != keepName) {
			os.Remove(filepath.Join(n.cfg.SnapDir, e.Name()))
		}
	}
}
