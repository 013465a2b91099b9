package main

// Trellis clusters as real processes, and the processes themselves.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"

	// The modules `trellis serve` compiles in, for the profiling node mode.
	_ "github.com/trellis-cp/trellis/modules/admin"
	_ "github.com/trellis-cp/trellis/modules/connector"
	_ "github.com/trellis-cp/trellis/modules/kv"
	_ "github.com/trellis-cp/trellis/modules/operator"
	_ "github.com/trellis-cp/trellis/modules/schema"
	_ "github.com/trellis-cp/trellis/modules/tenant"
)

const (
	// envNodeMode makes this binary run as a Trellis node (-cpuprofile).
	envNodeMode = "LOADKV_NODE"
	// envNodeProfile is where such a node writes its CPU profile.
	envNodeProfile = "LOADKV_CPUPROFILE"
	// envNodeTrace is the path prefix of such a node's runtime traces:
	// each SIGUSR1 writes the next one (-trace).
	envNodeTrace = "LOADKV_TRACE"
	// traceSpan is how long each runtime trace runs.
	traceSpan = 2 * time.Second

	adminPassword = "loadkv-admin-password"
	startTimeout  = 60 * time.Second
	stopTimeout   = 20 * time.Second
)

// command is how to start a Trellis node: a binary and extra environment.
type command struct {
	path string
	env  []string
}

// trellisCommand picks the node binary: this binary in node mode when
// profiling or tracing, else -bin, else a fresh `go build` of ./cmd/trellis.
func trellisCommand(ctx context.Context, o options, dir string) (command, error) {
	switch {
	case o.cpuProfile != "" || o.traceDir != "":
		self, err := os.Executable()
		if err != nil {
			return command{}, err
		}
		// The nodes run the Trellis this driver was built from, not -bin:
		// say so, with the build's age, since a driver built before the
		// change under study profiles the old code.
		built := "unknown"
		if fi, err := os.Stat(self); err == nil {
			built = fi.ModTime().UTC().Format(time.RFC3339)
		}
		fmt.Fprintf(os.Stderr, "loadkv: profiling: the nodes run as this driver (%s, built %s), not -bin\n", self, built)
		return command{path: self, env: []string{envNodeMode + "=1"}}, nil
	case o.bin != "":
		p, err := filepath.Abs(o.bin)
		if err != nil {
			return command{}, err
		}
		if _, err := os.Stat(p); err != nil {
			return command{}, fmt.Errorf("-bin: %w", err)
		}
		return command{path: p}, nil
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return command{}, err
	}
	bin := filepath.Join(dir, "trellis")
	progress("building %s", bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/trellis")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return command{}, fmt.Errorf("go build ./cmd/trellis: %v\n%s", err, out)
	}
	return command{path: bin}, nil
}

// runNode is node mode: `trellis serve` with a CPU profile around it, or
// runtime traces on demand.
func runNode(args []string) int {
	if len(args) > 0 && args[0] == "serve" {
		args = args[1:]
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	config.RegisterFlags(fs)
	if err := fs.Parse(args); err != nil {
		fmt.Fprintln(os.Stderr, "trellis:", err)
		return 2
	}
	cfg, err := config.Load(fs, os.Environ())
	if err != nil {
		fmt.Fprintln(os.Stderr, "trellis:", err)
		return 1
	}
	if path := os.Getenv(envNodeProfile); path != "" {
		f, err := os.Create(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "trellis:", err)
			return 1
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "trellis:", err)
			return 1
		}
		defer pprof.StopCPUProfile()
	}
	if prefix := os.Getenv(envNodeTrace); prefix != "" {
		traceOnSignal(prefix)
	}
	if err := node.Run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "trellis:", err)
		return 1
	}
	return 0
}

// traceOnSignal writes a runtime trace of traceSpan to prefix-<k>.trace on
// the k-th SIGUSR1.
func traceOnSignal(prefix string) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGUSR1)
	go func() {
		for k := 1; ; k++ {
			<-sig
			if err := writeTrace(fmt.Sprintf("%s-%d.trace", prefix, k)); err != nil {
				fmt.Fprintln(os.Stderr, "loadkv node: trace:", err)
			}
		}
	}()
}

func writeTrace(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := trace.Start(f); err != nil {
		f.Close()
		return err
	}
	time.Sleep(traceSpan)
	trace.Stop()
	return f.Close()
}

// tracer is a system whose nodes can write a runtime trace (-trace).
type tracer interface {
	// Trace asks every node for one, without waiting for it.
	Trace()
}

// Trace signals every node to write its next runtime trace.
func (c *trellisCluster) Trace() {
	for _, p := range c.procs {
		if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
			progress("%s: trace: %v", p.name, err)
		}
	}
}

// nodeOutputs are where nodes in node mode write CPU profiles and runtime
// traces; empty for none.
type nodeOutputs struct{ profileDir, traceDir string }

// trellisCluster is a running Trellis cluster with an admin session.
type trellisCluster struct {
	procs []*proc
	eps   []string
	auth  string // Authorization header value

	quotedValue atomic.Pointer[quotedValue]
}

func (c *trellisCluster) Name() string        { return "trellis" }
func (c *trellisCluster) Size() int           { return len(c.procs) }
func (c *trellisCluster) Endpoints() []string { return c.eps }
func (c *trellisCluster) Stop() error         { return stopAll(c.procs) }
func (c *trellisCluster) RSS() (now, peak []float64) {
	return rssAll(c.procs)
}
func (c *trellisCluster) CPU() time.Duration { return cpuAll(c.procs) }
func (c *trellisCluster) Storage(ctx context.Context) storageStats {
	return scrapeStorage(ctx, c.eps, c.auth, "trellis_storage_fsyncs_total", "trellis_storage_fsync_seconds_total", "trellis_store_revision")
}

// nodeConfig is one node's config file: the defaults, with the rate limit
// off (it caps a node at 1,000 requests/s) and a known admin password.
const nodeConfig = `node:
  id: %d
  data_dir: %q
http:
  addr: %q
  rate_limit: 0
raft:
  addr: %q
  initial_cluster: %q
auth:
  admin_password: %q
log:
  level: warn
`

// startTrellis starts size nodes under dir and returns once every node is
// healthy, a session is open and the KV routes answer.
func startTrellis(ctx context.Context, cmd command, dir string, size int, out nodeOutputs, round int) (_ *trellisCluster, err error) {
	ports, err := freePorts(2 * size)
	if err != nil {
		return nil, err
	}
	var initial []string
	for i := range size {
		initial = append(initial, fmt.Sprintf("%d=127.0.0.1:%d", i+1, ports[size+i]))
	}
	initialCluster := strings.Join(initial, ",")
	if size == 1 {
		initialCluster = ""
	}
	c := &trellisCluster{}
	defer func() {
		if err != nil {
			stopAll(c.procs)
		}
	}()
	for i := range size {
		id := i + 1
		nodeDir := filepath.Join(dir, fmt.Sprintf("node%d", id))
		if err := os.MkdirAll(nodeDir, 0o750); err != nil {
			return nil, err
		}
		httpAddr := fmt.Sprintf("127.0.0.1:%d", ports[i])
		cfgPath := filepath.Join(nodeDir, "trellis.yaml")
		body := fmt.Sprintf(nodeConfig, id, filepath.Join(nodeDir, "data"), httpAddr, fmt.Sprintf("127.0.0.1:%d", ports[size+i]), initialCluster, adminPassword)
		if err := os.WriteFile(cfgPath, []byte(body), 0o600); err != nil {
			return nil, err
		}
		env := append([]string{}, cmd.env...)
		name := fmt.Sprintf("trellis-%dn-node%d-r%d", size, id, round)
		if out.profileDir != "" {
			env = append(env, envNodeProfile+"="+filepath.Join(out.profileDir, name+".pprof"))
		}
		if out.traceDir != "" {
			env = append(env, envNodeTrace+"="+filepath.Join(out.traceDir, name))
		}
		p, err := startProc(fmt.Sprintf("trellis node %d", id), filepath.Join(nodeDir, "node.log"), env, cmd.path, "serve", "--config", cfgPath)
		if err != nil {
			return nil, err
		}
		c.procs = append(c.procs, p)
		c.eps = append(c.eps, "http://"+httpAddr)
	}
	hc := &http.Client{Timeout: 5 * time.Second}
	if err := waitReady(ctx, c.procs, c.eps, "became healthy", func(ep string) error {
		return getOK(ctx, hc, ep+"/health/cluster", "")
	}); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(startTimeout)
	var token string
	if err := waitFor(ctx, deadline, c.procs[0], func() error {
		var err error
		token, err = trellisLogin(ctx, hc, c.eps[0])
		return err
	}); err != nil {
		return nil, fmt.Errorf("log in as admin: %w", err)
	}
	c.auth = "Bearer " + token
	// The KV routes: a 404 here means a binary without them.
	for _, ep := range c.eps {
		r, err := c.NewRequest("put", ep, "/loadkv/probe", []byte("probe"))
		if err != nil {
			return nil, err
		}
		req, err := r.http(ctx)
		if err != nil {
			return nil, err
		}
		if _, err := do(hc, req, nil); err != nil {
			if strings.HasPrefix(err.Error(), "404 ") {
				return nil, fmt.Errorf("PUT %s/api/kv/v3/put answers 404: this binary does not serve the KV module's routes (%v)", ep, err)
			}
			return nil, fmt.Errorf("PUT %s/api/kv/v3/put: %w", ep, err)
		}
	}
	return c, nil
}

func trellisLogin(ctx context.Context, hc *http.Client, ep string) (string, error) {
	body, _ := json.Marshal(map[string]string{"username": "admin", "password": adminPassword})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep+"/api/auth/login", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/json")
	raw, err := do(hc, req, nil)
	if err != nil {
		return "", err
	}
	var ans struct {
		SessionToken string `json:"session_token"`
	}
	if err := json.Unmarshal(raw, &ans); err != nil || ans.SessionToken == "" {
		return "", fmt.Errorf("login answered without a session: %s", raw)
	}
	return ans.SessionToken, nil
}

// NewRequest: PUT /api/kv/v3/put {"key","value"} and GET
// /api/kv/v3/get?key= (linearizable: the default), etcdmonitor's shapes.
func (c *trellisCluster) NewRequest(op, ep, key string, value []byte) (request, error) {
	r := request{auth: c.auth}
	switch op {
	case "put":
		q := c.quoted(value)
		body := make([]byte, 0, len(key)+len(q)+32)
		body = append(body, `{"key":`...)
		body = strconv.AppendQuote(body, key)
		body = append(body, `,"value":`...)
		body = append(body, q...)
		body = append(body, '}')
		r.method, r.url, r.contentType, r.body = http.MethodPut, ep+"/api/kv/v3/put", "application/json", body
	case "get":
		r.method, r.url = http.MethodGet, ep+"/api/kv/v3/get?key="+url.QueryEscape(key)
	default:
		return r, fmt.Errorf("unknown op %q", op)
	}
	return r, nil
}

// quoted is value as a JSON string, quoted once per value rather than once
// per request (every request of a run carries the same value).
func (c *trellisCluster) quoted(value []byte) []byte {
	if q := c.quotedValue.Load(); q != nil && bytes.Equal(q.raw, value) {
		return q.json
	}
	q := &quotedValue{raw: bytes.Clone(value), json: strconv.AppendQuote(nil, string(value))}
	c.quotedValue.Store(q)
	return q.json
}

type quotedValue struct{ raw, json []byte }

// Check: a get must return a node with a value.
func (c *trellisCluster) Check(op string, body []byte) error {
	if op == "get" && !bytes.Contains(body, []byte(`"value":"`)) {
		return errors.New("get answered without a value")
	}
	return nil
}

// getOK is a GET that must answer 2xx.
func getOK(ctx context.Context, hc *http.Client, url, auth string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	_, err = do(hc, req, nil)
	return err
}

// waitReady waits, within startTimeout, until check passes for every
// process's endpoint; what says what passing means, for the error.
func waitReady(ctx context.Context, procs []*proc, eps []string, what string, check func(ep string) error) error {
	deadline := time.Now().Add(startTimeout)
	for i, ep := range eps {
		if err := waitFor(ctx, deadline, procs[i], func() error { return check(ep) }); err != nil {
			return fmt.Errorf("%s never %s: %w", procs[i].name, what, err)
		}
	}
	return nil
}

// waitFor retries check every 100 ms until it succeeds, p exits, ctx ends
// or deadline passes.
func waitFor(ctx context.Context, deadline time.Time, p *proc, check func() error) error {
	for {
		err := check()
		if err == nil {
			return nil
		}
		if p != nil && p.hasExited() {
			return fmt.Errorf("%s exited: %v\n%s", p.name, p.exitErr(), p.logTail())
		}
		if time.Now().After(deadline) {
			if p != nil {
				return fmt.Errorf("%w\n%s log tail:\n%s", err, p.name, p.logTail())
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// proc is one child process: its own process group (a Ctrl-C on the
// terminal reaches only the driver, which stops children in order) and
// SIGKILLed by the kernel should the driver die first.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{}
	err     error
}

func startProc(name, logPath string, env []string, bin string, args ...string) (*proc, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// cleanEnv is the driver's environment without TRELLIS_* and ETCD_*
// settings, which would change what the nodes run.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TRELLIS_") || strings.HasPrefix(kv, "ETCD_") || strings.HasPrefix(kv, envNodeMode+"=") || strings.HasPrefix(kv, envNodeProfile+"=") || strings.HasPrefix(kv, envNodeTrace+"=") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (p *proc) hasExited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

func (p *proc) exitErr() error {
	<-p.done
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

func (p *proc) logTail() string {
	b, _ := os.ReadFile(p.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return strings.TrimRight(string(b), "\n")
}

// stop sends SIGTERM, then SIGKILL after stopTimeout. A node that had to
// be killed is an error; one that exits non-zero after SIGTERM too.
func (p *proc) stop() error {
	if p.hasExited() {
		return nil
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		var ee *exec.ExitError
		if p.err != nil && !(errors.As(p.err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled()) {
			return fmt.Errorf("%s: %v after SIGTERM\n%s", p.name, p.err, p.logTail())
		}
		return nil
	case <-time.After(stopTimeout):
	}
	syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
	return fmt.Errorf("%s did not stop within %s of SIGTERM; killed", p.name, stopTimeout)
}

// stopAll stops every process at once.
func stopAll(procs []*proc) error {
	errs := make([]error, len(procs))
	var wg sync.WaitGroup
	for i, p := range procs {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = p.stop() }()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// rss reads VmRSS and VmHWM (peak) of p in MiB; 0 when unknown.
func (p *proc) rss() (now, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(f[1], 64)
		switch f[0] {
		case "VmRSS:":
			now = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return now, peak
}

func rssAll(procs []*proc) (now, peak []float64) {
	for _, p := range procs {
		n, pk := p.rss()
		now, peak = append(now, n), append(peak, pk)
	}
	return now, peak
}

// cpu is the CPU time (user + system) p has used, from /proc/<pid>/stat.
func (p *proc) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses and may
	// hold spaces: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / clockTicks
}

// clockTicks is USER_HZ, 100 on every Linux this runs on.
const clockTicks = 100

func cpuAll(procs []*proc) time.Duration {
	var d time.Duration
	for _, p := range procs {
		d += p.cpu()
	}
	return d
}

func maxOf(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
