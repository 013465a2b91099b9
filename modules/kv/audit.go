package kv

import (
	"net/http"

	"github.com/trellis-cp/trellis/core/audit"
)

// KV writes are data, not administration: the audit entry names the key
// and what kind of write it was, never the value (etcdmonitor records only
// the TTL and tab of a KV write, too).
func auditPut(r *http.Request, req *PutRequest) {
	audit.SetTarget(r.Context(), req.Key)
	params := map[string]any{"ttl": req.TTL, "value_bytes": len(req.Value)}
	if req.Dir {
		params["dir"] = true
	}
	if req.PrevValue != nil || req.PrevVersion != nil {
		params["compare_and_swap"] = true
	}
	audit.SetParams(r.Context(), params)
}

func auditDelete(r *http.Request, req *DeleteRequest) {
	audit.SetTarget(r.Context(), req.Key)
	audit.SetParams(r.Context(), map[string]any{"dir": req.Dir})
}
