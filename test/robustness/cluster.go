package robustness

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/internal/testutil"
)

// Credentials every node of a test cluster shares: auth is on, as in
// production, and the harness acts as admin.
const (
	adminPassword = "robustness-admin-password"
	joinToken     = "robustness-join-token"
)

// baseEnv is the configuration every node gets. A 50ms tick makes an
// election take about half a second; the rate limit would only measure
// itself; a short request timeout turns a lost leader into a quick 503.
var baseEnv = []string{
	"TRELLIS_RAFT_TICK_INTERVAL=50ms",
	"TRELLIS_RAFT_REQUEST_TIMEOUT=3s",
	"TRELLIS_HTTP_RATE_LIMIT=0",
	"TRELLIS_AUTH_ENABLED=true",
	"TRELLIS_AUTH_ADMIN_PASSWORD=" + adminPassword,
	"TRELLIS_RAFT_JOIN_TOKEN=" + joinToken,
	"TRELLIS_LOG_LEVEL=info",
}

// Node is one trellis process and its peer proxy.
type Node struct {
	ID         uint64
	PeerAddr   string // the raft address the cluster knows: the proxy's
	ListenAddr string // where the node itself listens for raft, behind the proxy
	DataDir    string
	LogPath    string

	// Env is added to the environment of the node's next starts
	// (failpoints); the caller clears it.
	Env []string

	mu       sync.Mutex
	httpAddr string // the node's HTTP API; a restart may move it (HTTPAddr)
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	starts   int  // how many times the process was started
	killed   bool // the harness ended the last process on purpose
	proxy    *Proxy
	removed  bool
}

// HTTPAddr is where the node's HTTP API listens.
func (n *Node) HTTPAddr() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.httpAddr
}

// Incarnation is the number of the node's current process (1 for the
// first start); stale-read monotonicity is checked per incarnation.
func (n *Node) Incarnation() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.starts
}

// Running reports whether the node's process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.exited:
		return false
	default:
		return true
	}
}

// Options configure a cluster.
type Options struct {
	Nodes int
	// Env is added to every node's environment (TRELLIS_* settings).
	Env []string
	// NoProxy runs the nodes without peer proxies (a one-node cluster
	// needs none).
	NoProxy bool
	// LogDir, when set, receives a copy of every node's log if the test
	// fails.
	LogDir string
}

// Cluster is a set of node processes on loopback.
type Cluster struct {
	t     testing.TB
	bin   string
	dir   string
	env   []string
	Net   *Network
	proxy bool
	logs  string

	mu    sync.Mutex
	nodes map[uint64]*Node
	token string

	ctl *http.Client // harness requests: health, members, ops
}

// NewCluster starts opts.Nodes nodes of bin as one cluster and returns it
// once every node agrees on a leader and the harness has logged in. The
// cluster is stopped when the test ends.
func NewCluster(t testing.TB, bin string, opts Options) *Cluster {
	t.Helper()
	c := &Cluster{
		t: t, bin: bin, dir: t.TempDir(), env: append(slices.Clone(baseEnv), opts.Env...),
		Net: NewNetwork(), proxy: !opts.NoProxy && opts.Nodes > 1, nodes: map[uint64]*Node{},
		ctl: &http.Client{Timeout: 15 * time.Second}, logs: opts.LogDir,
	}
	t.Cleanup(c.Close)
	for attempt := 0; ; attempt++ {
		for id := uint64(1); id <= uint64(opts.Nodes); id++ {
			c.nodes[id] = c.newNode(id)
		}
		err := c.boot()
		if err == nil {
			break
		}
		if !errors.Is(err, errAddrInUse) || attempt == 3 {
			t.Fatalf("bootstrap: %v", err)
		}
		t.Logf("bootstrap: %v; again on new ports", err)
		for _, n := range c.allNodes() {
			c.Kill(n)
			if n.proxy != nil {
				n.proxy.Close()
			}
		}
	}
	c.WaitLeader(time.Minute)
	c.login()
	return c
}

// boot starts the cluster's nodes for the first time. With proxies they
// first run on the advertised addresses, which records them in the member
// table; then every node moves behind its proxy.
func (c *Cluster) boot() error {
	if !c.proxy {
		for _, n := range c.Nodes() {
			n.PeerAddr = n.ListenAddr
			if err := c.StartErr(n); err != nil {
				return err
			}
		}
		return nil
	}
	var initial []string
	for _, n := range c.Nodes() {
		initial = append(initial, fmt.Sprintf("%d=%s", n.ID, n.PeerAddr))
	}
	for _, n := range c.Nodes() {
		if err := c.spawn(n, "--raft-addr", n.PeerAddr, "--initial-cluster", strings.Join(initial, ",")); err != nil {
			return err
		}
	}
	if _, err := c.waitLeader(time.Minute); err != nil {
		return err
	}
	for _, n := range c.Nodes() {
		c.Stop(n)
	}
	for _, n := range c.Nodes() {
		p, err := StartProxy(c.Net, n.ID, n.PeerAddr, n.ListenAddr)
		if err != nil {
			return fmt.Errorf("node %d: proxy: %w", n.ID, err)
		}
		n.proxy = p
		if err := c.StartErr(n); err != nil {
			return err
		}
	}
	return nil
}

func (c *Cluster) newNode(id uint64) *Node {
	dir := filepath.Join(c.dir, fmt.Sprintf("node-%d-%d", id, time.Now().UnixNano()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	return &Node{
		ID: id, httpAddr: testutil.FreeAddr(c.t), PeerAddr: testutil.FreeAddr(c.t), ListenAddr: testutil.FreeAddr(c.t),
		DataDir: filepath.Join(dir, "data"), LogPath: filepath.Join(dir, "node.log"),
	}
}

// Nodes are the cluster's nodes (removed ones excluded), by id.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, n := range c.nodes {
		if !n.removed {
			out = append(out, n)
		}
	}
	slices.SortFunc(out, func(a, b *Node) int { return int(a.ID) - int(b.ID) })
	return out
}

// Node returns node id.
func (c *Cluster) Node(id uint64) *Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[id]
}

// Running are the nodes whose process is alive.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes() {
		if n.Running() {
			out = append(out, n)
		}
	}
	return out
}

// Start starts n's process on its private raft address (its advertised
// one without a proxy) and waits for its HTTP port.
func (c *Cluster) Start(n *Node) {
	c.t.Helper()
	if err := c.StartErr(n); err != nil {
		c.t.Fatalf("%v\n%s", err, c.LogTail(n, 4000))
	}
}

// StartErr is Start returning the error instead of failing the test. A
// port taken meanwhile by another process (the machine is shared) moves the
// node to new HTTP and private raft ports; the advertised raft address is
// the proxy's and stays.
func (c *Cluster) StartErr(n *Node) error {
	for attempt := 0; ; attempt++ {
		err := c.spawn(n, "--raft-addr", n.ListenAddr)
		if !errors.Is(err, errAddrInUse) || attempt == 3 || (n.proxy == nil && c.proxy) {
			return err
		}
		c.t.Logf("node %d: %v; moving it to new ports", n.ID, err)
		n.mu.Lock()
		n.httpAddr = testutil.FreeAddr(c.t)
		n.mu.Unlock()
		n.ListenAddr = testutil.FreeAddr(c.t)
		if n.proxy != nil {
			n.proxy.SetTarget(n.ListenAddr)
		}
	}
}

// pollClient asks a starting node whether it is up; whatever answers on
// the port must answer quickly (another process may hold it).
var pollClient = &http.Client{Timeout: time.Second}

// errAddrInUse: a node could not bind a port the harness picked for it.
var errAddrInUse = errors.New("address already in use")

// spawn starts the process and waits for its HTTP port; an error says why
// it did not come up.
func (c *Cluster) spawn(n *Node, extra ...string) error {
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.starts++
	starts := n.starts
	n.mu.Unlock()
	fmt.Fprintf(logf, "==== harness: start %d of node %d at %s env=%v args=%v\n", starts, n.ID, time.Now().Format(time.RFC3339Nano), n.Env, extra)
	args := append([]string{"serve", "--node-id", fmt.Sprint(n.ID), "--data-dir", n.DataDir, "--http-addr", n.HTTPAddr()}, extra...)
	cmd := exec.Command(c.bin, args...)
	cmd.Env = append(append(inheritedEnv(), c.env...), n.Env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("node %d: start: %w", n.ID, err)
	}
	exited := make(chan struct{})
	n.mu.Lock()
	n.cmd, n.exited, n.exitErr, n.killed = cmd, exited, nil, false
	n.mu.Unlock()
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.exitErr = err
		n.mu.Unlock()
		close(exited)
	}()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			if strings.Contains(c.LogTail(n, 1000), "address already in use") {
				return fmt.Errorf("node %d exited at start: %w", n.ID, errAddrInUse)
			}
			return fmt.Errorf("node %d exited at start: %v", n.ID, n.ExitErr())
		default:
		}
		resp, err := pollClient.Get("http://" + n.HTTPAddr() + "/admin/health")
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A goroutine dump (SIGQUIT) says where it hangs.
	cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-exited:
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("node %d: HTTP never came up", n.ID)
}

// inheritedEnv is the test's environment without TRELLIS_* variables: the
// node refuses unknown ones, and the harness sets its own.
func inheritedEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TRELLIS_") {
			out = append(out, kv)
		}
	}
	return out
}

// ExitErr is how the node's last process ended (nil while it runs or after
// exit code 0).
func (n *Node) ExitErr() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.exitErr
}

// Kill sends SIGKILL and waits for the process to be gone: no shutdown
// code runs.
func (c *Cluster) Kill(n *Node) { c.signal(n, syscall.SIGKILL) }

// Stop sends SIGTERM (a graceful stop) and waits; a node that does not
// stop within 30s is killed.
func (c *Cluster) Stop(n *Node) { c.signal(n, syscall.SIGTERM) }

func (c *Cluster) signal(n *Node, sig syscall.Signal) {
	n.mu.Lock()
	cmd, exited := n.cmd, n.exited
	n.killed = true
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		c.t.Logf("node %d did not exit 30s after %v; killing it", n.ID, sig)
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	}
}

// WaitExit waits up to d for n's process to exit by itself (a failpoint);
// it reports whether it did.
func (c *Cluster) WaitExit(n *Node, d time.Duration) bool {
	n.mu.Lock()
	exited := n.exited
	n.mu.Unlock()
	if exited == nil {
		return true
	}
	select {
	case <-exited:
		return true
	case <-time.After(d):
		return false
	}
}

// Restart starts a stopped node again (with its current Env).
func (c *Cluster) Restart(n *Node) {
	c.t.Helper()
	c.Start(n)
}

// UnexpectedExits lists nodes whose process ended without the harness
// stopping it, with how they ended.
func (c *Cluster) UnexpectedExits() []string {
	var out []string
	for _, n := range c.Nodes() {
		n.mu.Lock()
		if n.cmd != nil && !n.killed {
			select {
			case <-n.exited:
				out = append(out, fmt.Sprintf("node %d exited by itself: %v", n.ID, n.exitErr))
			default:
			}
		}
		n.mu.Unlock()
	}
	return out
}

// Close kills every node and proxy; when the test failed it logs the tail
// of every node's log.
func (c *Cluster) Close() {
	for _, n := range c.allNodes() {
		c.Kill(n)
		if n.proxy != nil {
			n.proxy.Close()
		}
	}
	if c.t.Failed() {
		for _, n := range c.allNodes() {
			c.t.Logf("---- node %d log (tail) ----\n%s", n.ID, c.LogTail(n, 6000))
			if c.logs != "" {
				os.MkdirAll(c.logs, 0o755)
				if b, err := os.ReadFile(n.LogPath); err == nil {
					name := fmt.Sprintf("node-%d.log", n.ID)
					if n.removed {
						name = fmt.Sprintf("node-%d-removed.log", n.ID)
					}
					os.WriteFile(filepath.Join(c.logs, name), b, 0o644)
				}
			}
		}
		if c.logs != "" {
			c.t.Logf("node logs in %s", c.logs)
		}
	}
}

func (c *Cluster) allNodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*Node
	for _, n := range c.nodes {
		out = append(out, n)
	}
	return out
}

// LogTail is the last max bytes of n's log, without the access log's
// lines (msg=request), which would drown everything else.
func (c *Cluster) LogTail(n *Node, max int) string {
	b, _ := os.ReadFile(n.LogPath)
	var out []byte
	for _, line := range bytes.SplitAfter(b, []byte("\n")) {
		if !bytes.Contains(line, []byte(" msg=request ")) {
			out = append(out, line...)
		}
	}
	if len(out) > max {
		out = out[len(out)-max:]
	}
	return string(out)
}

// LogContains reports whether n's log has s in it.
func (c *Cluster) LogContains(n *Node, s string) bool {
	b, _ := os.ReadFile(n.LogPath)
	return bytes.Contains(b, []byte(s))
}

// Token is the admin session every client uses.
func (c *Cluster) Token() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token
}

// login makes an admin session (replicated: it works on every node).
func (c *Cluster) login() {
	c.t.Helper()
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": adminPassword})
	var lastErr error
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		for _, n := range c.Running() {
			resp, err := c.ctl.Post("http://"+n.HTTPAddr()+"/api/auth/login", "application/json", bytes.NewReader(body))
			if err != nil {
				lastErr = err
				continue
			}
			var out struct {
				SessionToken string `json:"session_token"`
			}
			raw, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK && json.Unmarshal(raw, &out) == nil && out.SessionToken != "" {
				c.mu.Lock()
				c.token = out.SessionToken
				c.mu.Unlock()
				return
			}
			lastErr = fmt.Errorf("login on node %d: %s %s", n.ID, resp.Status, raw)
		}
		time.Sleep(200 * time.Millisecond)
	}
	c.t.Fatalf("admin login never succeeded: %v", lastErr)
}

// Do sends a harness request to n with the admin session and the join
// token, decoding a 2xx JSON answer into out (when not nil). Any other
// status is an error carrying the body.
func (c *Cluster) Do(ctx context.Context, n *Node, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+n.HTTPAddr()+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+c.Token())
	req.Header.Set("X-Trellis-Join-Token", joinToken)
	resp, err := c.ctl.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return &StatusError{Node: n.ID, Method: method, Path: path, Status: resp.StatusCode, Body: strings.TrimSpace(string(raw))}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("node %d %s %s: decode %q: %w", n.ID, method, path, raw, err)
		}
	}
	return nil
}

// StatusError is a harness request answered with a non-2xx status.
type StatusError struct {
	Node         uint64
	Method, Path string
	Status       int
	Body         string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("node %d %s %s: %d %s", e.Node, e.Method, e.Path, e.Status, e.Body)
}

// Member is one line of /raft/members.
type Member struct {
	ID       uint64 `json:"id"`
	Name     string `json:"name"`
	PeerAddr string `json:"peer_addr"`
	HTTPAddr string `json:"http_addr"`
	Learner  bool   `json:"learner"`
}

// MembersView is /raft/members as one node sees it.
type MembersView struct {
	Leader  uint64   `json:"leader"`
	Members []Member `json:"members"`
}

// Members is n's view of the membership and the leader.
func (c *Cluster) Members(ctx context.Context, n *Node) (MembersView, error) {
	var v MembersView
	err := c.Do(ctx, n, http.MethodGet, "/raft/members", nil, &v)
	return v, err
}

// WaitLeader waits until every running member names the same running
// leader and returns it; it fails the test after d.
func (c *Cluster) WaitLeader(d time.Duration) *Node {
	c.t.Helper()
	n, err := c.waitLeader(d)
	if err != nil {
		c.t.Fatal(err)
	}
	return n
}

func (c *Cluster) waitLeader(d time.Duration) (*Node, error) {
	deadline := time.Now().Add(d)
	var last string
	for time.Now().Before(deadline) {
		lead, why := c.agreedLeader()
		if lead != nil {
			return lead, nil
		}
		last = why
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("running nodes never agreed on a running leader within %s: %s", d, last)
}

func (c *Cluster) agreedLeader() (*Node, string) {
	return c.leaderOf(c.Running())
}

// leaderOf is the leader the given nodes agree on (nil and why not when
// they do not).
func (c *Cluster) leaderOf(running []*Node) (*Node, string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var lead uint64
	if len(running) == 0 {
		return nil, "no node running"
	}
	for _, n := range running {
		v, err := c.Members(ctx, n)
		if err != nil {
			return nil, err.Error()
		}
		if v.Leader == 0 {
			return nil, fmt.Sprintf("node %d knows no leader", n.ID)
		}
		if lead != 0 && v.Leader != lead {
			return nil, fmt.Sprintf("node %d says leader %d, another says %d", n.ID, v.Leader, lead)
		}
		lead = v.Leader
	}
	ln := c.Node(lead)
	if ln == nil || !ln.Running() {
		return nil, fmt.Sprintf("leader %d is not a running node", lead)
	}
	return ln, ""
}

// Leader is the current leader (waiting up to 30s for one).
func (c *Cluster) Leader() *Node { return c.WaitLeader(30 * time.Second) }

// Follower is some running node other than the leader.
func (c *Cluster) Follower() *Node {
	lead := c.Leader()
	for _, n := range c.Running() {
		if n != lead {
			return n
		}
	}
	c.t.Fatal("no follower running")
	return nil
}

// TransferLeader moves leadership to n.
func (c *Cluster) TransferLeader(ctx context.Context, via, to *Node) error {
	return c.Do(ctx, via, http.MethodPost, fmt.Sprintf("/raft/transfer-leader?to=%d", to.ID), nil, nil)
}

// RemoveMember removes n from the cluster (asking another member), then
// kills it, closes its proxy and deletes its data directory, as the
// operations guide says a removed node is retired.
func (c *Cluster) RemoveMember(ctx context.Context, n *Node) error {
	var via *Node
	for _, m := range c.Running() {
		if m != n {
			via = m
			break
		}
	}
	if via == nil {
		return fmt.Errorf("no other member to remove node %d through", n.ID)
	}
	if err := c.Do(ctx, via, http.MethodDelete, fmt.Sprintf("/raft/members/%d", n.ID), nil, nil); err != nil {
		return err
	}
	c.Kill(n)
	if n.proxy != nil {
		n.proxy.Close()
	}
	c.mu.Lock()
	n.removed = true
	c.mu.Unlock()
	return os.RemoveAll(n.DataDir)
}

// AddMember joins a new node with id through a running member: it first
// runs on its advertised address with --join, until the leader has
// promoted it to voter, then restarts behind its proxy.
func (c *Cluster) AddMember(ctx context.Context, id uint64) (*Node, error) {
	var via *Node
	for _, m := range c.Running() {
		via = m
		break
	}
	if via == nil {
		return nil, fmt.Errorf("no running member to join through")
	}
	n := c.newNode(id)
	c.mu.Lock()
	if old := c.nodes[id]; old != nil && !old.removed {
		c.mu.Unlock()
		return nil, fmt.Errorf("node %d is still a member", id)
	}
	c.nodes[id] = n
	c.mu.Unlock()
	if err := c.spawn(n, "--raft-addr", n.PeerAddr, "--join", via.HTTPAddr()); err != nil {
		return n, err
	}
	deadline := time.Now().Add(time.Minute)
	for {
		v, err := c.Members(ctx, via)
		if err == nil && slices.ContainsFunc(v.Members, func(m Member) bool { return m.ID == id && !m.Learner }) {
			break
		}
		if time.Now().After(deadline) {
			return n, fmt.Errorf("node %d was not promoted to voter within a minute (last view %+v, err %v)", id, v, err)
		}
		select {
		case <-ctx.Done():
			return n, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	if !c.proxy {
		return n, nil
	}
	c.Stop(n)
	p, err := StartProxy(c.Net, n.ID, n.PeerAddr, n.ListenAddr)
	if err != nil {
		return n, err
	}
	n.proxy = p
	return n, c.StartErr(n)
}
