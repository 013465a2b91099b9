package kvtest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/audit"
)

// KV writes are audited by key and kind, never with their value.
func TestAuditRecordsKeysNotValues(t *testing.T) {
	c := startCluster(t, 1)
	const secret = "s3cr3t-value-that-must-not-leak"
	c.mustPut(1, "v3", map[string]any{"key": "/app/db-password", "value": secret, "ttl": 60})
	c.del(1, "v3", map[string]any{"key": "/app/db-password"})
	var page audit.Page
	eventually(t, 10*time.Second, "the put and the delete in the audit log", func() bool {
		var err error
		page, err = c.node(1).n.Audit().List(t.Context(), audit.Query{Operation: "/api/kv/v3/"})
		return err == nil && page.Total >= 2
	})
	var sawPut bool
	for _, e := range page.Entries {
		if strings.Contains(e.Params, secret) || strings.Contains(e.Target, secret) {
			t.Fatalf("audit entry holds the value: %+v", e)
		}
		if strings.HasSuffix(e.Operation, "/put") {
			sawPut = e.Target == "/app/db-password" && e.Params == fmt.Sprintf(`{"ttl":60,"value_bytes":%d}`, len(secret))
		}
	}
	if !sawPut {
		t.Fatalf("put entry lacks its key or ttl: %+v", page.Entries)
	}
}
