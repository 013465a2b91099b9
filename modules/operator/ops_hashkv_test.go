package operator

import (
	"slices"
	"testing"
)

// TestOpsJudgeHashes checks hashkv's verdict: who is called corrupt when
// members disagree, with and without a majority, and that members that
// failed to answer take no part.
func TestOpsJudgeHashes(t *testing.T) {
	res := func(id uint64, hash uint32, err string) opsHashResult {
		return opsHashResult{id: id, Hash: hash, Error: err}
	}
	for _, tc := range []struct {
		name       string
		results    []opsHashResult
		consistent bool
		corrupt    []uint64
	}{
		{"all agree", []opsHashResult{res(1, 7, ""), res(2, 7, ""), res(3, 7, "")}, true, nil},
		{"one member failed, the rest agree", []opsHashResult{res(1, 7, ""), res(2, 0, "timeout"), res(3, 7, "")}, true, nil},
		{"nobody answered", []opsHashResult{res(1, 0, "x"), res(2, 0, "y")}, false, nil},
		{"minority of one", []opsHashResult{res(1, 7, ""), res(2, 7, ""), res(3, 9, "")}, false, []uint64{3}},
		{"two of five differ", []opsHashResult{res(1, 7, ""), res(2, 8, ""), res(3, 7, ""), res(4, 9, ""), res(5, 7, "")}, false, []uint64{2, 4}},
		{"no majority of the cluster", []opsHashResult{res(1, 7, ""), res(2, 9, ""), res(3, 0, "down")}, false, []uint64{1, 2}},
		{"two-two-one", []opsHashResult{res(1, 7, ""), res(2, 7, ""), res(3, 8, ""), res(4, 8, ""), res(5, 9, "")}, false, []uint64{1, 2, 3, 4, 5}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			consistent, corrupt := opsJudgeHashes(tc.results, len(tc.results))
			slices.Sort(corrupt)
			if consistent != tc.consistent || !slices.Equal(corrupt, tc.corrupt) {
				t.Fatalf("got consistent=%v corrupt=%v, want %v %v", consistent, corrupt, tc.consistent, tc.corrupt)
			}
		})
	}
}
