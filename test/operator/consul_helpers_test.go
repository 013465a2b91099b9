package operatortest

// Helpers of the Consul operator raft tests: an in-process cluster of real
// nodes (test/internal/testnode) spoken to with Consul's own Go client and
// with plain HTTP. Every name starts with consul so the package's other
// tests (ops_*_test.go) can have their own.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	consulapi "github.com/hashicorp/consul/api"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/raft"
	_ "github.com/trellis-cp/trellis/modules/operator"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

const consulAdminPassword = "consul-test-admin-password"

type consulCluster struct {
	t     *testing.T
	tc    *testnode.Cluster
	admin string // admin's session token
}

// startConsulCluster starts size nodes (auth on with a known admin
// password, no rate limit; then tweak), logs in as admin when auth is on
// and waits until every node has announced its name and HTTP address, so
// followers can forward.
func startConsulCluster(t *testing.T, size int, tweak ...func(*config.Config)) *consulCluster {
	t.Helper()
	settings := func(cfg *config.Config) {
		cfg.HTTP.RateLimit = 0
		cfg.Auth.AdminPassword = consulAdminPassword
	}
	c := &consulCluster{t: t, tc: testnode.Start(t, size, append([]func(*config.Config){settings}, tweak...)...)}
	if c.node(1).Config.Auth.Enabled {
		testnode.Eventually(t, 20*time.Second, "admin can log in", func() bool {
			r, err := c.send(1, http.MethodPost, "/api/auth/login", "", `{"username":"admin","password":"`+consulAdminPassword+`"}`)
			if err != nil || r.status != http.StatusOK {
				return false
			}
			var ans struct {
				Token string `json:"session_token"`
			}
			_ = json.Unmarshal([]byte(r.body), &ans)
			c.admin = ans.Token
			return c.admin != ""
		})
	}
	testnode.Eventually(t, 20*time.Second, "every node knows every member's name and HTTP address", func() bool {
		for _, tn := range c.tc.Nodes {
			ms := tn.Node.Store().Raft().Members()
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
	return c
}

func (c *consulCluster) node(i int) *testnode.Node { return c.tc.Node(i) }

func (c *consulCluster) stop(i int) { c.tc.Stop(i) }

// client is Consul's Go client pointed at node i with token.
func (c *consulCluster) client(i int, token string) *consulapi.Client {
	c.t.Helper()
	cl, err := consulapi.NewClient(&consulapi.Config{
		Address:    strings.TrimPrefix(c.node(i).Base, "http://"),
		Scheme:     "http",
		Token:      token,
		HttpClient: &http.Client{Timeout: 30 * time.Second},
	})
	if err != nil {
		c.t.Fatal(err)
	}
	return cl
}

// operator is the admin's Consul operator API on node i.
func (c *consulCluster) operator(i int) *consulapi.Operator { return c.client(i, c.admin).Operator() }

// leader is the node (from 1) every running node agrees leads.
func (c *consulCluster) leader() int {
	c.t.Helper()
	var lead uint64
	testnode.Eventually(c.t, 20*time.Second, "the running nodes agree on a leader", func() bool {
		lead = 0
		for _, tn := range c.tc.Nodes {
			if tn.Stopped() || tn.Node.Store().Raft().Removed() || !c.isMember(tn.ID) {
				continue
			}
			l := tn.Node.Store().Raft().Leader()
			if l == 0 || (lead != 0 && l != lead) {
				return false
			}
			lead = l
		}
		return lead != 0 && !c.node(int(lead)).Stopped()
	})
	return int(lead)
}

// follower is a running member that does not lead.
func (c *consulCluster) follower() int {
	lead := c.leader()
	for _, tn := range c.tc.Nodes {
		if int(tn.ID) != lead && !tn.Stopped() && c.isMember(tn.ID) {
			return int(tn.ID)
		}
	}
	c.t.Fatal("no running follower")
	return 0
}

// isMember reports whether the leader's (or any running node's) member
// table lists id.
func (c *consulCluster) isMember(id uint64) bool {
	for _, m := range c.members() {
		if m.ID == id {
			return true
		}
	}
	return false
}

// members is the member table of the first running node that has not
// been removed.
func (c *consulCluster) members() []raft.Member {
	for _, tn := range c.tc.Nodes {
		if !tn.Stopped() && !tn.Node.Store().Raft().Removed() {
			return tn.Node.Store().Raft().Members()
		}
	}
	return nil
}

// memberIDs lists the member ids node i has applied.
func (c *consulCluster) memberIDs(i int) []uint64 {
	var ids []uint64
	for _, m := range c.node(i).Node.Store().Raft().Members() {
		ids = append(ids, m.ID)
	}
	return ids
}

// waitMemberIDs waits until every running node in `on` has applied a
// member table of exactly want.
func (c *consulCluster) waitMemberIDs(want []uint64, on ...int) {
	c.t.Helper()
	testnode.Eventually(c.t, 20*time.Second, fmt.Sprintf("nodes %v list members %v", on, want), func() bool {
		for _, i := range on {
			if fmt.Sprint(c.memberIDs(i)) != fmt.Sprint(want) {
				return false
			}
		}
		return true
	})
}

type consulResponse struct {
	status int
	header http.Header
	body   string
}

func (r consulResponse) String() string { return fmt.Sprintf("%d %q", r.status, r.body) }

// do sends one request with the token in X-Consul-Token (when set).
func (c *consulCluster) do(i int, method, path, token string) consulResponse {
	c.t.Helper()
	r, err := c.send(i, method, path, token, "")
	if err != nil {
		c.t.Fatalf("%s %s on node %d: %v", method, path, i, err)
	}
	return r
}

func (c *consulCluster) send(i int, method, path, token, body string) (consulResponse, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.node(i).Base+path, rd)
	if err != nil {
		return consulResponse{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Consul-Token", token)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return consulResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return consulResponse{}, err
	}
	return consulResponse{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// consulWantPlainError checks a Consul-style error: the status, a plain-text
// body (never JSON) containing want.
func consulWantPlainError(t testing.TB, r consulResponse, status int, want string) {
	t.Helper()
	if r.status != status {
		t.Fatalf("got %s, want status %d", r, status)
	}
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("got %s with Content-Type %q, want text/plain", r, ct)
	}
	if strings.HasPrefix(strings.TrimSpace(r.body), "{") || !strings.Contains(r.body, want) {
		t.Fatalf("body %q: want plain text containing %q", r.body, want)
	}
}

// userToken creates a user with role and returns its session token.
func (c *consulCluster) userToken(name, role string) string {
	c.t.Helper()
	body := fmt.Sprintf(`{"name":%q,"password":%q,"roles":[%q]}`, name, name+"-password", role)
	req, _ := http.NewRequest(http.MethodPost, c.node(1).Base+"/api/auth/users", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		c.t.Fatalf("create user %s: %s", name, resp.Status)
	}
	r, err := c.send(1, http.MethodPost, "/api/auth/login", "", fmt.Sprintf(`{"username":%q,"password":%q}`, name, name+"-password"))
	if err != nil || r.status != http.StatusOK {
		c.t.Fatalf("login %s: %v %v", name, r, err)
	}
	var ans struct {
		Token string `json:"session_token"`
	}
	if err := json.Unmarshal([]byte(r.body), &ans); err != nil || ans.Token == "" {
		c.t.Fatalf("login %s: %s", name, r)
	}
	return ans.Token
}

// audit lists node i's view of the audit log entries whose
// operation contains op, newest first.
func (c *consulCluster) audit(i int, op string) []audit.Entry {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	page, err := c.node(i).Node.Audit().List(ctx, audit.Query{Operation: op, PageSize: audit.MaxPageSize})
	if err != nil {
		c.t.Fatalf("audit list on node %d: %v", i, err)
	}
	return page.Entries
}

// waitAudit waits until node i's audit log holds an entry matching op and
// check, and returns it.
func (c *consulCluster) waitAudit(i int, op string, check func(audit.Entry) bool) audit.Entry {
	c.t.Helper()
	var found audit.Entry
	testnode.Eventually(c.t, 10*time.Second, "an audit entry for "+op, func() bool {
		for _, e := range c.audit(i, op) {
			if check(e) {
				found = e
				return true
			}
		}
		return false
	})
	return found
}

// serverByID indexes a configuration by server ID.
func consulServerByID(conf *consulapi.RaftConfiguration) map[string]*consulapi.RaftServer {
	out := map[string]*consulapi.RaftServer{}
	for _, s := range conf.Servers {
		out[s.ID] = s
	}
	return out
}

// consulStatus is the HTTP status and body of an error from Consul's
// client.
func consulStatus(t testing.TB, err error) (int, string) {
	t.Helper()
	var se consulapi.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error %v is not a Consul StatusError", err)
	}
	return se.Code, se.Body
}
