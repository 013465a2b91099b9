package operator

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// opsHashKVRequest is the optional body of POST /api/ops/hashkv.
type opsHashKVRequest struct {
	// Revision to hash at; absent, the cluster's current revision.
	Revision *int64 `json:"revision"`
}

// opsHashResult is one member's line in etcdmonitor's hashkv answer.
type opsHashResult struct {
	MemberID   string `json:"member_id"`
	MemberName string `json:"member_name"`
	Hash       uint32 `json:"hash"`
	Revision   int64  `json:"revision"`
	Error      string `json:"error,omitempty"`

	id uint64
}

// opsHashKVResponse is etcdmonitor's hashkv answer.
type opsHashKVResponse struct {
	Consistent bool            `json:"consistent"`
	Revision   int64           `json:"revision"`
	Results    []opsHashResult `json:"results"`
	DurationMs int64           `json:"duration_ms"`
}

// opsHashKV hashes every member's data at one revision and compares. A
// member whose hash differs from the majority's gets a CORRUPT alarm
// (every member that answered does when no hash has a majority), as
// etcd's corruption check raises it.
func (m *Module) opsHashKV(w http.ResponseWriter, r *http.Request) error {
	var req opsHashKVRequest
	if err := opsDecode(w, r, &req, true); err != nil {
		return err
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(r.Context(), opsHashKVTimeout)
	defer cancel()
	rev, err := m.opsHashRevision(ctx, req.Revision)
	if err != nil {
		return err
	}
	audit.SetTarget(r.Context(), "cluster")
	audit.SetParams(r.Context(), map[string]any{"revision": rev})
	members := m.cluster.Members()
	results := make([]opsHashResult, len(members))
	var wg sync.WaitGroup
	for i, mem := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// A panic here would pass the server's recovery by and stop
			// the node; it fails this member's line instead.
			defer func() {
				if p := recover(); p != nil {
					m.log.Error("hashkv: panic hashing", "member_id", mem.ID, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
					results[i] = opsHashResult{MemberID: strconv.FormatUint(mem.ID, 10), MemberName: opsMemberName(mem), Revision: rev,
						Error: fmt.Sprintf("internal error: %v", p), id: mem.ID}
				}
			}()
			results[i] = m.opsHashOf(ctx, r, mem, rev)
		}()
	}
	wg.Wait()
	slices.SortFunc(results, func(a, b opsHashResult) int { return cmp.Compare(a.id, b.id) })
	consistent, corrupt := opsJudgeHashes(results, len(members))
	if consistent {
		m.log.Info("hashkv consistent", "revision", rev, "members", len(members), "duration_ms", opsSince(start))
	} else {
		m.opsRaiseCorrupt(r.Context(), rev, results, corrupt)
	}
	httpx.JSON(w, http.StatusOK, opsHashKVResponse{Consistent: consistent, Revision: rev, Results: results, DurationMs: opsSince(start)})
	return nil
}

// opsHashRevision is the revision to hash at: the one asked for, which
// must be readable, or the cluster's current one (this member's, after a
// linearizable barrier).
func (m *Module) opsHashRevision(ctx context.Context, asked *int64) (int64, error) {
	if err := m.opsBarrier(ctx); err != nil {
		return 0, fmt.Errorf("hashkv: %w", err)
	}
	current := m.maint.Revision()
	if asked == nil {
		return current, nil
	}
	rev := *asked
	switch compacted := m.maint.CompactedRevision(); {
	case rev <= 0:
		return 0, apierr.BadRequest("revision must be a positive integer, got %d", rev)
	case rev > current:
		return 0, apierr.Errorf(http.StatusBadRequest, apierr.CodeFutureRevision, "revision %d is in the future (current revision %d)", rev, current).
			With("current_revision", current)
	case rev < compacted:
		return 0, apierr.Errorf(http.StatusGone, apierr.CodeCompacted, "revision %d has been compacted (oldest readable revision %d)", rev, compacted).
			With("compact_revision", compacted)
	}
	return rev, nil
}

// opsJudgeHashes says whether the members that answered agree, and if
// not, which of them to call corrupt: those outside a hash that more than
// half of the cluster's members share, or all of them without one.
func opsJudgeHashes(results []opsHashResult, clusterSize int) (consistent bool, corrupt []uint64) {
	counts := map[uint32]int{}
	for _, res := range results {
		if res.Error == "" {
			counts[res.Hash]++
		}
	}
	if len(counts) == 1 {
		return true, nil
	}
	if len(counts) == 0 {
		return false, nil
	}
	var major uint32
	best := 0
	for h, n := range counts {
		if n > best {
			major, best = h, n
		}
	}
	hasMajority := best > clusterSize/2
	for _, res := range results {
		if res.Error == "" && (!hasMajority || res.Hash != major) {
			corrupt = append(corrupt, res.id)
		}
	}
	return false, corrupt
}

// opsRaiseCorrupt raises a CORRUPT alarm for each member in corrupt.
func (m *Module) opsRaiseCorrupt(ctx context.Context, rev int64, results []opsHashResult, corrupt []uint64) {
	hashes := map[string]uint32{}
	for _, res := range results {
		if res.Error == "" {
			hashes[res.MemberName] = res.Hash
		}
	}
	m.log.Error("hashkv: members' data differ at the same revision; raising CORRUPT alarms",
		"revision", rev, "hashes", hashes, "corrupt_members", corrupt)
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opsAlarmTimeout)
	defer cancel()
	for _, id := range corrupt {
		if err := m.maint.RaiseAlarm(ctx, store.Alarm{MemberID: id, Type: store.AlarmCorrupt}); err != nil {
			m.log.Error("hashkv: cannot raise CORRUPT alarm", "member_id", id, "err", err)
		}
	}
}
