package kv

import (
	"net/http"
	"strconv"

	"github.com/trellis-cp/trellis/core/audit"
)

// KV writes are data, not administration: the audit entry names the key
// and what kind of write it was, never the value (etcdmonitor records only
// the TTL and tab of a KV write, too).
func auditPut(r *http.Request, req *PutRequest) {
	audit.SetTarget(r.Context(), req.Key)
	audit.SetParamsJSON(r.Context(), putParams(req))
}

// putParams is the object json.Marshal makes of a put's audited fields
// (keys sorted), built without a map on every put.
func putParams(req *PutRequest) []byte {
	b := make([]byte, 0, 80)
	b = append(b, '{')
	if req.PrevValue != nil || req.PrevVersion != nil {
		b = append(b, `"compare_and_swap":true,`...)
	}
	if req.Dir {
		b = append(b, `"dir":true,`...)
	}
	b = append(b, `"ttl":`...)
	b = strconv.AppendInt(b, req.TTL, 10)
	b = append(b, `,"value_bytes":`...)
	b = strconv.AppendInt(b, int64(len(req.Value)), 10)
	return append(b, '}')
}

func auditDelete(r *http.Request, req *DeleteRequest) {
	audit.SetTarget(r.Context(), req.Key)
	audit.SetParams(r.Context(), map[string]any{"dir": req.Dir})
}
