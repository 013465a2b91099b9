package operatortest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// opsQuotaInterval is how often the NOSPACE tests' members measure their
// state stores.
const opsQuotaInterval = 100 * time.Millisecond

// TestOpsNoSpace fills a cluster past a tiny storage quota: every member
// raises its NOSPACE alarm, KV puts answer 507 no_space (deletes still
// work), and compacting, defragmenting each member and disarming the
// alarms make puts work again without the alarms coming back. Values under
// the state store's value threshold (64 KiB) live in the tree, larger ones in the
// value log: both must be reclaimed.
func TestOpsNoSpace(t *testing.T) {
	t.Run("SmallValues", func(t *testing.T) { testOpsNoSpace(t, 900, 1<<20) })
	t.Run("LargeValues", func(t *testing.T) {
		// Value log GC never rewrites the file being written (16 MiB), so
		// the quota must leave room for one file of garbage.
		testOpsNoSpace(t, 256<<10, 40<<20)
	})
}

// testOpsNoSpace runs the NOSPACE cycle with values of valueSize bytes
// against a quota of quota bytes.
func testOpsNoSpace(t *testing.T, valueSize int, quota int64) {
	c := startOpsCluster(t, 3, func(cfg *config.Config) {
		cfg.Storage.QuotaBytes = quota
		cfg.Storage.QuotaCheckInterval = opsQuotaInterval
	})
	for i := 1; i <= 3; i++ {
		if size := c.store(i).StateSize(); size >= quota/2 {
			t.Fatalf("member %d's empty store takes %d bytes; the test's quota %d leaves too little room", i, size, quota)
		}
	}
	value := strings.Repeat("x", valueSize)
	filled := 0
	for deadline := time.Now().Add(2 * time.Minute); ; filled++ {
		r := c.put(filled%3+1, fmt.Sprintf("/fill/k%05d", filled), value)
		if r.status == http.StatusInsufficientStorage {
			break
		}
		if r.status != http.StatusOK {
			t.Fatalf("put %d: %s", filled, r)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d puts of %d bytes and no NOSPACE alarm (quota %d bytes)", filled, valueSize, quota)
		}
	}
	t.Logf("%d puts of %d bytes filled the quota of %d bytes", filled, len(value), quota)

	// Every member passed the quota and raised its own alarm; every node
	// lists them.
	want := []opsAlarm{
		{MemberID: "1", MemberName: "node-1", AlarmType: "NOSPACE"},
		{MemberID: "2", MemberName: "node-2", AlarmType: "NOSPACE"},
		{MemberID: "3", MemberName: "node-3", AlarmType: "NOSPACE"},
	}
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 20*time.Second, fmt.Sprintf("node %d lists a NOSPACE alarm for every member", i), func() bool {
			return slices.Equal(c.alarms(i), want)
		})
	}
	for i := 1; i <= 3; i++ {
		r := c.put(i, "/fill/more", "small")
		if m := opsWantError(t, r, http.StatusInsufficientStorage, "database space exceeded"); m["code"] != "no_space" {
			t.Fatalf("put on node %d under NOSPACE: %s", i, r)
		}
	}

	// Free the space: delete, compact, defragment every member, disarm.
	r := c.do(1, http.MethodPost, "/api/kv/v3/delete", c.admin, map[string]any{"key": "/fill", "dir": true})
	if r.status != http.StatusOK {
		t.Fatalf("delete /fill/ under NOSPACE: %s", r)
	}
	// The compaction must reach the delete: below it, reads at the target
	// still see the values, which then stay. The delete's own audit entry
	// is written after it, so keeping the newest revision is enough once
	// that entry has landed.
	deleted := c.store(1).Revision()
	testnode.Eventually(t, 10*time.Second, "a write after the delete", func() bool {
		return c.store(2).Revision() > deleted
	})
	c.ok(2, http.MethodPost, "/api/ops/compact", map[string]any{"retain_count": 1, "physical": true})
	for id := 1; id <= 3; id++ {
		ans := c.ok(1, http.MethodPost, "/api/ops/defragment", map[string]string{"member_id": fmt.Sprint(id)})
		before, _ := ans["size_before"].(float64)
		after, _ := ans["size_after"].(float64)
		t.Logf("defragment member %d: %v -> %v bytes", id, before, after)
		// Member 2 ran the physical compaction: it may have little left
		// to drop (and the audit log writes on meanwhile).
		if after >= float64(quota) || (before >= float64(quota) && after >= before) {
			t.Fatalf("defragment member %d: %v", id, ans)
		}
	}
	// Still refused until the alarms are disarmed.
	opsWantError(t, c.put(3, "/fill/more", "small"), http.StatusInsufficientStorage)
	for _, a := range want {
		c.ok(3, http.MethodPost, "/api/ops/alarms/disarm", map[string]string{"member_id": a.MemberID, "alarm_type": a.AlarmType})
	}
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 10*time.Second, fmt.Sprintf("node %d accepts puts again", i), func() bool {
			return c.put(i, "/fill/more", "small").status == http.StatusOK
		})
	}
	// The quota check runs on and finds room: the alarms stay away.
	time.Sleep(5 * opsQuotaInterval)
	if a := c.alarms(2); len(a) != 0 {
		t.Fatalf("alarms came back after recovery: %v", a)
	}
	// Each step is in the audit log.
	for _, op := range []string{"defragment", "compact", "alarm_disarm"} {
		if len(c.waitAuditN(1, op, 1)) == 0 {
			t.Fatalf("no audit entry for %s", op)
		}
	}
}

// waitAuditN waits until the audit log holds at least n successful
// entries for op and returns them.
func (c *opsCluster) waitAuditN(i int, op string, n int) []string {
	c.t.Helper()
	var ops []string
	testnode.Eventually(c.t, 15*time.Second, fmt.Sprintf("%d audit entries for %s", n, op), func() bool {
		ops = ops[:0]
		for _, e := range c.auditEntries(i, op) {
			if e.Success {
				ops = append(ops, e.Operation)
			}
		}
		return len(ops) >= n
	})
	return ops
}
