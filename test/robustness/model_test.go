package robustness

import (
	"math"
	"strings"
	"testing"

	"github.com/anishathalye/porcupine"
)

// The checker must catch what it is there to catch: these histories are
// built by hand, each with the one anomaly named.

func put(client int, key, value string, call, ret int64, rev, version int64) Op {
	return Op{Client: client, Req: Request{Kind: OpPut, Key: key, Value: value}, Call: call, Return: ret,
		Resp: Response{Outcome: OK, ModRev: rev, Version: version}}
}

func putUnknown(client int, key, value string, call int64) Op {
	return Op{Client: client, Req: Request{Kind: OpPut, Key: key, Value: value}, Call: call, Return: math.MaxInt64,
		Resp: Response{Outcome: Unknown}}
}

func get(client int, key string, call, ret int64, value string, rev, version int64) Op {
	return Op{Client: client, Req: Request{Kind: OpGet, Key: key}, Call: call, Return: ret,
		Resp: Response{Outcome: OK, Found: true, Value: value, ModRev: rev, Version: version}}
}

func getAbsent(client int, key string, call, ret int64) Op {
	return Op{Client: client, Req: Request{Kind: OpGet, Key: key}, Call: call, Return: ret, Resp: Response{Outcome: OK}}
}

func casVersion(client int, key, value string, prev int64, call, ret int64, out Response) Op {
	return Op{Client: client, Req: Request{Kind: OpCAS, Key: key, Value: value, PrevVersion: &prev}, Call: call, Return: ret, Resp: out}
}

func casValue(client int, key, value, prev string, call, ret int64, out Response) Op {
	return Op{Client: client, Req: Request{Kind: OpCAS, Key: key, Value: value, PrevValue: &prev}, Call: call, Return: ret, Resp: out}
}

func del(client int, key string, call, ret int64) Op {
	return Op{Client: client, Req: Request{Kind: OpDelete, Key: key}, Call: call, Return: ret, Resp: Response{Outcome: OK}}
}

func stale(node uint64, inc int, key string, call, ret int64, value string, rev, version int64) Op {
	return Op{Node: node, Incarnation: inc, Req: Request{Kind: OpStaleGet, Key: key}, Call: call, Return: ret,
		Resp: Response{Outcome: OK, Found: value != "", Value: value, ModRev: rev, Version: version}}
}

func TestModelLinearizability(t *testing.T) {
	cases := []struct {
		name string
		ops  []Op
		want porcupine.CheckResult
	}{
		{"put then read", []Op{put(0, "a", "v1", 0, 10, 5, 1), get(1, "a", 20, 30, "v1", 5, 1)}, porcupine.Ok},
		{"concurrent read may see either", []Op{put(0, "a", "v1", 0, 10, 5, 1), put(0, "a", "v2", 20, 40, 6, 2), get(1, "a", 25, 30, "v1", 5, 1)}, porcupine.Ok},
		{"stale linearizable read", []Op{put(0, "a", "v1", 0, 10, 5, 1), put(0, "a", "v2", 20, 30, 6, 2), get(1, "a", 40, 50, "v1", 5, 1)}, porcupine.Illegal},
		{"lost acknowledged write", []Op{put(0, "a", "v1", 0, 10, 5, 1), getAbsent(1, "a", 20, 30)}, porcupine.Illegal},
		{"value never written", []Op{get(1, "a", 20, 30, "ghost", 5, 1)}, porcupine.Illegal},
		{"unknown write seen", []Op{putUnknown(0, "a", "v1", 0), get(1, "a", 20, 30, "v1", 7, 1)}, porcupine.Ok},
		{"unknown write not seen", []Op{putUnknown(0, "a", "v1", 0), getAbsent(1, "a", 20, 30)}, porcupine.Ok},
		{"unknown write lands late", []Op{putUnknown(0, "a", "v1", 0), getAbsent(1, "a", 20, 30), get(1, "a", 40, 50, "v1", 7, 1)}, porcupine.Ok},
		{"unknown write seen then gone", []Op{putUnknown(0, "a", "v1", 0), get(1, "a", 20, 30, "v1", 7, 1), getAbsent(1, "a", 40, 50)}, porcupine.Illegal},
		{"write seen before it was made", []Op{get(1, "a", 0, 10, "v1", 7, 1), put(0, "a", "v1", 20, 30, 7, 1)}, porcupine.Illegal},
		{"revisions go backwards", []Op{put(0, "a", "v1", 0, 10, 10, 1), put(0, "a", "v2", 20, 30, 9, 2)}, porcupine.Illegal},
		{"read reports another revision", []Op{put(0, "a", "v1", 0, 10, 10, 1), get(1, "a", 20, 30, "v1", 11, 1)}, porcupine.Illegal},
		{"version skips", []Op{put(0, "a", "v1", 0, 10, 10, 1), put(0, "a", "v2", 20, 30, 12, 3)}, porcupine.Illegal},
		{"delete then absent", []Op{put(0, "a", "v1", 0, 10, 10, 1), del(0, "a", 20, 30), getAbsent(1, "a", 40, 50),
			put(0, "a", "v2", 60, 70, 14, 1)}, porcupine.Ok},
		{"cas on version", []Op{put(0, "a", "v1", 0, 10, 10, 1),
			casVersion(0, "a", "v2", 1, 20, 30, Response{Outcome: OK, ModRev: 11, Version: 2}),
			casVersion(0, "a", "v3", 1, 40, 50, Response{Outcome: CompareFailed}),
			casValue(0, "a", "v4", "v2", 60, 70, Response{Outcome: OK, ModRev: 13, Version: 3})}, porcupine.Ok},
		{"cas wrongly refused", []Op{put(0, "a", "v1", 0, 10, 10, 1),
			casVersion(0, "a", "v2", 1, 20, 30, Response{Outcome: CompareFailed})}, porcupine.Illegal},
		{"cas wrongly applied", []Op{put(0, "a", "v1", 0, 10, 10, 1),
			casValue(0, "a", "v2", "v0", 20, 30, Response{Outcome: OK, ModRev: 11, Version: 2})}, porcupine.Illegal},
		{"cas create only if absent", []Op{casVersion(0, "a", "v1", 0, 0, 10, Response{Outcome: OK, ModRev: 4, Version: 1}),
			casVersion(1, "a", "v2", 0, 20, 30, Response{Outcome: CompareFailed})}, porcupine.Ok},
		{"keys are independent", []Op{put(0, "a", "v1", 0, 10, 10, 1), put(0, "b", "w1", 20, 30, 11, 1),
			get(1, "a", 40, 50, "v1", 10, 1), get(1, "b", 40, 50, "w1", 11, 1)}, porcupine.Ok},
		{"delete outcome unknown", []Op{put(0, "a", "v1", 0, 10, 10, 1),
			{Client: 0, Req: Request{Kind: OpDelete, Key: "a"}, Call: 20, Return: math.MaxInt64, Resp: Response{Outcome: Unknown}},
			get(1, "a", 40, 50, "v1", 10, 1), getAbsent(1, "a", 60, 70)}, porcupine.Ok},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := CheckHistory(tc.ops, "")
			if v.Result != tc.want {
				t.Fatalf("got %s, want %s", v.Result, tc.want)
			}
		})
	}
}

func TestFailedOpsAreLeftOut(t *testing.T) {
	ops := []Op{
		{Req: Request{Kind: OpPut, Key: "a", Value: "never"}, Call: 0, Return: 5, Resp: Response{Outcome: Failed}},
		getAbsent(1, "a", 20, 30),
		{Req: Request{Kind: OpGet, Key: "a"}, Call: 40, Return: 50, Resp: Response{Outcome: Unknown}},
	}
	v := CheckHistory(ops, "")
	if v.Result != porcupine.Ok || v.Checked != 1 || v.Refused != 2 {
		t.Fatalf("got %+v", v)
	}
}

func TestStaleReads(t *testing.T) {
	base := []Op{put(0, "a", "v1", 0, 10, 10, 1), put(0, "a", "v2", 20, 30, 12, 2)}
	cases := []struct {
		name       string
		reads      []Op
		violations int
		notes      int
	}{
		{"old value is fine", []Op{stale(1, 1, "a", 40, 50, "v1", 10, 1)}, 0, 0},
		{"forward is fine", []Op{stale(1, 1, "a", 40, 50, "v1", 10, 1), stale(1, 1, "a", 60, 70, "v2", 12, 2)}, 0, 0},
		{"invented value", []Op{stale(1, 1, "a", 40, 50, "ghost", 11, 1)}, 1, 0},
		{"wrong revision for an acknowledged write", []Op{stale(1, 1, "a", 40, 50, "v1", 11, 1)}, 1, 0},
		{"backwards on one process", []Op{stale(1, 1, "a", 40, 50, "v2", 12, 2), stale(1, 1, "a", 60, 70, "v1", 10, 1)}, 1, 0},
		{"backwards on different nodes is fine", []Op{stale(1, 1, "a", 40, 50, "v2", 12, 2), stale(2, 1, "a", 60, 70, "v1", 10, 1)}, 0, 0},
		{"overlapping reads may disagree", []Op{stale(1, 1, "a", 40, 65, "v2", 12, 2), stale(1, 1, "a", 60, 70, "v1", 10, 1)}, 0, 0},
		{"backwards across a restart is a note", []Op{stale(1, 1, "a", 40, 50, "v2", 12, 2), stale(1, 2, "a", 60, 70, "v1", 10, 1)}, 0, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ops := append(append([]Op{}, base...), tc.reads...)
			checked, violations, notes := checkStale(ops)
			if checked != len(tc.reads) || len(violations) != tc.violations || len(notes) != tc.notes {
				t.Fatalf("checked %d, violations %q, notes %q", checked, violations, notes)
			}
			for _, v := range violations {
				if strings.Contains(v, "\n") {
					t.Errorf("multi-line message %q", v)
				}
			}
		})
	}
}
