package raft

import "go.etcd.io/raft/v3/raftpb"

// maxCoalescedBytes bounds the entry data merged into one message; raft's
// own MaxSizePerMsg is 1 MiB too.
const maxCoalescedBytes = 1 << 20

// coalesce merges the messages of one Ready that follow each other on the
// way to the same peer and say nothing the last of them does not. Raft
// sends an append to every follower for each proposal it steps and
// answers each append it receives, so under load a Ready carries runs of
// single-entry appends to each follower, each follower's Ready a run of
// acknowledgements, and every one of them was encoded, written, read and
// stepped on its own (a 3-node cluster under put load sent each follower
// two appends per put). Merged:
//
//   - appends (MsgApp) that continue one another become one append of all
//     their entries, carrying the newest commit index;
//   - acknowledgements (MsgAppResp, not rejections) become the newest one:
//     raft reads an acknowledgement as "everything up to Index", so the
//     newest says all the others did;
//   - proposals a follower forwards (MsgProp) become one proposal of all
//     their entries.
//
// Only a peer's consecutive messages merge, so what it receives keeps its
// order. The merged messages are new: entries slices raft handed over are
// never written to.
func coalesce(msgs []raftpb.Message) []raftpb.Message {
	if len(msgs) < 2 {
		return msgs
	}
	out := make([]raftpb.Message, 0, len(msgs))
	latest := make(map[uint64]int, 4) // peer -> index in out of its newest message
	for _, m := range msgs {
		if i, ok := latest[m.To]; ok && merge(&out[i], &m) {
			continue
		}
		latest[m.To] = len(out)
		out = append(out, m)
	}
	return out
}

// merge folds b into a, which b follows on the way to the same peer, and
// reports whether it could.
func merge(a, b *raftpb.Message) bool {
	if a.Type != b.Type || a.Term != b.Term || a.From != b.From {
		return false
	}
	switch a.Type {
	case raftpb.MsgApp:
		if b.Index != a.Index+uint64(len(a.Entries)) || b.LogTerm != lastTerm(a) || !fits(a, b) {
			return false
		}
		a.Entries = concat(a.Entries, b.Entries)
		a.Commit = max(a.Commit, b.Commit)
		return true
	case raftpb.MsgAppResp:
		if a.Reject || b.Reject || b.Index < a.Index {
			return false
		}
		*a = *b
		return true
	case raftpb.MsgProp:
		if !fits(a, b) {
			return false
		}
		a.Entries = concat(a.Entries, b.Entries)
		return true
	}
	return false
}

// lastTerm is the term of the last entry an append leaves in the log.
func lastTerm(m *raftpb.Message) uint64 {
	if len(m.Entries) == 0 {
		return m.LogTerm
	}
	return m.Entries[len(m.Entries)-1].Term
}

// fits reports whether b's entries may join a's under maxCoalescedBytes.
func fits(a, b *raftpb.Message) bool {
	n := 0
	for _, ents := range [][]raftpb.Entry{a.Entries, b.Entries} {
		for i := range ents {
			n += len(ents[i].Data)
		}
	}
	return n <= maxCoalescedBytes
}

// concat is a and b in a new slice.
func concat(a, b []raftpb.Entry) []raftpb.Entry {
	out := make([]raftpb.Entry, 0, len(a)+len(b))
	return append(append(out, a...), b...)
}
