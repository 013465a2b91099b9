// Package kvtest runs the kv module end to end: clusters of real
// core/node nodes in this test process (real TCP, temporary Badger
// directories), spoken to over HTTP the way etcdmonitor's frontend and
// etcd users speak to it.
package kvtest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	trellisnode "github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/core/store"
	_ "github.com/trellis-cp/trellis/modules/kv"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

const adminPassword = "kv-test-admin-password"

// testNode is one node of a test cluster, under the names this
// package's tests use.
type testNode struct {
	id   uint64
	cfg  *config.Config
	n    *trellisnode.Node
	base string
}

type cluster struct {
	t     *testing.T
	tc    *testnode.Cluster
	nodes []*testNode
	admin string // admin's session token
}

// startCluster starts size nodes with test settings (see testnode.Start;
// auth with a known admin password, no rate limit) and tweak applied,
// waits for a leader and logs in as admin.
func startCluster(t *testing.T, size int, tweak ...func(*config.Config)) *cluster {
	t.Helper()
	settings := func(cfg *config.Config) {
		cfg.HTTP.RateLimit = 0
		cfg.Auth.AdminPassword = adminPassword
	}
	c := &cluster{t: t, tc: testnode.Start(t, size, append([]func(*config.Config){settings}, tweak...)...)}
	for _, tn := range c.tc.Nodes {
		c.nodes = append(c.nodes, &testNode{id: tn.ID, cfg: tn.Config, n: tn.Node, base: tn.Base})
	}
	eventually(t, 20*time.Second, "admin can log in", func() bool {
		r := c.try(1, http.MethodPost, "/api/auth/login", "", map[string]string{"username": "admin", "password": adminPassword})
		if r.status != http.StatusOK {
			return false
		}
		c.admin, _ = r.json(t)["session_token"].(string)
		return c.admin != ""
	})
	return c
}

// stop stops a node; safe to call again and from any goroutine.
func (c *cluster) stop(tn *testNode) { c.tc.Stop(int(tn.id)) }

func (c *cluster) node(i int) *testNode { return c.nodes[i-1] }

// leader is the index (from 1) of the node the running nodes agree leads.
func (c *cluster) leader() int {
	c.t.Helper()
	var lead uint64
	eventually(c.t, 20*time.Second, "a leader", func() bool {
		lead = 0
		for _, tn := range c.tc.Nodes {
			if tn.Stopped() {
				continue
			}
			l := tn.Node.Store().Raft().Leader()
			if l == 0 || (lead != 0 && l != lead) {
				return false
			}
			lead = l
		}
		return lead != 0 && !c.tc.Node(int(lead)).Stopped()
	})
	return int(lead)
}

// waitApplied waits until every running node has applied what any has.
func (c *cluster) waitApplied() {
	c.t.Helper()
	c.tc.WaitApplied()
}

var eventually = testnode.Eventually

var client = &http.Client{Timeout: 20 * time.Second}

type response struct {
	status int
	header http.Header
	body   string
}

func (r response) String() string { return fmt.Sprintf("%d %s", r.status, r.body) }

func (r response) json(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(r.body), &m); err != nil {
		t.Fatalf("body %q is not a JSON object: %v", r.body, err)
	}
	return m
}

// node decodes a {"node": ...} answer.
func (r response) node(t testing.TB) node {
	t.Helper()
	var nr struct {
		Node node `json:"node"`
	}
	if err := json.Unmarshal([]byte(r.body), &nr); err != nil {
		t.Fatalf("body %q is not a node response: %v", r.body, err)
	}
	return nr.Node
}

// node is etcdmonitor's Node as a client decodes it.
type node struct {
	Key           string `json:"key"`
	Value         string `json:"value"`
	Dir           bool   `json:"dir"`
	TTL           int64  `json:"ttl"`
	CreatedIndex  int64  `json:"createdIndex"`
	ModifiedIndex int64  `json:"modifiedIndex"`
	Version       int64  `json:"version"`
	Nodes         []node `json:"nodes"`
}

// do sends one request; body is JSON-encoded unless it is a string or
// []byte. It fails the test only on a transport error.
func (c *cluster) do(i int, method, path, token string, body any, header ...string) response {
	c.t.Helper()
	r, err := c.send(i, method, path, token, body, header...)
	if err != nil {
		c.t.Fatalf("%s %s on node %d: %v", method, path, i, err)
	}
	return r
}

// try is do for polling: a transport error is a response with status 0.
func (c *cluster) try(i int, method, path, token string, body any) response {
	r, err := c.send(i, method, path, token, body)
	if err != nil {
		return response{body: err.Error()}
	}
	return r
}

func (c *cluster) send(i int, method, path, token string, body any, header ...string) (response, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case func() io.Reader: // a fresh body per call, of unknown length (chunked)
		rd = b()
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return response{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, c.node(i).base+path, rd)
	if err != nil {
		return response{}, err
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
	resp, err := client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, err
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// kv helpers, as admin unless a token is given.

func q(key string) string { return url.QueryEscape(key) }

func (c *cluster) put(i int, api string, body any) response {
	c.t.Helper()
	return c.do(i, http.MethodPut, "/api/kv/"+api+"/put", c.admin, body)
}

func (c *cluster) mustPut(i int, api string, body any) node {
	c.t.Helper()
	r := c.put(i, api, body)
	if r.status != http.StatusOK {
		c.t.Fatalf("put %v on node %d: %s", body, i, r)
	}
	return r.node(c.t)
}

func (c *cluster) del(i int, api string, body any) response {
	c.t.Helper()
	return c.do(i, http.MethodPost, "/api/kv/"+api+"/delete", c.admin, body)
}

func (c *cluster) get(i int, path string) response {
	c.t.Helper()
	return c.do(i, http.MethodGet, path, c.admin, nil)
}

// wantError checks an etcdmonitor error answer: status, JSON with
// "error" (and "message", as etcdmonitor's KV errors carry) and code.
func wantError(t testing.TB, r response, status int, code string) {
	t.Helper()
	if r.status != status || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("got %s (%s), want %d with a JSON error", r, r.header.Get("Content-Type"), status)
	}
	m := r.json(t)
	if msg, _ := m["error"].(string); msg == "" {
		t.Fatalf("body %s has no \"error\"", r.body)
	}
	if code != "" && m["code"] != code {
		t.Fatalf("body %s: code %v, want %q", r.body, m["code"], code)
	}
}

// createUser creates a user through the admin API and logs in.
func (c *cluster) userToken(name, role string) string {
	c.t.Helper()
	pw := name + "-password"
	r := c.do(1, http.MethodPost, "/api/auth/users", c.admin, map[string]any{"name": name, "password": pw, "roles": []string{role}})
	if r.status != http.StatusCreated {
		c.t.Fatalf("create user %s: %s", name, r)
	}
	r = c.do(1, http.MethodPost, "/api/auth/login", "", map[string]string{"username": name, "password": pw})
	if r.status != http.StatusOK {
		c.t.Fatalf("login %s: %s", name, r)
	}
	tok, _ := r.json(c.t)["session_token"].(string)
	return tok
}

// A watch stream, read as EventSource reads it.

type sseEvent struct {
	id    string
	data  string
	event watchEvent
	err   map[string]any // a terminal error message
}

type watchEvent struct {
	Type          string `json:"type"`
	Key           string `json:"key"`
	Value         string `json:"value"`
	CreatedIndex  int64  `json:"createdIndex"`
	ModifiedIndex int64  `json:"modifiedIndex"`
	Version       int64  `json:"version"`
}

type stream struct {
	done   chan struct{} // closed when the reader stops
	resp   *http.Response
	events chan sseEvent
	cancel context.CancelFunc
	// comments receives comment lines (": ...").
	comments chan string
}

// watch opens a watch stream on node i; lastID, when set, goes in
// Last-Event-ID. A non-200 answer comes back as the response.
func (c *cluster) watch(i int, query, lastID string) (*stream, response) {
	c.t.Helper()
	return c.watchAs(i, c.admin, query, "Last-Event-ID", lastID)
}

// watchAs opens a watch stream with token and extra header pairs.
func (c *cluster) watchAs(i int, token, query string, header ...string) (*stream, response) {
	c.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.node(i).base+"/api/kv/v3/watch?"+query, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Accept", "text/event-stream")
	for j := 0; j+1 < len(header); j += 2 {
		if header[j+1] != "" {
			req.Header.Set(header[j], header[j+1])
		}
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		cancel()
		c.t.Fatalf("watch on node %d: %v", i, err)
	}
	if resp.StatusCode != http.StatusOK {
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		cancel()
		return nil, response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	}
	s := &stream{done: make(chan struct{}), resp: resp, events: make(chan sseEvent, 1024), comments: make(chan string, 64), cancel: cancel}
	go s.read(c.t)
	c.t.Cleanup(s.close)
	return s, response{status: resp.StatusCode, header: resp.Header}
}

func (s *stream) close() {
	s.cancel()
	s.resp.Body.Close()
}

// read parses the SSE stream; events closes when it ends.
func (s *stream) read(t *testing.T) {
	defer close(s.done)
	defer close(s.events)
	sc := bufio.NewScanner(s.resp.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	var ev sseEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if ev.data != "" {
				if strings.Contains(ev.data, `"error"`) && !strings.Contains(ev.data, `"type"`) {
					json.Unmarshal([]byte(ev.data), &ev.err)
				} else if err := json.Unmarshal([]byte(ev.data), &ev.event); err != nil {
					t.Errorf("watch data %q: %v", ev.data, err)
				}
				s.events <- ev
			}
			ev = sseEvent{}
		case strings.HasPrefix(line, ":"):
			select {
			case s.comments <- strings.TrimSpace(line[1:]):
			default:
			}
		case strings.HasPrefix(line, "id: "):
			ev.id = line[4:]
		case strings.HasPrefix(line, "data: "):
			ev.data = line[6:]
		}
	}
}

// ended is closed when the stream has ended and its events are read.
func (s *stream) ended() <-chan struct{} { return s.done }

// next returns the next event, or ok=false when the stream ended.
func (s *stream) next(t *testing.T, timeout time.Duration) (sseEvent, bool) {
	t.Helper()
	select {
	case ev, ok := <-s.events:
		return ev, ok
	case <-time.After(timeout):
		t.Fatalf("no watch event within %s", timeout)
	}
	return sseEvent{}, false
}

// storeListAll lists everything under a prefix, straight from a node's
// store (to see what the API hides).
var storeListAll = store.ListOptions{Serializable: true}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
