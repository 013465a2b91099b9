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
	out := make([]pending, 0, len(msgs))
	latest := make(map[uint64]int, 4) // peer -> index in out of its newest message
	for _, m := range msgs {
		if i, ok := latest[m.To]; ok && out[i].merge(&m) {
			continue
		}
		latest[m.To] = len(out)
		out = append(out, newPending(m))
	}
	res := make([]raftpb.Message, len(out))
	for i := range out {
		res[i] = out[i].m
	}
	return res
}

// pending is a message that later ones to the same peer may still be
// merged into. Once a merge has copied its entries into a slice of its
// own, later merges extend that slice in place, and the entry bytes are
// counted once, so folding n messages one at a time costs O(n), not
// O(n²) (a follower's stream after a stall can hold thousands of
// single-entry proposals).
type pending struct {
	m     raftpb.Message
	owned bool // m.Entries is merge's own slice
	size  int  // bytes of entry data in m; -1 until counted
}

func newPending(m raftpb.Message) pending { return pending{m: m, size: -1} }

// merge folds b, which follows p's message on the way to the same peer,
// into it and reports whether it could.
func (p *pending) merge(b *raftpb.Message) bool {
	a := &p.m
	if a.Type != b.Type || a.Term != b.Term || a.From != b.From {
		return false
	}
	switch a.Type {
	case raftpb.MsgApp:
		if b.Index != a.Index+uint64(len(a.Entries)) || b.LogTerm != lastTerm(a) {
			return false
		}
		if !p.appendEntries(b.Entries) {
			return false
		}
		a.Commit = max(a.Commit, b.Commit)
		return true
	case raftpb.MsgAppResp:
		if a.Reject || b.Reject || b.Index < a.Index {
			return false
		}
		*p = newPending(*b)
		return true
	case raftpb.MsgProp:
		return p.appendEntries(b.Entries)
	}
	return false
}

// appendEntries adds ents to the message's entries unless that would pass
// maxCoalescedBytes. Entries raft handed over are never written to: the
// first merge copies them into a new slice, with room for more.
func (p *pending) appendEntries(ents []raftpb.Entry) bool {
	if p.size < 0 {
		p.size = dataBytes(p.m.Entries)
	}
	n := dataBytes(ents)
	if p.size+n > maxCoalescedBytes {
		return false
	}
	if !p.owned {
		own := make([]raftpb.Entry, len(p.m.Entries), 2*(len(p.m.Entries)+len(ents)))
		copy(own, p.m.Entries)
		p.m.Entries, p.owned = own, true
	}
	p.m.Entries = append(p.m.Entries, ents...)
	p.size += n
	return true
}

// lastTerm is the term of the last entry an append leaves in the log.
func lastTerm(m *raftpb.Message) uint64 {
	if len(m.Entries) == 0 {
		return m.LogTerm
	}
	return m.Entries[len(m.Entries)-1].Term
}

// dataBytes is the entry data ents carry.
func dataBytes(ents []raftpb.Entry) int {
	n := 0
	for i := range ents {
		n += len(ents[i].Data)
	}
	return n
}
