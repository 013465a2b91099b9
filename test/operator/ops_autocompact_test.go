package operatortest

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// TestOpsAutoCompaction: with storage.auto_compaction_* set, the leader
// compacts by itself and every member follows: reads below the compacted
// revision answer 410 compacted, reads within the retention still work.
func TestOpsAutoCompaction(t *testing.T) {
	const retention = time.Second
	c := startOpsCluster(t, 3, func(cfg *config.Config) {
		cfg.Storage.AutoCompactionMode = "periodic"
		cfg.Storage.AutoCompactionRetention = retention
	})
	get := func(i int, rev int64) opsResponse {
		return c.do(i, http.MethodGet, fmt.Sprintf("/api/kv/v3/get?key=/auto/k&revision=%d", rev), c.admin, nil)
	}
	first := c.mustPut(1, "/auto/k", "0")
	testnode.Eventually(t, 30*time.Second, "every member compacted past the first write", func() bool {
		c.mustPut(1, "/auto/k", "more")
		for i := 1; i <= 3; i++ {
			if _, compacted := c.revisions(i); compacted <= first {
				return false
			}
		}
		return true
	})
	for i := 1; i <= 3; i++ {
		if m := opsWantError(t, get(i, first), http.StatusGone, "compacted"); m["code"] != "compacted" {
			t.Fatalf("node %d: get at the compacted first write: %v", i, m)
		}
		// A compaction may pass a write only once it is a retention old.
		start := time.Now()
		rev := c.mustPut(1, "/auto/k", "new")
		if r := get(i, rev); r.status != http.StatusOK && time.Since(start) < retention {
			t.Fatalf("node %d: get at a write %s old, within the retention: %s", i, time.Since(start), r)
		}
	}
}
