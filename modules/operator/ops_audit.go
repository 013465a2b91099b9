package operator

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/trellis-cp/trellis/core/apierr"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/httpx"
)

// opsAuditFilters maps the operation names etcdmonitor's audit page
// filters by to the routes Trellis records (operation "METHOD /route").
// The others it offers ("login", "put", "defragment", "hashkv", ...)
// already occur in the operations they mean.
var opsAuditFilters = map[string]string{
	"alarm_disarm": "/api/ops/alarms/disarm",
	"move_leader":  "/api/ops/move-leader",
}

// opsAuditLogs serves the replicated audit log, newest first, a page at a
// time, in etcdmonitor's shape.
func (m *Module) opsAuditLogs(w http.ResponseWriter, r *http.Request) error {
	if m.audit == nil {
		return apierr.Errorf(http.StatusServiceUnavailable, apierr.CodeUnavailable, "the audit log is not available on this node")
	}
	q := r.URL.Query()
	page, err := opsQueryInt(q.Get("page"), "page", 1)
	if err != nil {
		return err
	}
	size, err := opsQueryInt(q.Get("page_size"), "page_size", audit.DefaultPageSize)
	if err != nil {
		return err
	}
	op := q.Get("operation")
	if route, ok := opsAuditFilters[op]; ok {
		op = route
	}
	res, err := m.audit.List(r.Context(), audit.Query{Page: page, PageSize: size, Operation: op})
	if err != nil {
		return fmt.Errorf("audit logs: %w", err)
	}
	httpx.JSON(w, http.StatusOK, res)
	return nil
}

// opsQueryInt reads a positive integer query parameter, def when absent.
func opsQueryInt(s, name string, def int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return 0, apierr.BadRequest("%s must be a positive integer, got %q", name, s)
	}
	return n, nil
}
