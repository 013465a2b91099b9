// Package authtest runs Trellis's session system end to end: real
// clusters of core/node nodes in this test process, spoken to over HTTP
// the way each API family's clients speak, and the trellis CLI binary.
package authtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// testNode is one node of a test cluster, under the names this
// package's tests use.
type testNode struct {
	id   uint64
	cfg  *config.Config
	n    *node.Node
	base string // http://host:port
}

type cluster struct {
	t     *testing.T
	tc    *testnode.Cluster
	nodes []*testNode
}

// startCluster starts size nodes as a static cluster with the defaults
// adjusted for tests (see testnode.Start; only this binary's test module)
// and tweak applied to every node's config, then waits for a leader and
// for the first-boot admin to exist.
func startCluster(t *testing.T, size int, tweak func(*config.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t, tc: testnode.Start(t, size, tweak)}
	for _, tn := range c.tc.Nodes {
		c.nodes = append(c.nodes, &testNode{id: tn.ID, cfg: tn.Config, n: tn.Node, base: tn.Base})
	}
	eventually(t, 20*time.Second, "the first-boot admin exists", func() bool {
		_, err := c.nodes[0].n.Auth().GetUser(context.Background(), "admin")
		return err == nil
	})
	return c
}

// node returns node i, counted from 1.
func (c *cluster) node(i int) *testNode { return c.nodes[i-1] }

// url is the address of path on node i.
func (c *cluster) url(i int, path string) string { return c.tc.URL(i, path) }

// waitApplied waits until every node has applied everything any node has
// applied so far: after it, a serializable read on any node sees what was
// written before the call.
func (c *cluster) waitApplied() {
	c.t.Helper()
	c.tc.WaitApplied()
}

var eventually = testnode.Eventually

var client = &http.Client{Timeout: 20 * time.Second}

// response is an HTTP answer, read whole.
type response struct {
	status int
	header http.Header
	body   string
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

// json decodes the body into a generic map; it fails the test when the
// body is not a JSON object.
func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// place puts a token where one family's clients put it.
type place func(*http.Request, string)

var places = map[string]place{
	"Authorization: Bearer":   func(r *http.Request, tok string) { r.Header.Set("Authorization", "Bearer "+tok) },
	"X-Cockroach-API-Session": func(r *http.Request, tok string) { r.Header.Set("X-Cockroach-API-Session", tok) },
	"X-Consul-Token":          func(r *http.Request, tok string) { r.Header.Set("X-Consul-Token", tok) },
	"?token=": func(r *http.Request, tok string) {
		q := r.URL.Query()
		q.Set("token", tok)
		r.URL.RawQuery = q.Encode()
	},
	"cookie": func(r *http.Request, tok string) { r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tok}) },
}

func bearer(r *http.Request, tok string) { places["Authorization: Bearer"](r, tok) }

// req describes one request.
type req struct {
	method      string
	url         string
	body        io.Reader
	contentType string
	token       string
	place       place // where the token goes; Authorization: Bearer by default
	header      map[string]string
}

func do(t testing.TB, q req) response {
	t.Helper()
	method := q.method
	if method == "" {
		method = http.MethodGet
	}
	hr, err := http.NewRequest(method, q.url, q.body)
	if err != nil {
		t.Fatal(err)
	}
	if q.contentType != "" {
		hr.Header.Set("Content-Type", q.contentType)
	}
	if q.token != "" {
		p := q.place
		if p == nil {
			p = bearer
		}
		p(hr, q.token)
	}
	for k, v := range q.header {
		hr.Header.Set(k, v)
	}
	resp, err := client.Do(hr)
	if err != nil {
		t.Fatalf("%s %s: %v", method, q.url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, q.url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func get(t testing.TB, url, token string) response {
	t.Helper()
	return do(t, req{url: url, token: token})
}

// postJSON sends v (a string is sent as it is) as a JSON body.
func postJSON(t testing.TB, method, url, token string, v any) response {
	t.Helper()
	var body []byte
	switch b := v.(type) {
	case string:
		body = []byte(b)
	case nil:
	default:
		var err error
		if body, err = json.Marshal(v); err != nil {
			t.Fatal(err)
		}
	}
	return do(t, req{method: method, url: url, body: bytes.NewReader(body), contentType: "application/json", token: token})
}

func postForm(t testing.TB, url string, form url.Values) response {
	t.Helper()
	return do(t, req{method: http.MethodPost, url: url, body: strings.NewReader(form.Encode()), contentType: "application/x-www-form-urlencoded"})
}

// login logs in through etcdmonitor's endpoint on node i and returns the
// token.
func (c *cluster) login(i int, user, pw string) string {
	c.t.Helper()
	r := postJSON(c.t, http.MethodPost, c.url(i, "/api/auth/login"), "", map[string]string{"username": user, "password": pw})
	if r.status != http.StatusOK {
		c.t.Fatalf("login %s on node %d: %s", user, i, r)
	}
	tok, _ := r.json(c.t)["session_token"].(string)
	if tok == "" {
		c.t.Fatalf("login %s on node %d: no session_token in %s", user, i, r.body)
	}
	return tok
}

// createUser creates a user through the admin API on node 1.
func (c *cluster) createUser(adminToken, name, pw string, roles ...string) {
	c.t.Helper()
	r := postJSON(c.t, http.MethodPost, c.url(1, "/api/auth/users"), adminToken,
		map[string]any{"name": name, "password": pw, "roles": roles})
	if r.status != http.StatusCreated {
		c.t.Fatalf("create user %s: %s", name, r)
	}
}

// Error formats of the five families, as a client of each parses them.

func isJSONContent(h http.Header) bool {
	return strings.HasPrefix(h.Get("Content-Type"), "application/json")
}
func isTextContent(h http.Header) bool { return strings.HasPrefix(h.Get("Content-Type"), "text/plain") }

// wantJSONError checks status and a {"error": msg} body (core and
// etcdmonitor); code, when given, must be the body's "code".
func wantJSONError(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.status != status || !isJSONContent(r.header) {
		t.Fatalf("got %s (%s), want %d with a JSON error", r, r.header.Get("Content-Type"), status)
	}
	m := r.json(t)
	if msg, _ := m["error"].(string); msg == "" {
		t.Fatalf("body %s has no \"error\" message", r.body)
	}
	if code != "" && m["code"] != code {
		t.Fatalf("body %s: code %v, want %q", r.body, m["code"], code)
	}
}

// wantTextError checks status and a plain-text body (Consul, GreptimeDB;
// CockroachDB's ends in a newline as http.Error writes it).
func wantTextError(t testing.TB, r response, status int, newline bool) {
	t.Helper()
	if r.status != status || !isTextContent(r.header) {
		t.Fatalf("got %s (%s), want %d in plain text", r, r.header.Get("Content-Type"), status)
	}
	if strings.TrimSpace(r.body) == "" || json.Valid([]byte(r.body)) {
		t.Fatalf("body %q is not a plain-text message", r.body)
	}
	if strings.HasSuffix(r.body, "\n") != newline {
		t.Fatalf("body %q: trailing newline %v, want %v", r.body, !newline, newline)
	}
}

// wantRobustError checks status and RobustMQ's envelope
// {"code":100,"data":"","error":msg}.
func wantRobustError(t testing.TB, r response, status int) {
	t.Helper()
	if r.status != status || !isJSONContent(r.header) {
		t.Fatalf("got %s, want %d with RobustMQ's envelope", r, status)
	}
	m := r.json(t)
	if m["code"] != float64(100) || m["data"] != "" {
		t.Fatalf("envelope %s, want code 100 and data \"\"", r.body)
	}
	if msg, _ := m["error"].(string); msg == "" {
		t.Fatalf("envelope %s has no error message", r.body)
	}
}

// keys returns a JSON object's keys, sorted.
func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func sameKeys(t testing.TB, m map[string]any, want ...string) {
	t.Helper()
	slices.Sort(want)
	if got := keys(m); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("keys %v, want %v", got, want)
	}
}
