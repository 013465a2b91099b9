package cluster

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/internal/testutil"
)

// proc is one node process.
type proc struct {
	id       uint64
	httpAddr string
	raftAddr string
	dataDir  string
	logPath  string
	env      []string
	args     []string
	cmd      *exec.Cmd
	exited   chan error
}

type procCluster struct {
	t     *testing.T
	procs map[uint64]*proc
	env   []string
}

var client = &http.Client{Timeout: 15 * time.Second}

// newProcCluster starts n nodes as a static cluster. env adds TRELLIS_*
// settings for every node.
func newProcCluster(t *testing.T, n int, env ...string) *procCluster {
	c := &procCluster{t: t, procs: map[uint64]*proc{}, env: append([]string{
		"TRELLIS_RAFT_TICK_INTERVAL=50ms", "TRELLIS_AUTH_ENABLED=false", "TRELLIS_LOG_LEVEL=info",
		// These tests hammer one node with reads; the admin rate limit is
		// not what they measure.
		"TRELLIS_HTTP_RATE_LIMIT=0",
	}, env...)}
	var initial []string
	for id := uint64(1); id <= uint64(n); id++ {
		p := c.newProc(id)
		initial = append(initial, fmt.Sprintf("%d=%s", id, p.raftAddr))
	}
	for _, p := range c.procs {
		if n > 1 {
			p.args = append(p.args, "--initial-cluster", strings.Join(initial, ","))
		}
		c.start(p)
	}
	t.Cleanup(c.killAll)
	c.waitLeader()
	return c
}

func (c *procCluster) newProc(id uint64) *proc {
	dir := c.t.TempDir()
	p := &proc{
		id: id, httpAddr: testutil.FreeAddr(c.t), raftAddr: testutil.FreeAddr(c.t),
		dataDir: filepath.Join(dir, "data"), logPath: filepath.Join(dir, "node.log"),
	}
	p.args = []string{"--node-id", fmt.Sprint(id), "--data-dir", p.dataDir, "--http-addr", p.httpAddr, "--raft-addr", p.raftAddr}
	c.procs[id] = p
	return p
}

func (c *procCluster) start(p *proc) {
	c.t.Helper()
	logf, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		c.t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], p.args...)
	cmd.Env = append(append(os.Environ(), "TRELLISTEST_NODE=1"), append(c.env, p.env...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	p.cmd = cmd
	p.exited = make(chan error, 1)
	go func() { p.exited <- cmd.Wait(); logf.Close() }()
	c.waitHTTP(p)
}

func (c *procCluster) waitHTTP(p *proc) {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-p.exited:
			c.t.Fatalf("node %d exited at start: %v\n%s", p.id, err, c.log(p))
		default:
		}
		resp, err := client.Get("http://" + p.httpAddr + "/admin/health")
		if err == nil {
			resp.Body.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Ask the stuck process for a goroutine dump (SIGQUIT), so the log
	// says where it hangs.
	p.cmd.Process.Signal(syscall.SIGQUIT)
	select {
	case <-p.exited:
		p.cmd = nil
	case <-time.After(5 * time.Second):
	}
	c.t.Fatalf("node %d HTTP never came up\n%s", p.id, c.log(p))
}

func (c *procCluster) log(p *proc) string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 20000 {
		b = b[len(b)-20000:]
	}
	return string(b)
}

// kill sends SIGKILL: no shutdown code runs.
func (c *procCluster) kill(id uint64) {
	p := c.procs[id]
	if p.cmd == nil {
		return
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		c.t.Errorf("node %d (pid %d) did not exit 30s after SIGKILL", id, p.cmd.Process.Pid)
	}
	p.cmd = nil
}

// term sends SIGTERM and returns the exit error (nil for exit code 0).
func (c *procCluster) term(id uint64) error {
	p := c.procs[id]
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.exited:
		p.cmd = nil
		return err
	case <-time.After(30 * time.Second):
		c.kill(id)
		return fmt.Errorf("node %d did not stop within 30s", id)
	}
}

func (c *procCluster) killAll() {
	for id := range c.procs {
		c.kill(id)
	}
	if c.t.Failed() {
		for id, p := range c.procs {
			c.t.Logf("---- node %d log (tail) ----\n%s", id, c.log(p))
		}
	}
}

func (c *procCluster) running() []*proc {
	var out []*proc
	for _, p := range c.procs {
		if p.cmd != nil {
			out = append(out, p)
		}
	}
	return out
}

type membersView struct {
	Leader  uint64 `json:"leader"`
	Members []struct {
		ID       uint64 `json:"id"`
		PeerAddr string `json:"peer_addr"`
		HTTPAddr string `json:"http_addr"`
		Learner  bool   `json:"learner"`
	} `json:"members"`
}

func members(p *proc) (membersView, error) {
	var v membersView
	resp, err := client.Get("http://" + p.httpAddr + "/raft/members")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// waitLeader waits until every running node names the same running leader.
func (c *procCluster) waitLeader() uint64 {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var lead uint64
		agreed := true
		for _, p := range c.running() {
			v, err := members(p)
			if err != nil || v.Leader == 0 || (lead != 0 && v.Leader != lead) {
				agreed = false
				break
			}
			lead = v.Leader
		}
		if agreed && lead != 0 && c.procs[lead] != nil && c.procs[lead].cmd != nil {
			return lead
		}
		time.Sleep(50 * time.Millisecond)
	}
	c.t.Fatal("running nodes never agreed on a running leader")
	return 0
}

func (c *procCluster) follower() uint64 {
	lead := c.waitLeader()
	for _, p := range c.running() {
		if p.id != lead {
			return p.id
		}
	}
	c.t.Fatal("no follower running")
	return 0
}

// put writes through node id; it returns the HTTP status (0 when the
// request itself failed: outcome unknown).
func put(p *proc, key, value string) (int, error) {
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodPut, "http://"+p.httpAddr+"/test/kv/"+key, strings.NewReader(value))
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, fmt.Errorf("put %s on node %d: %s %s", key, p.id, resp.Status, body)
	}
	return resp.StatusCode, nil
}

// get reads through node id; serializable reads local state.
func get(p *proc, key string, serializable bool) (string, int, error) {
	url := "http://" + p.httpAddr + "/test/kv/" + key
	if serializable {
		url += "?serializable=true"
	}
	resp, err := client.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return "", resp.StatusCode, fmt.Errorf("get %s on node %d: %s %s", key, p.id, resp.Status, b)
	}
	var v struct {
		Value string `json:"value"`
	}
	err = json.NewDecoder(resp.Body).Decode(&v)
	return v.Value, resp.StatusCode, err
}

func revision(p *proc) int64 {
	resp, err := client.Get("http://" + p.httpAddr + "/test/revision")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var v struct {
		Revision int64 `json:"revision"`
	}
	json.NewDecoder(resp.Body).Decode(&v)
	return v.Revision
}

func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// checkAll asserts every node has every acknowledged write (serializable
// reads, once the node has caught up).
func (c *procCluster) checkAll(acked map[string]string) {
	c.t.Helper()
	for _, p := range c.running() {
		for k, v := range acked {
			got, _, err := get(p, k, true)
			if err != nil || got != v {
				c.t.Fatalf("node %d: acknowledged write %s=%q reads %q (%v)", p.id, k, v, got, err)
			}
		}
	}
}

func filepathGlob(dataDir string) ([]string, error) {
	return filepath.Glob(filepath.Join(dataDir, "snap", "*"))
}
