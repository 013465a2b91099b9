package raft

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	etcdraft "go.etcd.io/raft/v3"
	"go.etcd.io/raft/v3/raftpb"

	"github.com/trellis-cp/trellis/core/internal/failpoint"
)

// run is the Ready loop: the one goroutine that persists, sends and applies.
// Every proposal that arrived since the last Ready shares its single fsync.
func (n *Node) run() {
	defer close(n.donec)
	ap := n.startApplier()
	defer ap.stop()
	ticker := time.NewTicker(n.cfg.TickInterval)
	defer ticker.Stop()
	promoteEvery := 0
	for {
		select {
		case <-ticker.C:
			n.rn.Tick()
			n.lastTick.Store(time.Now().UnixNano())
			if promoteEvery++; promoteEvery%5 == 0 && n.IsLeader() {
				n.promoteLearners()
			}
		case rd := <-n.rn.Ready():
			if err := n.handleReady(rd, ap); err != nil {
				n.fail(err)
				n.rn.Stop()
				return
			}
			n.rn.Advance()
			n.lastTick.Store(time.Now().UnixNano())
			n.campaignIfAlone()
		case <-n.stopc:
			n.rn.Stop()
			return
		}
	}
}

func (n *Node) handleReady(rd etcdraft.Ready, ap *applier) error {
	if rd.SoftState != nil {
		n.setSoftState(rd.SoftState)
	}
	if !etcdraft.IsEmptyHardState(rd.HardState) {
		n.term.Store(rd.HardState.Term)
		n.commit = rd.HardState.Commit
		n.m.term.Set(float64(rd.HardState.Term))
	}
	// Messages that promise nothing about this node's disk go out before
	// its fsync: a leader's appends (raft thesis 10.2.1), so its disk
	// write overlaps the followers'; a follower's forwarded proposals and
	// read-index requests, so a request served by a follower does not
	// first wait out that follower's fsync; heartbeat answers. Replies
	// that do promise durability wait for the save.
	early, afterSave := splitEarly(rd.Messages)
	n.tr.send(coalesce(early))
	if !etcdraft.IsEmptySnap(rd.Snapshot) {
		if err := n.installSnapshot(rd.Snapshot); err != nil {
			return err
		}
	}
	// Committed entries already in the stable log are applied while this
	// Ready's entries are written: a leader's commits always are (its own
	// vote for them came after their fsync), so a proposer hears back one
	// fsync sooner. Entries persisted by this Ready follow after the save.
	durable, rest := splitDurable(rd.CommittedEntries, n.stableIndex(rd))
	if len(durable) > 0 {
		ap.start(durable)
	}
	failpoint.Hit("raftBeforeSave")
	saveErr := n.log.Save(rd.HardState, rd.Entries, rd.MustSync)
	if saveErr == nil {
		// What waited for the save goes out now, not after the apply
		// beside it: a follower's acknowledgement is what lets the leader
		// commit, and under load the apply outlasts the fsync.
		failpoint.Hit("raftAfterSave")
		n.tr.send(coalesce(afterSave))
	}
	if len(durable) > 0 {
		if err := ap.wait(); err != nil {
			return err
		}
	}
	if saveErr != nil {
		return saveErr
	}
	if len(rd.ReadStates) > 0 {
		n.reads.deliver(rd.ReadStates)
	}
	if err := n.apply(rest); err != nil {
		return err
	}
	if applied := n.sm.AppliedIndex(); n.commit >= applied {
		n.m.applyLag.Set(float64(n.commit - applied))
	}
	return n.maybeSnapshot()
}

// splitEarly picks the messages a node may send before its own save:
// appends, heartbeats and their answers, forwarded proposals and read-index
// requests, snapshots and the like. Responses that promise durable state
// (an append acknowledged, a vote granted or refused) wait for the save.
// The rule is raft's own: in its asynchronous-storage mode exactly these
// three kinds are held back until the unstable state is persisted
// (raft.msgsAfterAppend), on every member, whatever its role.
func splitEarly(msgs []raftpb.Message) (early, afterSave []raftpb.Message) {
	for _, m := range msgs {
		switch m.Type {
		case raftpb.MsgAppResp, raftpb.MsgVoteResp, raftpb.MsgPreVoteResp:
			afterSave = append(afterSave, m)
		default:
			early = append(early, m)
		}
	}
	return early, afterSave
}

// stableIndex is the last log index persisted before rd is saved; 0 when
// rd installs a snapshot (nothing is applied ahead of it then).
func (n *Node) stableIndex(rd etcdraft.Ready) uint64 {
	if !etcdraft.IsEmptySnap(rd.Snapshot) {
		return 0
	}
	last, err := n.log.Storage().LastIndex()
	if err != nil {
		return 0
	}
	return last
}

// splitDurable cuts committed entries into those at or below stable and the
// rest. Committed entries are never overwritten, so a Ready that truncates
// the log's tail leaves the first part intact.
func splitDurable(ents []raftpb.Entry, stable uint64) (durable, rest []raftpb.Entry) {
	i := 0
	for i < len(ents) && ents[i].Index <= stable {
		i++
	}
	return ents[:i], ents[i:]
}

func (n *Node) setSoftState(ss *etcdraft.SoftState) {
	old := n.lead.Swap(ss.Lead)
	n.state.Store(int32(ss.RaftState))
	if ss.RaftState == etcdraft.StateLeader {
		n.m.isLeader.Set(1)
	} else {
		n.m.isLeader.Set(0)
	}
	if old != ss.Lead {
		n.m.leaderChanges.Inc()
		n.logger.Info("leader changed", "from", old, "to", ss.Lead, "state", ss.RaftState.String())
		n.leadCh.notify()
	}
}

// apply hands committed entries to the state machine in one batch, applies
// membership changes to raft and the transport, then wakes the proposers.
func (n *Node) apply(ents []raftpb.Entry) error {
	if len(ents) == 0 {
		return nil
	}
	batch := make([]Applied, 0, len(ents))
	ids := make([]uint64, 0, len(ents))
	for i := range ents {
		e := &ents[i]
		a := Applied{Index: e.Index, Term: e.Term}
		var id uint64
		switch e.Type {
		case raftpb.EntryNormal:
			if len(e.Data) >= 8 {
				id = binary.BigEndian.Uint64(e.Data)
				a.Data = e.Data[8:]
			}
		case raftpb.EntryConfChange:
			var cc raftpb.ConfChange
			if err := cc.Unmarshal(e.Data); err != nil {
				return fmt.Errorf("raft: decode conf change at %d: %w", e.Index, err)
			}
			a.Member = n.applyConfChange(cc)
			id = cc.ID
		}
		batch = append(batch, a)
		ids = append(ids, id)
	}
	failpoint.Hit("raftBeforeApply")
	if err := n.sm.Apply(batch); err != nil {
		return fmt.Errorf("raft: apply through %d: %w", ents[len(ents)-1].Index, err)
	}
	n.publishApplied(ents[len(ents)-1].Term)
	n.m.appliedIndex.Set(float64(n.sm.AppliedIndex()))
	n.applCh.notify()
	for i, id := range ids {
		if id != 0 {
			n.waits.trigger(id, batch[i].Result)
		}
	}
	return nil
}

func (n *Node) applyConfChange(cc raftpb.ConfChange) *MemberChange {
	n.confState = *n.rn.ApplyConfChange(cc)
	mc := &MemberChange{Type: cc.Type, Member: Member{ID: cc.NodeID}}
	if len(cc.Context) > 0 {
		if err := json.Unmarshal(cc.Context, &mc.Member); err != nil {
			n.logger.Warn("conf change with unreadable context", "node", cc.NodeID, "err", err)
		}
		mc.Member.ID = cc.NodeID
	}
	switch cc.Type {
	case raftpb.ConfChangeRemoveNode:
		n.tr.removePeer(cc.NodeID)
		if cc.NodeID == n.cfg.ID {
			n.removed.Store(true)
			n.logger.Warn("this node was removed from the cluster")
		}
	default:
		if cc.NodeID == n.cfg.ID && cc.Type != raftpb.ConfChangeUpdateNode && n.removed.Swap(false) {
			// Re-added after an earlier removal (replayed from the log, or
			// received by a member added back under the same id).
			n.logger.Info("this node is a member again")
			n.unblockProposals()
		}
		addr := mc.Member.PeerAddr
		if addr == "" {
			addr = n.tr.peerAddr(cc.NodeID)
		}
		n.tr.setPeer(cc.NodeID, addr)
	}
	n.appliedMu.Lock()
	delete(n.promoting, cc.NodeID)
	n.appliedMu.Unlock()
	n.logger.Info("membership changed", "type", cc.Type.String(), "member", cc.NodeID, "voters", n.confState.Voters, "learners", n.confState.Learners)
	return mc
}

// unblockProposals undoes what etcd raft does when this node applies its
// own removal: it stops taking proposals, and starts again only when it sees
// the leader change. A node added back under the same id usually knows the
// leader already when it applies that old removal, so no change would come
// and every proposal through it would time out. Forgetting the leader makes
// the next heartbeat a change; until then proposals wait for a leader as
// during an election.
func (n *Node) unblockProposals() {
	ctx, cancel := context.WithTimeout(n.runtimeCtx, time.Second)
	defer cancel()
	if err := n.rn.ForgetLeader(ctx); err != nil {
		n.logger.Warn("forget leader after re-add", "err", err)
	}
}

// maybeSnapshot takes a raft snapshot every SnapshotCount applied entries
// and compacts the log behind it, keeping SnapshotCatchupEntries.
func (n *Node) maybeSnapshot() error {
	applied := n.sm.AppliedIndex()
	if applied-n.snapIndex < n.cfg.SnapshotCount {
		return nil
	}
	// The state behind the snapshot must be durable before the log
	// entries that produced it may be dropped.
	if err := n.sm.Sync(); err != nil {
		return err
	}
	if _, err := n.log.CreateSnapshot(applied, &n.confState, nil, n.cfg.SnapshotCatchupEntries); err != nil {
		return err
	}
	n.snapIndex = applied
	if s, ok := n.sm.(interface{ SnapshotTaken(uint64) }); ok {
		s.SnapshotTaken(applied)
	}
	n.m.snapshots.Inc()
	n.logger.Debug("snapshot taken", "index", applied)
	n.pruneSnapFiles(0)
	return nil
}

// publishApplied records the applied index, its term and the membership for
// snapshot senders on other goroutines.
func (n *Node) publishApplied(term uint64) {
	n.applied.Store(&appliedState{index: n.sm.AppliedIndex(), term: term, conf: cloneConfState(n.confState)})
}

func cloneConfState(cs raftpb.ConfState) raftpb.ConfState {
	c := func(s []uint64) []uint64 { return append([]uint64(nil), s...) }
	return raftpb.ConfState{Voters: c(cs.Voters), Learners: c(cs.Learners), VotersOutgoing: c(cs.VotersOutgoing),
		LearnersNext: c(cs.LearnersNext), AutoLeave: cs.AutoLeave}
}

// campaignIfAlone starts an election at once when this node is the only
// voter: there is nobody to wait for, so a one-node cluster leads in
// milliseconds instead of after an election timeout. It runs after Advance,
// when raft has seen the membership entries applied.
func (n *Node) campaignIfAlone() {
	if n.campaigned || n.Leader() != 0 {
		return
	}
	if v := n.confState.Voters; len(v) == 1 && v[0] == n.cfg.ID {
		n.campaigned = true
		go n.rn.Campaign(n.runtimeCtx)
	}
}
