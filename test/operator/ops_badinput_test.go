package operatortest

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// testOpsBadInput sends every ops POST malformed, incomplete, mistyped,
// oversized or naming what does not exist: each answers 4xx with an
// etcdmonitor {"error": ...}, and nothing changes (leader, compaction,
// alarms, data).
func testOpsBadInput(t *testing.T, c *opsCluster) {
	lead := c.leader()
	keyRev := c.mustPut(1, "/bad/k", "kept")
	_, compacted := c.revisions(1)
	big := `{"member_id":"1","pad":"` + strings.Repeat("a", 128<<10) + `"}`
	type tc struct {
		body   string
		status int
		want   string
	}
	malformed := []tc{
		{"{", http.StatusBadRequest, "malformed JSON"},
		{`{"member_id`, http.StatusBadRequest, "malformed JSON"},
		{"[]", http.StatusBadRequest, "must be a JSON object"},
		{`{} {}`, http.StatusBadRequest, "single JSON value"},
		{big, http.StatusRequestEntityTooLarge, "too large"},
	}
	cases := map[string][]tc{
		"/api/ops/defragment": append([]tc{
			{"", http.StatusBadRequest, "empty"},
			{`{}`, http.StatusBadRequest, "member_id is required"},
			{`{"member_id":""}`, http.StatusBadRequest, "member_id is required"},
			{`{"member_id":2}`, http.StatusBadRequest, `"member_id" must be a string`},
			{`{"member_id":"2","force":true}`, http.StatusBadRequest, `unknown field "force"`},
			{`{"member_id":"99"}`, http.StatusBadRequest, "member not found"},
			{`{"member_id":"-1"}`, http.StatusBadRequest, "invalid member_id"},
			{`{"member_id":"0"}`, http.StatusBadRequest, "invalid member_id"},
		}, malformed...),
		"/api/ops/alarms/disarm": append([]tc{
			{`{}`, http.StatusBadRequest, "member_id and alarm_type are required"},
			{`{"member_id":"1"}`, http.StatusBadRequest, "required"},
			{`{"alarm_type":"NOSPACE"}`, http.StatusBadRequest, "required"},
			{`{"member_id":"1","alarm_type":"FOO"}`, http.StatusBadRequest, "invalid alarm_type"},
			{`{"member_id":"1","alarm_type":"nospace"}`, http.StatusBadRequest, "invalid alarm_type"},
			{`{"member_id":"1","alarm_type":1}`, http.StatusBadRequest, `"alarm_type" must be a string`},
			{`{"member_id":"x","alarm_type":"NOSPACE"}`, http.StatusBadRequest, "invalid member_id"},
			{`{"member_id":"99","alarm_type":"NOSPACE"}`, http.StatusBadRequest, "member not found"},
			{`{"member_id":"1","alarm_type":"NOSPACE"}`, http.StatusNotFound, "no such alarm"},
			{`{"member_id":"2","alarm_type":"AlarmType_CORRUPT"}`, http.StatusNotFound, "no such alarm"},
		}, malformed...),
		"/api/ops/move-leader": append([]tc{
			{`{}`, http.StatusBadRequest, "target_member_id is required"},
			{`{"target_member_id":"abc"}`, http.StatusBadRequest, "invalid member_id"},
			{`{"target_member_id":2}`, http.StatusBadRequest, `"target_member_id" must be a string`},
			{`{"target_member_id":"99"}`, http.StatusBadRequest, "member not found"},
			{`{"member_id":"2"}`, http.StatusBadRequest, `unknown field "member_id"`},
		}, malformed...),
		"/api/ops/hashkv": append([]tc{
			{`{"revision":"1"}`, http.StatusBadRequest, `"revision" must be an integer`},
			{`{"revision":1.5}`, http.StatusBadRequest, "revision"},
			{`{"revision":0}`, http.StatusBadRequest, "positive integer"},
			{`{"revision":-3}`, http.StatusBadRequest, "positive integer"},
			{`{"revision":900000000000}`, http.StatusBadRequest, "in the future"},
			{`{"rev":1}`, http.StatusBadRequest, `unknown field "rev"`},
		}, malformed...),
		"/api/ops/compact": append([]tc{
			{"", http.StatusBadRequest, "empty"},
			{`{}`, http.StatusBadRequest, "retain_count must be a positive integer"},
			{`{"physical":true}`, http.StatusBadRequest, "retain_count must be a positive integer"},
			{`{"retain_count":0}`, http.StatusBadRequest, "retain_count must be a positive integer"},
			{`{"retain_count":-5}`, http.StatusBadRequest, "retain_count must be a positive integer"},
			{`{"retain_count":"5"}`, http.StatusBadRequest, `"retain_count" must be an integer`},
			{`{"retain_count":1.5}`, http.StatusBadRequest, "retain_count"},
			{`{"retain_count":5,"physical":"yes"}`, http.StatusBadRequest, `"physical" must be a boolean`},
			{`{"retain_count":900000000000}`, http.StatusBadRequest, "non-positive"},
		}, malformed...),
	}
	for path, list := range cases {
		for _, tc := range list {
			r := c.do(2, http.MethodPost, path, c.admin, tc.body)
			short := tc.body
			if len(short) > 40 {
				short = short[:40] + "..."
			}
			t.Logf("POST %s %s -> %d", path, short, r.status)
			opsWantError(t, r, tc.status, tc.want)
		}
	}
	// etcdmonitor's body for a too large retain_count carries the numbers.
	m := opsWantError(t, c.do(1, http.MethodPost, "/api/ops/compact", c.admin, `{"retain_count":900000000000}`), http.StatusBadRequest)
	if m["retain_count"] != 9e11 || m["current_revision"] == nil {
		t.Fatalf("compact with a too large retain_count: %v", m)
	}

	// Nothing changed.
	if got := c.leader(); got != lead {
		t.Fatalf("leader moved from %d to %d", lead, got)
	}
	for i := 1; i <= 3; i++ {
		if _, now := c.revisions(i); now != compacted {
			t.Fatalf("node %d: compact_revision %d, was %d", i, now, compacted)
		}
		if a := c.alarms(i); len(a) != 0 {
			t.Fatalf("node %d: alarms %v", i, a)
		}
	}
	if r := c.do(3, http.MethodGet, "/api/kv/v3/get?key=/bad/k&revision="+strconv.FormatInt(keyRev, 10), c.admin, nil); r.status != http.StatusOK || !strings.Contains(r.body, `"kept"`) {
		t.Fatalf("get /bad/k at %d: %s", keyRev, r)
	}
}
