package operatortest

// Helpers of the etcdmonitor ops API tests (ops_*_test.go): an in-process
// cluster of real nodes (test/internal/testnode) spoken to over HTTP the
// way etcdmonitor's frontend speaks to it. Every name starts with ops so
// the package's Consul tests can have their own.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/core/store"
	_ "github.com/trellis-cp/trellis/modules/kv"
	_ "github.com/trellis-cp/trellis/modules/operator"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

const opsAdminPassword = "ops-test-admin-password"

// opsCluster is a test cluster with admin's session token. Nodes the
// test restarted are kept in restarted; node i is whichever runs now.
type opsCluster struct {
	t     *testing.T
	tc    *testnode.Cluster
	admin string

	mu        *sync.Mutex
	restarted map[int]*node.Node
}

// sub is c for subtest t: helpers fail t, not the test that started c.
func (c *opsCluster) sub(t *testing.T) *opsCluster {
	cc := *c
	cc.t = t
	return &cc
}

// opsSettings are the settings every ops test node gets: auth with a
// known admin password, no rate limit.
func opsSettings(cfg *config.Config) {
	cfg.HTTP.RateLimit = 0
	cfg.Auth.AdminPassword = opsAdminPassword
}

// startOpsCluster starts size nodes with opsSettings and tweak, logs in as
// admin and waits until every node knows every member's name and HTTP
// address (so forwarding works).
func startOpsCluster(t *testing.T, size int, tweak ...func(*config.Config)) *opsCluster {
	t.Helper()
	c := &opsCluster{t: t, tc: testnode.Start(t, size, append([]func(*config.Config){opsSettings}, tweak...)...), restarted: map[int]*node.Node{}, mu: &sync.Mutex{}}
	c.admin = c.login(1, "admin", opsAdminPassword)
	c.waitAnnounced()
	return c
}

// login logs in on node i, retrying until the first-boot admin exists.
func (c *opsCluster) login(i int, user, password string) string {
	c.t.Helper()
	var tok string
	testnode.Eventually(c.t, 20*time.Second, user+" can log in on node "+fmt.Sprint(i), func() bool {
		r, err := c.send(i, http.MethodPost, "/api/auth/login", "", map[string]string{"username": user, "password": password})
		if err != nil || r.status != http.StatusOK {
			return false
		}
		tok, _ = r.json(c.t)["session_token"].(string)
		return tok != ""
	})
	return tok
}

// waitAnnounced waits until every running node knows every member's
// name and HTTP address.
func (c *opsCluster) waitAnnounced() {
	c.t.Helper()
	size := len(c.tc.Nodes)
	testnode.Eventually(c.t, 20*time.Second, "every node knows every member's name and HTTP address", func() bool {
		for i := range c.tc.Nodes {
			if !c.running(i + 1) {
				continue
			}
			ms := c.store(i + 1).Raft().Members()
			if len(ms) != size {
				return false
			}
			for _, m := range ms {
				if m.Name == "" || m.HTTPAddr == "" {
					return false
				}
			}
		}
		return true
	})
}

// running reports whether node i runs (started, or restarted after a stop).
func (c *opsCluster) running(i int) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.restarted[i] != nil || !c.tc.Node(i).Stopped()
}

// node is node i's running node.
func (c *opsCluster) node(i int) *node.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	if n := c.restarted[i]; n != nil {
		return n
	}
	return c.tc.Node(i).Node
}

func (c *opsCluster) store(i int) *store.Store { return c.node(i).Store() }

// stop stops node i.
func (c *opsCluster) stop(i int) {
	c.mu.Lock()
	n := c.restarted[i]
	delete(c.restarted, i)
	c.mu.Unlock()
	if n == nil {
		c.tc.Stop(i)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	n.Stop(ctx)
}

// restart starts node i again on its config and data after stop.
func (c *opsCluster) restart(i int) {
	c.t.Helper()
	n := node.New(c.tc.Node(i).Config, testnode.Logger())
	if err := n.Start(context.Background()); err != nil {
		c.t.Fatalf("restart node %d: %v", i, err)
	}
	c.mu.Lock()
	c.restarted[i] = n
	c.mu.Unlock()
	c.t.Cleanup(func() { c.stop(i) })
	testnode.Eventually(c.t, 20*time.Second, fmt.Sprintf("node %d sees a leader after its restart", i), func() bool {
		return n.Store().Raft().Leader() != 0
	})
}

// leader is the node (counted from 1) the running nodes agree leads.
func (c *opsCluster) leader() int {
	c.t.Helper()
	var lead uint64
	testnode.Eventually(c.t, 20*time.Second, "the running nodes agree on a leader", func() bool {
		lead = 0
		for i := range c.tc.Nodes {
			if !c.running(i + 1) {
				continue
			}
			l := c.store(i + 1).Raft().Leader()
			if l == 0 || (lead != 0 && l != lead) {
				return false
			}
			lead = l
		}
		return lead != 0
	})
	return int(lead)
}

// follower is a running node that does not lead.
func (c *opsCluster) follower() int {
	c.t.Helper()
	lead := c.leader()
	for i := range c.tc.Nodes {
		if i+1 != lead && c.running(i+1) {
			return i + 1
		}
	}
	c.t.Fatal("no running follower")
	return 0
}

// waitApplied waits until every running node has applied what any has.
func (c *opsCluster) waitApplied() {
	c.t.Helper()
	var rev int64
	for i := range c.tc.Nodes {
		if c.running(i + 1) {
			rev = max(rev, c.store(i+1).Revision())
		}
	}
	testnode.Eventually(c.t, 20*time.Second, fmt.Sprintf("every node applies revision %d", rev), func() bool {
		for i := range c.tc.Nodes {
			if c.running(i+1) && c.store(i+1).Revision() < rev {
				return false
			}
		}
		return true
	})
}

var opsClient = &http.Client{Timeout: 60 * time.Second}

// opsResponse is an HTTP answer, read whole.
type opsResponse struct {
	status  int
	header  http.Header
	trailer http.Header
	body    string
}

func (r opsResponse) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (r opsResponse) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// decode unmarshals the body into v.
func (r opsResponse) decode(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body %q: %v", r.body, err)
	}
}

// do sends one request to node i; body is JSON-encoded unless it is a
// string or []byte (sent as is). header holds extra name, value pairs.
// It fails the test only on a transport error.
func (c *opsCluster) do(i int, method, path, token string, body any, header ...string) opsResponse {
	c.t.Helper()
	r, err := c.send(i, method, path, token, body, header...)
	if err != nil {
		c.t.Fatalf("%s %s on node %d: %v", method, path, i, err)
	}
	return r
}

func (c *opsCluster) send(i int, method, path, token string, body any, header ...string) (opsResponse, error) {
	return opsSend(c.tc.Node(i).Base, method, path, token, body, header...)
}

// opsSend sends one request to the node at base (http://host:port).
func opsSend(base, method, path, token string, body any, header ...string) (opsResponse, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return opsResponse{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return opsResponse{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for j := 0; j+1 < len(header); j += 2 {
		req.Header.Set(header[j], header[j+1])
	}
	resp, err := opsClient.Do(req)
	if err != nil {
		return opsResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return opsResponse{}, err
	}
	return opsResponse{status: resp.StatusCode, header: resp.Header, trailer: resp.Trailer, body: string(b)}, nil
}

// ok sends a request as admin that must answer 200 and returns the body.
func (c *opsCluster) ok(i int, method, path string, body any) map[string]any {
	c.t.Helper()
	r := c.do(i, method, path, c.admin, body)
	if r.status != http.StatusOK {
		c.t.Fatalf("%s %s on node %d: want 200, got %s", method, path, i, r)
	}
	return r.json(c.t)
}

// opsWantError checks an etcdmonitor error answer: the status, JSON with a
// non-empty "error", and every want in it.
func opsWantError(t testing.TB, r opsResponse, status int, want ...string) map[string]any {
	t.Helper()
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("got %s (%s), want %d with a JSON error", r, r.header.Get("Content-Type"), status)
	}
	m := r.json(t)
	msg, _ := m["error"].(string)
	if msg == "" {
		t.Fatalf("body %s has no \"error\"", r.body)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Fatalf("error %q does not contain %q", msg, w)
		}
	}
	return m
}

// put writes a v3 key through the KV module on node i, as admin.
func (c *opsCluster) put(i int, key, value string) opsResponse {
	c.t.Helper()
	return c.do(i, http.MethodPut, "/api/kv/v3/put", c.admin, map[string]string{"key": key, "value": value})
}

// mustPut writes a key and returns the revision of the write.
func (c *opsCluster) mustPut(i int, key, value string) int64 {
	c.t.Helper()
	r := c.put(i, key, value)
	if r.status != http.StatusOK {
		c.t.Fatalf("put %s on node %d: %s", key, i, r)
	}
	var ans struct {
		Node struct {
			ModifiedIndex int64 `json:"modifiedIndex"`
		} `json:"node"`
	}
	r.decode(c.t, &ans)
	return ans.Node.ModifiedIndex
}

// opsHashKV is POST /api/ops/hashkv's answer.
type opsHashKV struct {
	Consistent bool  `json:"consistent"`
	Revision   int64 `json:"revision"`
	Results    []struct {
		MemberID   string `json:"member_id"`
		MemberName string `json:"member_name"`
		Hash       uint32 `json:"hash"`
		Revision   int64  `json:"revision"`
		Error      string `json:"error"`
	} `json:"results"`
	DurationMs int64 `json:"duration_ms"`
}

// hashKV runs POST /api/ops/hashkv on node i with body (nil: none).
func (c *opsCluster) hashKV(i int, body any) opsHashKV {
	c.t.Helper()
	r := c.do(i, http.MethodPost, "/api/ops/hashkv", c.admin, body)
	if r.status != http.StatusOK {
		c.t.Fatalf("hashkv on node %d: %s", i, r)
	}
	var h opsHashKV
	r.decode(c.t, &h)
	return h
}

// opsAlarm is one entry of GET /api/ops/alarms.
type opsAlarm struct {
	MemberID   string `json:"member_id"`
	MemberName string `json:"member_name"`
	AlarmType  string `json:"alarm_type"`
}

// alarms lists the raised alarms as node i answers them.
func (c *opsCluster) alarms(i int) []opsAlarm {
	c.t.Helper()
	r := c.do(i, http.MethodGet, "/api/ops/alarms", c.admin, nil)
	if r.status != http.StatusOK {
		c.t.Fatalf("alarms on node %d: %s", i, r)
	}
	var ans struct {
		Alarms []opsAlarm `json:"alarms"`
	}
	r.decode(c.t, &ans)
	if ans.Alarms == nil {
		c.t.Fatalf("alarms on node %d: %s: want a list, [] when empty", i, r.body)
	}
	return ans.Alarms
}

// revisions is GET /api/ops/compact/revision on node i.
func (c *opsCluster) revisions(i int) (rev, compacted int64) {
	c.t.Helper()
	var ans struct {
		Revision        int64 `json:"revision"`
		CompactRevision int64 `json:"compact_revision"`
	}
	r := c.do(i, http.MethodGet, "/api/ops/compact/revision", c.admin, nil)
	if r.status != http.StatusOK {
		c.t.Fatalf("compact/revision on node %d: %s", i, r)
	}
	r.decode(c.t, &ans)
	return ans.Revision, ans.CompactRevision
}

// auditEntries reads GET /api/ops/audit-logs on node i filtered by op.
func (c *opsCluster) auditEntries(i int, op string) []audit.Entry {
	c.t.Helper()
	r := c.do(i, http.MethodGet, "/api/ops/audit-logs?page_size=1000&operation="+op, c.admin, nil)
	if r.status != http.StatusOK {
		c.t.Fatalf("audit-logs on node %d: %s", i, r)
	}
	var page audit.Page
	r.decode(c.t, &page)
	return page.Entries
}

// waitAudit waits until the audit log (as node i serves it) holds an
// entry for op that check accepts, and returns it.
func (c *opsCluster) waitAudit(i int, op string, check func(audit.Entry) bool) audit.Entry {
	c.t.Helper()
	var found audit.Entry
	testnode.Eventually(c.t, 15*time.Second, "an audit entry for "+op, func() bool {
		for _, e := range c.auditEntries(i, op) {
			if check(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// userToken creates a user with role and logs in as it.
func (c *opsCluster) userToken(name, role string) string {
	c.t.Helper()
	pw := name + "-password"
	r := c.do(1, http.MethodPost, "/api/auth/users", c.admin, map[string]any{"name": name, "password": pw, "roles": []string{role}})
	if r.status != http.StatusCreated {
		c.t.Fatalf("create user %s: %s", name, r)
	}
	return c.login(1, name, pw)
}
