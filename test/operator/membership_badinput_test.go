package operatortest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/raft"
)

// membershipBodyLimit is http.max_body_bytes in TestMembershipBadInput:
// small, so an oversized join body is cheap to send.
const membershipBodyLimit = 8 << 10

// TestMembershipBadInput sends the core /raft/* membership routes (join,
// remove, transfer-leader) malformed, incomplete, mistyped and oversized
// bodies and unknown or conflicting member ids, on the leader and on a
// follower: each answers a 4xx in core's format ({"error": ...}, JSON),
// never a 5xx, and afterwards every node lists the same members (ids,
// addresses, voters) and the leader has not moved.
func TestMembershipBadInput(t *testing.T) {
	c := startConsulCluster(t, 3, func(cfg *config.Config) { cfg.HTTP.MaxBodyBytes = membershipBodyLimit })
	lead := c.leader()
	fol := c.follower()
	before := membershipTable(c, lead)
	addr2 := c.node(2).Config.Raft.Addr
	big := `{"id":4,"peer_addr":"127.0.0.1:9","name":"` + strings.Repeat("n", membershipBodyLimit) + `"}`

	type tc struct {
		name, method, path, body string
		chunked                  bool
		status                   int
		want                     string
	}
	join := "/raft/join"
	cases := []tc{
		// Malformed bodies.
		{"join: empty body", "POST", join, "", false, 400, "empty"},
		{"join: malformed", "POST", join, `{"id":4,"peer_addr":`, false, 400, "malformed JSON"},
		{"join: syntax error", "POST", join, `{id:4}`, false, 400, "malformed JSON"},
		{"join: not an object", "POST", join, `[4]`, false, 400, "must be a JSON object"},
		{"join: trailing data", "POST", join, `{"id":4,"peer_addr":"127.0.0.1:9"} {}`, false, 400, "single JSON value"},
		{"join: unknown field", "POST", join, `{"id":4,"peer_addr":"127.0.0.1:9","voter":true}`, false, 400, `unknown field "voter"`},
		// Missing fields.
		{"join: empty object", "POST", join, `{}`, false, 400, "id: required"},
		{"join: no id", "POST", join, `{"peer_addr":"127.0.0.1:9"}`, false, 400, "id: required"},
		{"join: no peer_addr", "POST", join, `{"id":4}`, false, 400, "peer_addr: required"},
		// Wrong types and values.
		{"join: id a string", "POST", join, `{"id":"4","peer_addr":"127.0.0.1:9"}`, false, 400, `"id"`},
		{"join: id negative", "POST", join, `{"id":-4,"peer_addr":"127.0.0.1:9"}`, false, 400, `"id"`},
		{"join: id fractional", "POST", join, `{"id":4.5,"peer_addr":"127.0.0.1:9"}`, false, 400, `"id"`},
		{"join: id too big", "POST", join, `{"id":18446744073709551616,"peer_addr":"127.0.0.1:9"}`, false, 400, `"id"`},
		{"join: peer_addr a number", "POST", join, `{"id":4,"peer_addr":9}`, false, 400, `"peer_addr"`},
		{"join: peer_addr without port", "POST", join, `{"id":4,"peer_addr":"127.0.0.1"}`, false, 400, "peer_addr"},
		{"join: peer_addr without host", "POST", join, `{"id":4,"peer_addr":":9"}`, false, 400, "peer_addr"},
		{"join: peer_addr port 0", "POST", join, `{"id":4,"peer_addr":"127.0.0.1:0"}`, false, 400, "peer_addr"},
		{"join: peer_addr port too big", "POST", join, `{"id":4,"peer_addr":"127.0.0.1:70000"}`, false, 400, "peer_addr"},
		{"join: http_addr bad", "POST", join, `{"id":4,"peer_addr":"127.0.0.1:9","http_addr":"no port"}`, false, 400, "http_addr"},
		// Oversized, with and without a Content-Length.
		{"join: oversized", "POST", join, big, false, 413, "too large"},
		{"join: oversized chunked", "POST", join, big, true, 413, "too large"},
		// Names that clash with the members: an id taken by another
		// address, an address taken by another id.
		{"join: id taken", "POST", join, `{"id":2,"peer_addr":"127.0.0.1:9"}`, false, 409, "2"},
		{"join: address taken", "POST", join, fmt.Sprintf(`{"id":9,"peer_addr":%q}`, addr2), false, 409, addr2},
		// Remove: the id is in the path; there is no body.
		{"remove: unknown id", "DELETE", "/raft/members/99", "", false, 404, "99"},
		{"remove: id not a number", "DELETE", "/raft/members/abc", "", false, 400, "positive integer"},
		{"remove: id 0", "DELETE", "/raft/members/0", "", false, 400, "positive integer"},
		{"remove: id negative", "DELETE", "/raft/members/-2", "", false, 400, "positive integer"},
		{"remove: id too big", "DELETE", "/raft/members/18446744073709551616", "", false, 400, "positive integer"},
		// A body-less route still refuses a declared body over
		// http.max_body_bytes before it acts (a valid id: were the body
		// let through, node 2 would be removed).
		{"remove: oversized body", "DELETE", "/raft/members/2", big, false, 413, "too large"},
		// Transfer: the target is ?to=; there is no body.
		{"transfer: to not a number", "POST", "/raft/transfer-leader?to=abc", "", false, 400, "member id"},
		{"transfer: to negative", "POST", "/raft/transfer-leader?to=-1", "", false, 400, "member id"},
		{"transfer: to zero", "POST", "/raft/transfer-leader?to=0", "", false, 400, "member id"},
		{"transfer: unknown member", "POST", "/raft/transfer-leader?to=99", "", false, 404, "99"},
	}
	for _, k := range cases {
		t.Run(k.name, func(t *testing.T) {
			for _, i := range []int{lead, fol} {
				r := membershipSend(t, c, i, k.method, k.path, k.body, k.chunked)
				membershipWantError(t, r, k.status, k.want)
			}
		})
	}

	// The same for Consul's peer removal, in Consul's plain text.
	for _, i := range []int{lead, fol} {
		r, err := c.send(i, http.MethodDelete, "/v1/operator/raft/peer?id=2", c.admin, big)
		if err != nil {
			t.Fatal(err)
		}
		consulWantPlainError(t, r, http.StatusRequestEntityTooLarge, "too large")
	}

	// Nothing changed: no learner was added, nobody removed, the leader
	// stayed, on every node.
	for i := 1; i <= 3; i++ {
		if got := membershipTable(c, i); got != before {
			t.Fatalf("node %d lists members\n%s\nafter refused requests, was\n%s", i, got, before)
		}
	}
	if got := c.leader(); got != lead {
		t.Fatalf("leader moved from %d to %d after refused requests", lead, got)
	}
	// And the routes still work: the member list answers with the same table.
	r := membershipSend(t, c, fol, http.MethodGet, "/raft/members", "", false)
	var ans struct {
		Leader  uint64        `json:"leader"`
		Members []raft.Member `json:"members"`
	}
	if r.status != http.StatusOK || json.Unmarshal([]byte(r.body), &ans) != nil || len(ans.Members) != 3 {
		t.Fatalf("GET /raft/members: %s", r)
	}
}

// membershipTable is node i's member table as text: ids, addresses and
// whether each is a learner.
func membershipTable(c *consulCluster, i int) string {
	var b strings.Builder
	for _, m := range c.node(i).Node.Store().Raft().Members() {
		fmt.Fprintf(&b, "%d %s learner=%v\n", m.ID, m.PeerAddr, m.Learner)
	}
	return b.String()
}

// membershipSend sends one request with the admin session; chunked hides
// the body's length so the server cuts it while reading.
func membershipSend(t *testing.T, c *consulCluster, i int, method, path, body string, chunked bool) consulResponse {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd)
		}
	}
	req, err := http.NewRequest(method, c.node(i).Base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.admin)
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s on node %d: %v", method, path, i, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return consulResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// membershipWantError checks core's error format: the status, a JSON
// body {"error": msg} and msg containing want.
func membershipWantError(t *testing.T, r consulResponse, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want status %d", r, status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("got %s with Content-Type %q, want JSON", r, ct)
	}
	var body map[string]any
	if err := json.Unmarshal([]byte(r.body), &body); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	msg, ok := body["error"].(string)
	if !ok || msg == "" || !strings.Contains(msg, want) {
		t.Fatalf("body %s: want {\"error\": ...} containing %q", r.body, want)
	}
}
