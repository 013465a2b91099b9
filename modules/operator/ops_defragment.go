package operator

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/httpx"
)

// opsDefragmentRequest is etcdmonitor's POST /api/ops/defragment body.
type opsDefragmentRequest struct {
	MemberID string `json:"member_id"`
}

// opsDefragmentResponse is etcdmonitor's answer, with the state store's
// disk usage before and after.
type opsDefragmentResponse struct {
	Message    string `json:"message"`
	MemberID   string `json:"member_id"`
	MemberName string `json:"member_name"`
	DurationMs int64  `json:"duration_ms"`
	SizeBefore int64  `json:"size_before"`
	SizeAfter  int64  `json:"size_after"`
}

// opsDefragment rewrites one member's state store without the space that
// compacted versions hold. It runs on that member.
func (m *Module) opsDefragment(w http.ResponseWriter, r *http.Request) error {
	var req opsDefragmentRequest
	if err := opsDecode(w, r, &req, false); err != nil {
		return err
	}
	id, err := opsParseMemberID("member_id", req.MemberID)
	if err != nil {
		return err
	}
	mem, err := m.opsMember(id)
	if err != nil {
		return err
	}
	m.opsExtendWriteDeadline(w, opsDefragmentTimeout+time.Minute)
	if forwarded, err := m.opsForward(w, r, id); forwarded || err != nil {
		return err
	}
	name := opsMemberName(mem)
	audit.SetTarget(r.Context(), name)
	m.log.Info("defragment started", "member", name, "member_id", id)
	ctx, cancel := context.WithTimeout(r.Context(), opsDefragmentTimeout)
	defer cancel()
	start := time.Now()
	before, after, err := m.maint.Defragment(ctx)
	if err != nil {
		m.log.Warn("defragment failed", "member", name, "duration_ms", opsSince(start), "err", err)
		return fmt.Errorf("defragment %s: %w", name, err)
	}
	m.log.Info("defragment completed", "member", name, "duration_ms", opsSince(start), "size_before", before, "size_after", after)
	httpx.JSON(w, http.StatusOK, opsDefragmentResponse{
		Message: "defragment completed", MemberID: strconv.FormatUint(id, 10), MemberName: name,
		DurationMs: opsSince(start), SizeBefore: before, SizeAfter: after,
	})
	return nil
}
