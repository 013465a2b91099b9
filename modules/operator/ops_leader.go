package operator

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/httpx"
)

// opsMoveLeaderRequest is etcdmonitor's POST /api/ops/move-leader body.
type opsMoveLeaderRequest struct {
	TargetMemberID string `json:"target_member_id"`
}

// opsMoveLeaderResponse is etcdmonitor's answer.
type opsMoveLeaderResponse struct {
	Message    string `json:"message"`
	TargetID   string `json:"target_id"`
	TargetName string `json:"target_name"`
	DurationMs int64  `json:"duration_ms"`
}

// opsMoveLeader hands leadership to a voting member and returns once it
// leads. Any member can ask: raft takes the request to the leader.
func (m *Module) opsMoveLeader(w http.ResponseWriter, r *http.Request) error {
	var req opsMoveLeaderRequest
	if err := opsDecode(w, r, &req, false); err != nil {
		return err
	}
	id, err := opsParseMemberID("target_member_id", req.TargetMemberID)
	if err != nil {
		return err
	}
	mem, err := m.opsMember(id)
	if err != nil {
		return err
	}
	name := opsMemberName(mem)
	if mem.Learner {
		return apierr.BadRequest("member %s (%d) is a learner and cannot lead", name, id)
	}
	audit.SetTarget(r.Context(), name)
	m.log.Info("move leader started", "target", name, "target_id", id, "leader", m.cluster.Leader())
	ctx, cancel := context.WithTimeout(r.Context(), opsMoveLeaderTimeout)
	defer cancel()
	start := time.Now()
	if err := m.cluster.TransferLeadership(ctx, id); err != nil {
		m.log.Warn("move leader failed", "target", name, "duration_ms", opsSince(start), "err", err)
		return fmt.Errorf("move leader to %s: %w", name, err)
	}
	m.log.Info("move leader completed", "target", name, "duration_ms", opsSince(start))
	httpx.JSON(w, http.StatusOK, opsMoveLeaderResponse{
		Message: "leader moved", TargetID: strconv.FormatUint(id, 10), TargetName: name, DurationMs: opsSince(start),
	})
	return nil
}
