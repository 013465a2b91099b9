package raft

import (
	"bytes"
	"reflect"
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

func ents(term uint64, from, to uint64) []raftpb.Entry {
	var out []raftpb.Entry
	for i := from; i <= to; i++ {
		out = append(out, raftpb.Entry{Term: term, Index: i, Data: []byte{byte(i)}})
	}
	return out
}

func app(to, index, logTerm, commit uint64, e []raftpb.Entry) raftpb.Message {
	return raftpb.Message{Type: raftpb.MsgApp, From: 1, To: to, Term: 2, Index: index, LogTerm: logTerm, Commit: commit, Entries: e}
}

func ack(from, index uint64, reject bool) raftpb.Message {
	return raftpb.Message{Type: raftpb.MsgAppResp, From: from, To: 1, Term: 2, Index: index, Reject: reject}
}

func TestCoalesceAppends(t *testing.T) {
	// The leader's Ready under load: one append per proposal to each
	// follower, then commit-only appends as acknowledgements came in.
	msgs := []raftpb.Message{
		app(2, 10, 2, 9, ents(2, 11, 11)),
		app(3, 10, 2, 9, ents(2, 11, 11)),
		app(2, 11, 2, 9, ents(2, 12, 12)),
		app(3, 11, 2, 9, ents(2, 12, 12)),
		app(2, 12, 2, 11, nil),
		app(2, 12, 2, 11, ents(2, 13, 14)),
		app(3, 12, 2, 12, nil),
	}
	got := coalesce(msgs)
	want := []raftpb.Message{
		app(2, 10, 2, 11, ents(2, 11, 14)),
		app(3, 10, 2, 12, ents(2, 11, 12)),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("coalesced to\n%+v\nwant\n%+v", got, want)
	}
}

func TestCoalesceKeepsWhatItCannotMerge(t *testing.T) {
	hb := raftpb.Message{Type: raftpb.MsgHeartbeat, From: 1, To: 2, Term: 2, Commit: 11}
	cases := map[string][]raftpb.Message{
		// A gap: the second append does not continue the first.
		"gap": {app(2, 10, 2, 9, ents(2, 11, 11)), app(2, 12, 2, 9, ents(2, 13, 13))},
		// The second append's previous term is not the first's last.
		"log term": {app(2, 10, 2, 9, ents(2, 11, 11)), app(2, 11, 3, 9, ents(3, 12, 12))},
		// Sent in another term.
		"term": {app(2, 10, 2, 9, ents(2, 11, 11)), func() raftpb.Message { m := app(2, 11, 2, 9, ents(2, 12, 12)); m.Term = 3; return m }()},
		// Something else to the same peer in between keeps the order.
		"heartbeat between": {app(2, 10, 2, 9, ents(2, 11, 11)), hb, app(2, 11, 2, 9, ents(2, 12, 12))},
		// A rejection is never folded into, nor folds another away.
		"rejection first": {ack(2, 11, true), ack(2, 12, false)},
		"rejection last":  {ack(2, 11, false), ack(2, 9, true)},
		// An older acknowledgement after a newer one says less.
		"older ack": {ack(2, 12, false), ack(2, 11, false)},
		// Heartbeats and votes are left alone.
		"heartbeats": {hb, hb},
	}
	for name, msgs := range cases {
		if got := coalesce(append([]raftpb.Message(nil), msgs...)); !reflect.DeepEqual(got, msgs) {
			t.Errorf("%s: coalesced to\n%+v\nwant unchanged\n%+v", name, got, msgs)
		}
	}
}

func TestCoalesceAcknowledgementsAndProposals(t *testing.T) {
	// A follower's Ready: an acknowledgement for each append it took, and
	// proposals it forwards to the leader.
	prop := func(d byte) raftpb.Message {
		return raftpb.Message{Type: raftpb.MsgProp, From: 2, To: 1, Entries: []raftpb.Entry{{Data: []byte{d}}}}
	}
	got := coalesce([]raftpb.Message{ack(2, 11, false), prop(1), ack(2, 12, false), ack(2, 14, false)})
	want := []raftpb.Message{ack(2, 11, false), {Type: raftpb.MsgProp, From: 2, To: 1,
		Entries: []raftpb.Entry{{Data: []byte{1}}}}, ack(2, 14, false)}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("coalesced to\n%+v\nwant\n%+v", got, want)
	}
	got = coalesce([]raftpb.Message{prop(1), prop(2), prop(3)})
	if len(got) != 1 || len(got[0].Entries) != 3 || got[0].Entries[2].Data[0] != 3 {
		t.Fatalf("three forwarded proposals coalesced to %+v, want one of three entries in order", got)
	}
}

func TestCoalesceBoundsSizeAndCopies(t *testing.T) {
	big := bytes.Repeat([]byte{'x'}, maxCoalescedBytes/2+1)
	a := app(2, 10, 2, 9, []raftpb.Entry{{Term: 2, Index: 11, Data: big}})
	b := app(2, 11, 2, 9, []raftpb.Entry{{Term: 2, Index: 12, Data: big}})
	if got := coalesce([]raftpb.Message{a, b}); len(got) != 2 {
		t.Fatalf("two appends of %d bytes merged into %d messages, want 2 (over the bound)", len(big), len(got))
	}
	// Entries raft hands over are slices of its log, with room behind
	// them; merging must not append into it.
	log := ents(2, 11, 13)
	want := append([]raftpb.Entry(nil), log...)
	c := app(2, 10, 2, 9, log[0:2])
	d := app(2, 12, 2, 9, []raftpb.Entry{{Term: 2, Index: 13, Data: []byte("other")}})
	if got := coalesce([]raftpb.Message{c, d}); len(got) != 1 || len(got[0].Entries) != 3 || string(got[0].Entries[2].Data) != "other" {
		t.Fatalf("coalesced to %+v", got)
	}
	if !reflect.DeepEqual(log, want) {
		t.Fatalf("raft's log changed to %+v, was %+v", log, want)
	}
}
