package operatortest

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/audit"
)

// TestOpsCluster runs etcdmonitor's ops API on one 3-node cluster.
// Subtests share the cluster and run in order; the audit log subtest
// checks what the ones before it did.
func TestOpsCluster(t *testing.T) {
	c := startOpsCluster(t, 3)
	t.Run("Shapes", func(t *testing.T) { testOpsShapes(t, c.sub(t)) })
	t.Run("HashKVConsistent", func(t *testing.T) { testOpsHashKVConsistent(t, c.sub(t)) })
	t.Run("DefragmentForwarded", func(t *testing.T) { testOpsDefragment(t, c.sub(t)) })
	t.Run("SnapshotFromFollowerRestores", func(t *testing.T) { testOpsSnapshotRestore(t, c.sub(t)) })
	t.Run("CompactMakesOldReadsFail", func(t *testing.T) { testOpsCompact(t, c.sub(t)) })
	t.Run("MoveLeader", func(t *testing.T) { testOpsMoveLeader(t, c.sub(t)) })
	t.Run("BadInputChangesNothing", func(t *testing.T) { testOpsBadInput(t, c.sub(t)) })
	t.Run("Permissions", func(t *testing.T) { testOpsPermissions(t, c.sub(t)) })
	t.Run("AuditLogs", func(t *testing.T) { testOpsAuditLogs(t, c.sub(t)) })
}

func opsKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func opsWantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := opsKeys(m); !slices.Equal(got, want) {
		t.Fatalf("%s: fields %v, want %v (%v)", what, got, want, m)
	}
}

// testOpsShapes checks the read-only answers have etcdmonitor's fields
// and types, on every node.
func testOpsShapes(t *testing.T, c *opsCluster) {
	for i := 1; i <= 3; i++ {
		rev := c.ok(i, http.MethodGet, "/api/ops/compact/revision", nil)
		opsWantKeys(t, "compact/revision", rev, "revision", "compact_revision")
		if r, _ := rev["revision"].(float64); r < 1 {
			t.Fatalf("node %d: revision %v", i, rev["revision"])
		}
		alarms := c.ok(i, http.MethodGet, "/api/ops/alarms", nil)
		opsWantKeys(t, "alarms", alarms, "alarms")
		if list, ok := alarms["alarms"].([]any); !ok || len(list) != 0 {
			t.Fatalf("node %d: alarms %v, want []", i, alarms["alarms"])
		}
		logs := c.ok(i, http.MethodGet, "/api/ops/audit-logs", nil)
		opsWantKeys(t, "audit-logs", logs, "entries", "total", "page", "page_size")
		if logs["page"] != 1.0 || logs["page_size"] != float64(audit.DefaultPageSize) {
			t.Fatalf("node %d: default paging %v/%v", i, logs["page"], logs["page_size"])
		}
	}
	// The login above was audited: entries carry etcdmonitor's fields.
	e := c.waitAudit(1, "login", func(e audit.Entry) bool { return e.Username == "admin" && e.Success })
	if e.ID == 0 || e.Timestamp == 0 || !strings.Contains(e.Operation, "/api/auth/login") {
		t.Fatalf("login entry %+v", e)
	}
}

// testOpsHashKVConsistent writes through different members and checks
// every member hashes the same at the same revision, now and at an older
// revision.
func testOpsHashKVConsistent(t *testing.T, c *opsCluster) {
	var firstRev int64
	for i := 0; i < 30; i++ {
		rev := c.mustPut(i%3+1, fmt.Sprintf("/hash/k%02d", i), fmt.Sprintf("value %d", i))
		if i == 0 {
			firstRev = rev
		}
	}
	for i := 1; i <= 3; i++ {
		h := c.hashKV(i, nil)
		if !h.Consistent || len(h.Results) != 3 || h.Revision < firstRev+29 {
			t.Fatalf("hashkv on node %d: %+v", i, h)
		}
		for j, res := range h.Results {
			if res.Error != "" || res.Hash != h.Results[0].Hash || res.Revision != h.Revision ||
				res.MemberID != strconv.Itoa(j+1) || res.MemberName != fmt.Sprintf("node-%d", j+1) {
				t.Fatalf("hashkv on node %d: result %d: %+v", i, j, res)
			}
		}
	}
	// An older revision hashes differently from a newer one, the same on
	// every member; without a body the answer has etcdmonitor's fields.
	old := c.hashKV(2, map[string]int64{"revision": firstRev})
	now := c.hashKV(2, map[string]int64{"revision": firstRev + 29})
	if !old.Consistent || old.Revision != firstRev || !now.Consistent || old.Results[0].Hash == now.Results[0].Hash {
		t.Fatalf("hashkv at %d: %+v; at %d: %+v", firstRev, old, firstRev+29, now)
	}
	r := c.do(3, http.MethodPost, "/api/ops/hashkv", c.admin, "")
	opsWantKeys(t, "hashkv", r.json(t), "consistent", "revision", "results", "duration_ms")
	// A member asked directly for another member's hash refuses.
	opsWantError(t, c.do(1, http.MethodGet, "/api/ops/hashkv/member?member_id=2&revision=1", c.admin, nil), http.StatusMisdirectedRequest)
}

// testOpsDefragment defragments each member through node 1 (forwarded to
// members 2 and 3) and checks the answer and that each is audited once,
// by the member that ran it.
func testOpsDefragment(t *testing.T, c *opsCluster) {
	for id := 1; id <= 3; id++ {
		ans := c.ok(1, http.MethodPost, "/api/ops/defragment", map[string]string{"member_id": strconv.Itoa(id)})
		opsWantKeys(t, "defragment", ans, "message", "member_id", "member_name", "duration_ms", "size_before", "size_after")
		if ans["message"] != "defragment completed" || ans["member_id"] != strconv.Itoa(id) || ans["member_name"] != fmt.Sprintf("node-%d", id) {
			t.Fatalf("defragment member %d: %v", id, ans)
		}
		if before, _ := ans["size_before"].(float64); before <= 0 {
			t.Fatalf("defragment member %d: size_before %v", id, ans["size_before"])
		}
		name := fmt.Sprintf("node-%d", id)
		c.waitAudit(2, "defragment", func(e audit.Entry) bool {
			return e.Target == name && e.Success && e.NodeID == uint64(id) && e.Username == "admin"
		})
	}
	time.Sleep(300 * time.Millisecond) // let every node flush its audit buffer
	for id := 1; id <= 3; id++ {
		n := 0
		for _, e := range c.auditEntries(1, "defragment") {
			if e.Target == fmt.Sprintf("node-%d", id) {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("defragment of member %d has %d audit entries, want 1 (the forwarding member records none)", id, n)
		}
	}
	// A request a member forwarded is never forwarded again.
	r := c.do(2, http.MethodPost, "/api/ops/defragment", c.admin, map[string]string{"member_id": "3"}, "X-Trellis-Forwarded-By", "1")
	opsWantError(t, r, http.StatusMisdirectedRequest, "forwarded")
}

// testOpsCompact compacts away old revisions and checks reads below them
// fail clearly, physical compaction, and compacting what is compacted.
func testOpsCompact(t *testing.T, c *opsCluster) {
	r1 := c.mustPut(1, "/compact/k", "v1")
	c.mustPut(2, "/compact/k", "v2")
	c.mustPut(3, "/compact/other", "x") // retaining 1 revision keeps v2, not v1
	get := func(i int, rev int64) opsResponse {
		return c.do(i, http.MethodGet, fmt.Sprintf("/api/kv/v3/get?key=%s&revision=%d", "/compact/k", rev), c.admin, nil)
	}
	if r := get(3, r1); r.status != http.StatusOK || !strings.Contains(r.body, `"v1"`) {
		t.Fatalf("get at %d before compaction: %s", r1, r)
	}
	ans := c.ok(2, http.MethodPost, "/api/ops/compact", map[string]any{"retain_count": 1})
	opsWantKeys(t, "compact", ans, "message", "current_revision", "target_revision", "retain_count", "physical", "duration_ms")
	cur, _ := ans["current_revision"].(float64)
	target, _ := ans["target_revision"].(float64)
	if ans["message"] != "compact completed" || target != cur-1 || int64(target) <= r1 || ans["retain_count"] != 1.0 || ans["physical"] != false {
		t.Fatalf("compact: %v", ans)
	}
	c.waitApplied()
	for i := 1; i <= 3; i++ {
		r := get(i, r1)
		m := opsWantError(t, r, http.StatusGone, "compacted")
		if m["code"] != "compacted" {
			t.Fatalf("get below the compacted revision on node %d: %s", i, r)
		}
		if _, compacted := c.revisions(i); compacted != int64(target) {
			t.Fatalf("node %d: compact_revision %d, want %d", i, compacted, int64(target))
		}
	}
	// Physical compaction answers once this member's files dropped it.
	c.mustPut(3, "/compact/k", "v3")
	ans = c.ok(3, http.MethodPost, "/api/ops/compact", map[string]any{"retain_count": 1, "physical": true})
	if ans["physical"] != true {
		t.Fatalf("physical compact: %v", ans)
	}
	// Compacting to a revision already compacted is a conflict, with the
	// revisions in the body. The audit log's own writes move the current
	// revision, so the request is retried until it lands on one.
	for attempt := 0; ; attempt++ {
		rev, compacted := c.revisions(1)
		r := c.do(1, http.MethodPost, "/api/ops/compact", c.admin, map[string]any{"retain_count": rev - compacted})
		if r.status == http.StatusConflict {
			m := opsWantError(t, r, http.StatusConflict, "compacted")
			if _, ok := m["current_revision"]; !ok || m["code"] != "compacted" {
				t.Fatalf("compact to a compacted revision: %s", r)
			}
			break
		}
		if r.status != http.StatusOK || attempt == 20 {
			t.Fatalf("compact with retain_count %d: %s", rev-compacted, r)
		}
	}
}

// testOpsMoveLeader moves leadership to a follower through a third node.
func testOpsMoveLeader(t *testing.T, c *opsCluster) {
	lead := c.leader()
	target := c.follower()
	via := 6 - lead - target
	ans := c.ok(via, http.MethodPost, "/api/ops/move-leader", map[string]string{"target_member_id": strconv.Itoa(target)})
	opsWantKeys(t, "move-leader", ans, "message", "target_id", "target_name", "duration_ms")
	if ans["message"] != "leader moved" || ans["target_id"] != strconv.Itoa(target) || ans["target_name"] != fmt.Sprintf("node-%d", target) {
		t.Fatalf("move-leader: %v", ans)
	}
	if got := c.leader(); got != target {
		t.Fatalf("leader is %d after moving it to %d", got, target)
	}
	// Moving it to the leader itself is a no-op that succeeds.
	c.ok(target, http.MethodPost, "/api/ops/move-leader", map[string]string{"target_member_id": strconv.Itoa(target)})
	c.mustPut(via, "/leader/moved", "yes")
}

// testOpsPermissions checks a viewer may read but not operate, and no
// session is a 401, in etcdmonitor's format.
func testOpsPermissions(t *testing.T, c *opsCluster) {
	viewer := c.userToken("ops-viewer", "viewer")
	for _, path := range []string{"/api/ops/alarms", "/api/ops/compact/revision", "/api/ops/audit-logs"} {
		if r := c.do(2, http.MethodGet, path, viewer, nil); r.status != http.StatusOK {
			t.Fatalf("viewer GET %s: %s", path, r)
		}
	}
	opsWantError(t, c.do(2, http.MethodGet, "/api/ops/snapshot", viewer, nil), http.StatusForbidden)
	for _, path := range []string{"/api/ops/defragment", "/api/ops/alarms/disarm", "/api/ops/move-leader", "/api/ops/hashkv", "/api/ops/compact"} {
		opsWantError(t, c.do(2, http.MethodPost, path, viewer, "{}"), http.StatusForbidden)
		opsWantError(t, c.do(2, http.MethodPost, path, "", "{}"), http.StatusUnauthorized)
	}
	operator := c.userToken("ops-operator", "operator")
	if r := c.do(3, http.MethodPost, "/api/ops/hashkv", operator, nil); r.status != http.StatusOK {
		t.Fatalf("operator hashkv: %s", r)
	}
}

// testOpsAuditLogs checks every ops operation of the subtests before is
// in the audit log, found with etcdmonitor's filter names, paged newest
// first.
func testOpsAuditLogs(t *testing.T, c *opsCluster) {
	for _, tc := range []struct {
		filter, route string
	}{
		{"defragment", "POST /api/ops/defragment"},
		{"snapshot", "GET /api/ops/snapshot"},
		{"move_leader", "POST /api/ops/move-leader"},
		{"hashkv", "POST /api/ops/hashkv"},
		{"compact", "POST /api/ops/compact"},
		{"alarm_disarm", "POST /api/ops/alarms/disarm"},
	} {
		e := c.waitAudit(3, tc.filter, func(e audit.Entry) bool { return e.Operation == tc.route })
		if e.Username == "" || e.Timestamp == 0 || e.Target == "" {
			t.Fatalf("%s entry: %+v", tc.filter, e)
		}
		for _, e := range c.auditEntries(3, tc.filter) {
			if e.Operation != tc.route && !strings.Contains(e.Operation, tc.filter) {
				t.Fatalf("filter %s matched %q", tc.filter, e.Operation)
			}
		}
	}
	ok := c.waitAudit(1, "move_leader", func(e audit.Entry) bool { return e.Success })
	if !strings.HasPrefix(ok.Target, "node-") {
		t.Fatalf("move-leader target %q, want the member's name", ok.Target)
	}
	snap := c.waitAudit(1, "snapshot", func(e audit.Entry) bool { return e.Success })
	if !regexp.MustCompile(`size=\d+ bytes, revision=\d+`).MatchString(snap.Result) {
		t.Fatalf("snapshot entry result %q lacks size and revision", snap.Result)
	}
	// A failed operation is recorded as one.
	c.waitAudit(1, "alarm_disarm", func(e audit.Entry) bool { return !e.Success && e.Status == http.StatusBadRequest })

	// Paging: newest first, pages do not overlap, total counts them all.
	// Entries of the subtests before may still be flushing from a node's
	// buffer; one that lands between the two requests shifts page 2 by one,
	// so the pages are compared only when both saw the same total.
	var p1, p2 audit.Page
	for attempt := 0; ; attempt++ {
		p1, p2 = audit.Page{}, audit.Page{}
		c.do(1, http.MethodGet, "/api/ops/audit-logs?page=1&page_size=3", c.admin, nil).decode(t, &p1)
		c.do(1, http.MethodGet, "/api/ops/audit-logs?page=2&page_size=3", c.admin, nil).decode(t, &p2)
		if p1.Total == p2.Total {
			break
		}
		if attempt == 20 {
			t.Fatalf("the audit log kept growing: totals %d then %d", p1.Total, p2.Total)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(p1.Entries) != 3 || len(p2.Entries) != 3 || p1.Total < 6 || p1.PageSize != 3 || p2.Page != 2 {
		t.Fatalf("pages: %+v / %+v", p1, p2)
	}
	all := append(p1.Entries, p2.Entries...)
	for i := 1; i < len(all); i++ {
		if all[i].Time.After(all[i-1].Time) || all[i].ID == all[i-1].ID {
			t.Fatalf("entries not newest first: %+v then %+v", all[i-1], all[i])
		}
	}
	for _, q := range []string{"page=0", "page=x", "page_size=-1", "page_size=1.5"} {
		opsWantError(t, c.do(1, http.MethodGet, "/api/ops/audit-logs?"+q, c.admin, nil), http.StatusBadRequest)
	}
}
