package raft

import (
	"testing"

	"go.etcd.io/raft/v3/raftpb"
)

func TestSplitDurable(t *testing.T) {
	ents := func(idx ...uint64) []raftpb.Entry {
		out := make([]raftpb.Entry, len(idx))
		for i, x := range idx {
			out[i].Index = x
		}
		return out
	}
	for _, tc := range []struct {
		name          string
		ents          []raftpb.Entry
		stable        uint64
		durable, rest int
	}{
		{"none committed", nil, 10, 0, 0},
		{"all stable (leader)", ents(5, 6, 7), 7, 3, 0},
		{"stable beyond", ents(5, 6, 7), 20, 3, 0},
		{"partly in this Ready (follower)", ents(5, 6, 7, 8), 6, 2, 2},
		{"none stable", ents(5, 6), 4, 0, 2},
		{"snapshot Ready", ents(5, 6), 0, 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d, r := splitDurable(tc.ents, tc.stable)
			if len(d) != tc.durable || len(r) != tc.rest {
				t.Fatalf("split at %d: %d durable, %d rest; want %d, %d", tc.stable, len(d), len(r), tc.durable, tc.rest)
			}
			for _, e := range d {
				if e.Index > tc.stable {
					t.Fatalf("entry %d above stable %d applied early", e.Index, tc.stable)
				}
			}
			if len(d) > 0 && len(r) > 0 && r[0].Index != d[len(d)-1].Index+1 {
				t.Fatalf("split lost order: %d then %d", d[len(d)-1].Index, r[0].Index)
			}
		})
	}
}
