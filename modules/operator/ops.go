package operator

import (
	"context"
	"net/http"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/auth"
)

// etcdmonitor's ops API (internal/ops/handler.go in domac/etcdmonitor),
// served from this member's store instead of an etcd client. Operations on
// one member (defragment, snapshot, a member's hash) run on that member:
// a request for another member is forwarded to it with the caller's
// credentials and audited there.

// Time limits, as etcdmonitor sets them for the same operations.
const (
	opsDefragmentTimeout = 5 * time.Minute
	opsSnapshotTimeout   = 30 * time.Minute
	opsCompactTimeout    = 5 * time.Minute
	opsHashKVTimeout     = 30 * time.Second
	opsMoveLeaderTimeout = 30 * time.Second
	opsAlarmTimeout      = 10 * time.Second
)

// opsRoutes mounts etcdmonitor's ops API. GETs need read, the snapshot
// (the whole data set) and every POST need operator.
func (m *Module) opsRoutes(r chi.Router) {
	if m.auth != nil {
		m.auth.SetOpsEnabled(true)
	}
	for _, rt := range []struct {
		method, pattern string
		perm            auth.Permission
		h               opsHandler
	}{
		{http.MethodPost, "/api/ops/defragment", auth.PermOperator, m.opsDefragment},
		{http.MethodGet, "/api/ops/snapshot", auth.PermOperator, m.opsSnapshot},
		{http.MethodGet, "/api/ops/alarms", auth.PermRead, m.opsAlarms},
		{http.MethodPost, "/api/ops/alarms/disarm", auth.PermOperator, m.opsDisarmAlarm},
		{http.MethodPost, "/api/ops/move-leader", auth.PermOperator, m.opsMoveLeader},
		{http.MethodPost, "/api/ops/hashkv", auth.PermOperator, m.opsHashKV},
		{http.MethodGet, opsHashKVMemberPath, auth.PermOperator, m.opsMemberHashKV},
		{http.MethodPost, "/api/ops/compact", auth.PermOperator, m.opsCompact},
		{http.MethodGet, "/api/ops/compact/revision", auth.PermRead, m.opsCompactRevision},
		{http.MethodGet, "/api/ops/audit-logs", auth.PermRead, m.opsAuditLogs},
	} {
		m.route(r, rt.method, rt.pattern, rt.perm, m.opsHandle(rt.h))
	}
}

// opsHandler is an ops handler that returns its error instead of writing
// it; opsHandle writes it in etcdmonitor's format.
type opsHandler func(w http.ResponseWriter, r *http.Request) error

func (m *Module) opsHandle(h opsHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := h(w, r); err != nil {
			m.opsFail(w, r, err)
		}
	}
}

// opsBarrier waits until this member has applied every write committed
// before the call (a ReadIndex round), so Revision is the cluster's
// revision. The raft node behind module.Cluster offers it; without it the
// local revision is used.
func (m *Module) opsBarrier(ctx context.Context) error {
	if ri, ok := m.cluster.(interface{ ReadIndex(context.Context) error }); ok {
		return ri.ReadIndex(ctx)
	}
	return nil
}

// opsExtendWriteDeadline lets a long operation answer after the server's
// write timeout.
func (m *Module) opsExtendWriteDeadline(w http.ResponseWriter, d time.Duration) {
	if err := http.NewResponseController(w).SetWriteDeadline(time.Now().Add(d)); err != nil {
		m.log.Debug("cannot extend the write deadline", "err", err)
	}
}

// opsSince is a duration in whole milliseconds, as etcdmonitor reports them.
func opsSince(start time.Time) int64 { return time.Since(start).Milliseconds() }
