package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/internal/testutil"
)

const kvTestPassword = "kv-cli-test-admin-pw"

// testNode is a one-node cluster in this process with every module the
// binary compiles in; it can be stopped and started again on the same
// data and ports.
type testNode struct {
	t   *testing.T
	cfg config.Config
	n   *node.Node
	url string
}

func kvNodeForTest(t *testing.T) *testNode {
	t.Helper()
	cfg := config.Defaults()
	cfg.Node.DataDir = filepath.Join(t.TempDir(), "data")
	cfg.HTTP.Addr = testutil.FreeAddr(t)
	cfg.Raft.Addr = testutil.FreeAddr(t)
	cfg.Raft.TickInterval = 50 * time.Millisecond
	cfg.HTTP.RateLimit = 0
	cfg.Auth.AdminPassword = kvTestPassword
	cfg.Log.Level = "warn"
	tn := &testNode{t: t, cfg: cfg, url: "http://" + cfg.HTTP.Addr}
	tn.start()
	t.Cleanup(tn.stop)
	return tn
}

func (tn *testNode) start() {
	tn.t.Helper()
	cfg := tn.cfg
	n := node.New(&cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := n.Start(context.Background()); err != nil {
		tn.t.Fatalf("start node: %v", err)
	}
	tn.n = n
	deadline := time.Now().Add(15 * time.Second)
	for n.Store().Raft().Leader() == 0 {
		if time.Now().After(deadline) {
			tn.t.Fatal("no leader after 15s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (tn *testNode) stop() {
	if tn.n == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tn.n.Stop(ctx)
	tn.n = nil
}

// cli runs the built binary with a private HOME and config directory.
type cli struct {
	t   *testing.T
	bin string
	env []string
}

func newCLI(t *testing.T, bin string) *cli {
	home := t.TempDir()
	env := []string{"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, "config")}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TRELLIS_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return &cli{t: t, bin: bin, env: env}
}

func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(c.bin, args...)
	cmd.Env = c.env
	return cmd
}

// run returns stdout, stderr and the exit code.
func (c *cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	cmd := c.command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatalf("run %v: %v", args, err)
	}
	return stdout.String(), stderr.String(), code
}

// ok runs a command that must succeed and returns its stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code != 0 {
		c.t.Fatalf("trellis %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// fails runs a command that must exit 1 with one line on stderr containing
// every want, and nothing on stdout.
func (c *cli) fails(args []string, want ...string) {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	msg := strings.TrimRight(errOut, "\n")
	if code != 1 || strings.Contains(msg, "\n") || out != "" {
		c.t.Fatalf("trellis %s: want exit 1 and one line on stderr, got exit %d\nstdout: %q\nstderr: %q", strings.Join(args, " "), code, out, errOut)
	}
	for _, w := range want {
		if !strings.Contains(msg, w) {
			c.t.Fatalf("trellis %s: error %q does not contain %q", strings.Join(args, " "), msg, w)
		}
	}
}

// login runs `trellis login` against ep, retrying until the first-boot
// admin exists.
func (c *cli) login(ep string) {
	c.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, errOut, code := c.run("login", "--endpoint", ep, "--password", kvTestPassword)
		if code == 0 {
			if !strings.Contains(out, "logged in to "+ep+" as admin") {
				c.t.Fatalf("login printed %q", out)
			}
			return
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("login: exit %d: %s", code, errOut)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// requireKV puts key=value, skipping the test when the node does not serve
// the KV routes (404): until the KV module serves them there is nothing to
// drive.
func (c *cli) requireKV(key, value string) {
	c.t.Helper()
	if _, errOut, code := c.run("kv", "put", key, value); code != 0 {
		if strings.Contains(errOut, "404") {
			c.t.Skipf("the KV module does not serve /api/kv/v3/put on this build (404): %s", strings.TrimSpace(errOut))
		}
		c.t.Fatalf("kv put: exit %d: %s", code, errOut)
	}
}

var revisionRE = regexp.MustCompile(`^OK \(revision (\d+)\)\n$`)

// putRev runs kv put and returns the revision it printed.
func (c *cli) putRev(args ...string) int64 {
	c.t.Helper()
	out := c.ok(append([]string{"kv", "put"}, args...)...)
	m := revisionRE.FindStringSubmatch(out)
	if m == nil {
		c.t.Fatalf("kv put %v printed %q, want OK (revision N)", args, out)
	}
	rev, _ := strconv.ParseInt(m[1], 10, 64)
	return rev
}

// TestKVCommands drives put, get, ls, del and watch through the real
// binary against a real node, logged in with `trellis login`.
func TestKVCommands(t *testing.T) {
	c := newCLI(t, buildBinary(t))
	c.login(kvNodeForTest(t).url)
	c.requireKV("/app/a", "hello")

	// put and get, at a revision, serializable, as JSON.
	if got := c.ok("kv", "get", "/app/a"); got != "hello\n" {
		t.Fatalf("get /app/a = %q, want hello", got)
	}
	rev1 := c.putRev("/app/a", "hello again")
	if got := c.ok("kv", "get", "/app/a"); got != "hello again\n" {
		t.Fatalf("get /app/a = %q after the second put", got)
	}
	if got := c.ok("kv", "get", "/app/a", "--revision", fmt.Sprint(rev1-1)); got != "hello\n" {
		t.Fatalf("get /app/a --revision %d = %q, want the first value", rev1-1, got)
	}
	if got := c.ok("kv", "get", "/app/a", "--serializable"); got != "hello again\n" {
		t.Fatalf("get --serializable = %q", got)
	}
	js := c.ok("kv", "get", "/app/a", "--json")
	for _, want := range []string{`"key": "/app/a"`, `"value": "hello again"`, `"version": 2`, fmt.Sprintf(`"modifiedIndex": %d`, rev1)} {
		if !strings.Contains(js, want) {
			t.Fatalf("get --json lacks %s:\n%s", want, js)
		}
	}

	// TTL and compare-and-swap.
	c.putRev("/app/b/c", "leased", "--ttl", "30s")
	if js := c.ok("kv", "get", "/app/b/c", "--json"); !regexp.MustCompile(`"ttl": (30|29|28)\b`).MatchString(js) {
		t.Fatalf("get --json of a key put with --ttl 30s shows no ttl:\n%s", js)
	}
	c.fails([]string{"kv", "put", "/app/b/c", "x", "--ttl", "1500ms"}, "--ttl", "whole seconds")
	c.fails([]string{"kv", "put", "/app/a", "x", "--prev-value", "wrong"}, "put /app/a", "409")
	c.fails([]string{"kv", "put", "/app/a", "x", "--prev-version", "0"}, "put /app/a", "409")
	c.putRev("/app/a", "swapped", "--prev-value", "hello again")
	c.putRev("/app/a", "swapped twice", "--prev-version", "3")
	c.putRev("/app/new", "created", "--prev-version", "0")
	if got := c.ok("kv", "get", "/app/a"); got != "swapped twice\n" {
		t.Fatalf("get /app/a = %q after two swaps", got)
	}
	c.putRev("/other", "x")

	// ls: the tree, whole and under a prefix.
	want := "/app/\n  /app/a\n  /app/b/\n    /app/b/c\n  /app/new\n/other\n"
	if got := c.ok("kv", "ls"); got != want {
		t.Fatalf("ls:\n%s\nwant:\n%s", got, want)
	}
	if got := c.ok("kv", "ls", "/app/b"); got != "/app/b/\n  /app/b/c\n" {
		t.Fatalf("ls /app/b:\n%s", got)
	}
	if got := c.ok("kv", "ls", "/nothing"); got != "" {
		t.Fatalf("ls /nothing = %q, want nothing", got)
	}

	// watch: from a start revision, so the events are printed whatever
	// the moment the stream opens; Ctrl-C ends it with exit 0.
	from := c.putRev("/app/w", "1")
	c.ok("kv", "del", "/app/w")
	w, lines, werr := c.watch("/app/w", "--prefix", "--start-revision", fmt.Sprint(from))
	rev3 := c.putRev("/app/w2", "two words")
	// Other writes (audit entries) share the revision counter, so the
	// delete's revision is only known to lie between the two puts.
	if got, want := nextLine(t, lines, werr), fmt.Sprintf(`%d PUT /app/w "1"`, from); got != want {
		t.Fatalf("watch event %q, want %q", got, want)
	}
	m := regexp.MustCompile(`^(\d+) DELETE /app/w$`).FindStringSubmatch(nextLine(t, lines, werr))
	if m == nil {
		t.Fatal("second watch event is not the delete of /app/w")
	}
	if rev, _ := strconv.ParseInt(m[1], 10, 64); rev <= from || rev >= rev3 {
		t.Fatalf("delete at revision %d, not between %d and %d", rev, from, rev3)
	}
	if got, want := nextLine(t, lines, werr), fmt.Sprintf(`%d PUT /app/w2 "two words"`, rev3); got != want {
		t.Fatalf("watch event %q, want %q", got, want)
	}
	w.Process.Signal(syscall.SIGINT)
	if err := waitTimeout(w, 10*time.Second); err != nil {
		t.Fatalf("watch after Ctrl-C: %v; stderr: %s", err, werr.String())
	}
	// A bad start revision is one line and exit 1.
	c.fails([]string{"kv", "watch", "/app", "--start-revision", "0"}, "--start-revision")

	// del: a key, a directory, a prefix.
	c.ok("kv", "del", "/app/b", "--dir")
	c.fails([]string{"kv", "get", "/app/b/c"}, "get /app/b/c", "404", "not found")
	if got := c.ok("kv", "del", "/app/", "--prefix"); got != "OK (3 keys)\n" {
		t.Fatalf("del /app/ --prefix printed %q, want OK (3 keys)", got)
	}
	if got := c.ok("kv", "ls"); got != "/other\n" {
		t.Fatalf("ls after deletes:\n%s", got)
	}

	// v2: directories.
	c.ok("kv", "put", "/dir/f", "v", "--v2")
	c.ok("kv", "put", "/dir/sub", "--v2", "--dir")
	if got := c.ok("kv", "get", "/dir", "--v2"); got != "/dir/f\n/dir/sub/\n" {
		t.Fatalf("get /dir --v2 = %q", got)
	}
	if got := c.ok("kv", "get", "/dir/f", "--v2"); got != "v\n" {
		t.Fatalf("get /dir/f --v2 = %q", got)
	}
	c.fails([]string{"kv", "del", "/dir", "--v2"}, "delete /dir", "409")
	c.ok("kv", "del", "/dir", "--v2", "--dir")
	c.fails([]string{"kv", "get", "/dir/f", "--v2"}, "404")

	// Errors: one line, exit 1.
	c.fails([]string{"kv", "get", "/other", "--token", "not-a-session"}, "401", "trellis login")
	c.fails([]string{"kv", "get", "/other", "--endpoint", "http://127.0.0.1:1"}, "cannot reach")
	c.fails([]string{"kv", "put", "/x"}, "KEY and VALUE")
	c.fails([]string{"kv", "put", "/x", "y", "--dir"}, "--v2")
	c.fails([]string{"kv", "del", "/x", "--prefix", "--v2"}, "--prefix")
}

func waitTimeout(cmd *exec.Cmd, d time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		cmd.Process.Kill()
		return fmt.Errorf("still running after %s", d)
	}
}

// TestKVWatchReconnects checks the watcher against a scripted event
// stream: a dropped stream is resumed with Last-Event-ID and
// start_revision, events are printed once, a heartbeat is ignored, and an
// error message ends the watch.
func TestKVWatchReconnects(t *testing.T) {
	oldMin := watchRetryMin
	watchRetryMin = 10 * time.Millisecond
	defer func() { watchRetryMin = oldMin }()

	var mu sync.Mutex
	var requests []string
	conn := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		conn++
		n := conn
		requests = append(requests, fmt.Sprintf("%s last=%q auth=%q", r.URL.RawQuery, r.Header.Get("Last-Event-ID"), r.Header.Get("Authorization")))
		mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		switch n {
		case 1:
			io.WriteString(w, ": watching from revision 5\n\n")
			io.WriteString(w, "id: 5\ndata: {\"type\":\"PUT\",\"key\":\"/p/a\",\"value\":\"x y\",\"createdIndex\":5,\"modifiedIndex\":5,\"version\":1}\n\n")
			io.WriteString(w, "id: 6:1\ndata: {\"type\":\"DELETE\",\"key\":\"/p/b\",\"value\":\"\",\"modifiedIndex\":6}\n\n")
			// and the connection drops, mid-revision
		case 2:
			w.WriteHeader(http.StatusServiceUnavailable) // no leader yet: retried
		case 3:
			io.WriteString(w, ": heartbeat\n\n")
			io.WriteString(w, "id: 6\r\ndata: {\"type\":\"EXPIRE\",\"key\":\"/p/c\",\"modifiedIndex\":6}\r\n\r\n")
			io.WriteString(w, "data: {\"error\":\"start revision 3 is compacted\",\"code\":\"compacted\"}\n\n")
		default:
			t.Errorf("connection %d: the watch should have ended", n)
		}
	}))
	defer srv.Close()

	var out, errOut bytes.Buffer
	w := &kvWatcher{c: newAPIClient(srv.URL, "tok"), key: "/p/", prefix: true, next: 5, out: &out, errOut: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	err := w.run(ctx)
	if err == nil || !strings.Contains(err.Error(), "compacted") {
		t.Fatalf("run = %v, want the compacted error", err)
	}
	want := "5 PUT /p/a \"x y\"\n6 DELETE /p/b\n6 EXPIRE /p/c\n"
	if out.String() != want {
		t.Fatalf("printed:\n%s\nwant:\n%s", out.String(), want)
	}
	wantReqs := []string{
		`key=%2Fp%2F&prefix=true&start_revision=5 last="" auth="Bearer tok"`,
		`key=%2Fp%2F&prefix=true&start_revision=6 last="6:1" auth="Bearer tok"`,
		`key=%2Fp%2F&prefix=true&start_revision=6 last="6:1" auth="Bearer tok"`,
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(requests, "\n") != strings.Join(wantReqs, "\n") {
		t.Fatalf("requests:\n%s\nwant:\n%s", strings.Join(requests, "\n"), strings.Join(wantReqs, "\n"))
	}
	if !strings.Contains(errOut.String(), "reconnecting") {
		t.Fatalf("no reconnect notice on stderr: %q", errOut.String())
	}

	// A refused first request is an error at once, not a retry loop.
	refuse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusGone)
		io.WriteString(w, `{"error":"revision 2 is compacted","code":"compacted"}`)
	}))
	defer refuse.Close()
	w = &kvWatcher{c: newAPIClient(refuse.URL, ""), key: "k", next: 2, out: &out, errOut: &errOut}
	if err := w.run(ctx); err == nil || !strings.Contains(err.Error(), "410") || !strings.Contains(err.Error(), "compacted") {
		t.Fatalf("run against a 410 = %v", err)
	}
}

// TestKVWatchResumesFromStart checks that a watch started without a start
// revision resumes, after a drop before any event, at the revision the
// stream announced rather than at the next write.
func TestKVWatchResumesFromStart(t *testing.T) {
	oldMin := watchRetryMin
	watchRetryMin = 10 * time.Millisecond
	defer func() { watchRetryMin = oldMin }()
	var mu sync.Mutex
	var queries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		queries = append(queries, r.URL.RawQuery)
		n := len(queries)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, ": watching from revision 9\n\n")
			return // dropped before any event
		}
		w.WriteHeader(http.StatusForbidden)
		io.WriteString(w, `{"error":"permission denied","code":"permission_denied"}`)
	}))
	defer srv.Close()
	var out, errOut bytes.Buffer
	w := &kvWatcher{c: newAPIClient(srv.URL, ""), key: "k", out: &out, errOut: &errOut}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.run(ctx); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("run = %v, want the 403", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"key=k", "key=k&start_revision=9"}; strings.Join(queries, " ") != strings.Join(want, " ") {
		t.Fatalf("queries %q, want %q", queries, want)
	}
}

// watch starts `trellis kv watch args...` and returns the command, its
// stdout lines and its stderr.
func (c *cli) watch(args ...string) (*exec.Cmd, <-chan string, *syncBuffer) {
	c.t.Helper()
	w := c.command(append([]string{"kv", "watch"}, args...)...)
	stdout, err := w.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	werr := &syncBuffer{}
	w.Stderr = werr
	if err := w.Start(); err != nil {
		c.t.Fatal(err)
	}
	c.t.Cleanup(func() { w.Process.Kill() })
	lines := make(chan string, 64)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	return w, lines, werr
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func nextLine(t *testing.T, lines <-chan string, werr *syncBuffer) string {
	t.Helper()
	select {
	case l, ok := <-lines:
		if !ok {
			t.Fatalf("watch ended; stderr: %s", werr.String())
		}
		return l
	case <-time.After(15 * time.Second):
		t.Fatalf("no watch event in 15s; stderr: %s", werr.String())
	}
	return ""
}

// TestKVWatchAcrossRestart stops the node under a running `kv watch` and
// starts it again: the watch reconnects by itself and prints what was
// written after the restart once, with nothing repeated or lost.
func TestKVWatchAcrossRestart(t *testing.T) {
	c := newCLI(t, buildBinary(t))
	tn := kvNodeForTest(t)
	c.login(tn.url)
	c.requireKV("/r/a", "1")
	from := c.putRev("/r/a", "2")
	w, lines, werr := c.watch("/r/", "--prefix", "--start-revision", fmt.Sprint(from))
	if got, want := nextLine(t, lines, werr), fmt.Sprintf(`%d PUT /r/a "2"`, from); got != want {
		t.Fatalf("first event %q, want %q", got, want)
	}

	tn.stop()
	tn.start()
	rev := c.putRev("/r/b", "after restart")
	c.ok("kv", "del", "/r/a")
	if got, want := nextLine(t, lines, werr), fmt.Sprintf(`%d PUT /r/b "after restart"`, rev); got != want {
		t.Fatalf("event after the restart %q, want %q; stderr: %s", got, want, werr.String())
	}
	if got := nextLine(t, lines, werr); !regexp.MustCompile(`^\d+ DELETE /r/a$`).MatchString(got) {
		t.Fatalf("second event after the restart %q, want the delete of /r/a", got)
	}
	if !strings.Contains(werr.String(), "reconnecting") {
		t.Fatalf("no reconnect notice on stderr: %q", werr.String())
	}
	w.Process.Signal(syscall.SIGINT)
	if err := waitTimeout(w, 10*time.Second); err != nil {
		t.Fatalf("watch after Ctrl-C: %v; stderr: %s", err, werr.String())
	}
}
