package operator

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/store"
)

// opsCompactRequest is etcdmonitor's POST /api/ops/compact body.
// RetainCount is a pointer so a missing one is told from a zero.
type opsCompactRequest struct {
	RetainCount *int64 `json:"retain_count"`
	Physical    bool   `json:"physical"`
}

// opsCompactResponse is etcdmonitor's answer.
type opsCompactResponse struct {
	Message         string `json:"message"`
	CurrentRevision int64  `json:"current_revision"`
	TargetRevision  int64  `json:"target_revision"`
	RetainCount     int64  `json:"retain_count"`
	Physical        bool   `json:"physical"`
	DurationMs      int64  `json:"duration_ms"`
}

// opsCompact discards the history older than the newest retain_count
// revisions on every member; physical waits until this member's files
// have dropped it too.
func (m *Module) opsCompact(w http.ResponseWriter, r *http.Request) error {
	var req opsCompactRequest
	if err := opsDecode(w, r, &req, false); err != nil {
		return err
	}
	if req.RetainCount == nil || *req.RetainCount <= 0 {
		return apierr.BadRequest("retain_count must be a positive integer")
	}
	retain := *req.RetainCount
	ctx, cancel := context.WithTimeout(r.Context(), opsCompactTimeout)
	defer cancel()
	m.opsExtendWriteDeadline(w, opsCompactTimeout+time.Minute)
	if err := m.opsBarrier(ctx); err != nil {
		return fmt.Errorf("compact: %w", err)
	}
	current := m.maint.Revision()
	target := current - retain
	audit.SetTarget(r.Context(), "cluster")
	audit.SetParams(r.Context(), map[string]any{"retain_count": retain, "physical": req.Physical, "target_revision": target})
	if target <= 0 {
		return apierr.BadRequest("retain_count is too large, computed target revision is non-positive").
			With("current_revision", current, "retain_count", retain)
	}
	if compacted := m.maint.CompactedRevision(); target <= compacted {
		return apierr.Errorf(http.StatusConflict, apierr.CodeCompacted,
			"revision %d is already compacted (oldest readable revision %d)", target, compacted).
			With("current_revision", current, "compact_revision", compacted, "retain_count", retain)
	}
	m.log.Info("compact started", "current_revision", current, "target_revision", target, "physical", req.Physical)
	start := time.Now()
	compact := m.maint.Compact
	if req.Physical {
		compact = m.maint.CompactPhysical
	}
	if err := compact(ctx, target); err != nil {
		m.log.Warn("compact failed", "target_revision", target, "duration_ms", opsSince(start), "err", err)
		if errors.Is(err, store.ErrCompacted) {
			return apierr.Errorf(http.StatusConflict, apierr.CodeCompacted, "%s", err).
				With("current_revision", current, "compact_revision", m.maint.CompactedRevision(), "retain_count", retain)
		}
		return fmt.Errorf("compact to %d: %w", target, err)
	}
	m.log.Info("compact completed", "current_revision", current, "target_revision", target, "physical", req.Physical, "duration_ms", opsSince(start))
	httpx.JSON(w, http.StatusOK, opsCompactResponse{
		Message: "compact completed", CurrentRevision: current, TargetRevision: target,
		RetainCount: retain, Physical: req.Physical, DurationMs: opsSince(start),
	})
	return nil
}

// opsCompactRevision answers this member's current revision and the
// oldest one still readable, for the compact panel.
func (m *Module) opsCompactRevision(w http.ResponseWriter, _ *http.Request) error {
	httpx.JSON(w, http.StatusOK, map[string]int64{
		"revision":         m.maint.Revision(),
		"compact_revision": m.maint.CompactedRevision(),
	})
	return nil
}
