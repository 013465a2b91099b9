// Package plugins tests plugin distribution end to end: shipped plugins,
// plugins.dir (at start and while running), uploads through the
// replicated store to every node of a cluster, and the CLI.
package plugins

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/core/store"
	"github.com/trellis-cp/trellis/sdk/plugintest"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

const adminPassword = "plugins-test-password"

// wasm holds the modules TestMain built from source.
var wasm = map[string]string{}

// trellisBin is the CLI, built by TestMain.
var trellisBin string

// cacheDir is the plugin compilation cache every test node shares.
var cacheDir string

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "trellis-plugins-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	cacheDir = filepath.Join(dir, "plugin-cache")
	for name, src := range map[string]string{
		"json":    "../../plugins/json",
		"equals":  "../../sdk/plugintest/testdata/equals",
		"equals2": "testdata/equals2",
	} {
		out, err := plugintest.BuildTo(src, dir)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		wasm[name] = out
	}
	trellisBin = filepath.Join(dir, "trellis")
	b := exec.Command("go", "build", "-o", trellisBin, "../../cmd/trellis")
	if out, err := b.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build trellis: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func readWasm(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(wasm[name])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func copyWasm(t testing.TB, name, to string) {
	t.Helper()
	tmp := to + ".tmp"
	if err := os.WriteFile(tmp, readWasm(t, name), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, to); err != nil {
		t.Fatal(err)
	}
}

type cluster struct {
	t     *testing.T
	tc    *testnode.Cluster
	token string
	dirs  []string // plugins.dir of each node
}

// start starts size nodes, each with its own plugins.dir (prepared by
// prep before start), and logs in as admin.
func start(t *testing.T, size int, prep func(i int, dir string), tweak ...func(*config.Config)) *cluster {
	t.Helper()
	c := &cluster{t: t}
	for i := 1; i <= size; i++ {
		d := t.TempDir()
		if prep != nil {
			prep(i, d)
		}
		c.dirs = append(c.dirs, d)
	}
	i := 0
	c.tc = testnode.Start(t, size, func(cfg *config.Config) {
		cfg.HTTP.RateLimit = 0
		cfg.Auth.AdminPassword = adminPassword
		cfg.Plugins.Dir = c.dirs[i]
		cfg.Plugins.CacheDir = cacheDir
		i++
		for _, f := range tweak {
			f(cfg)
		}
	})
	testnode.Eventually(t, 20*time.Second, "admin can log in", func() bool {
		status, body := c.do(1, http.MethodPost, "/api/auth/login", "application/json",
			[]byte(`{"username":"admin","password":"`+adminPassword+`"}`))
		if status != http.StatusOK {
			return false
		}
		var ans struct {
			Token string `json:"session_token"`
		}
		_ = json.Unmarshal(body, &ans)
		c.token = ans.Token
		return c.token != ""
	})
	return c
}

func (c *cluster) do(i int, method, path, contentType string, body []byte) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.tc.URL(i, path), bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := (&http.Client{Timeout: 3 * time.Minute}).Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// envelope is RobustMQ's answer.
type envelope struct {
	Code  int             `json:"code"`
	Data  json.RawMessage `json:"data"`
	Error *string         `json:"error"`
}

func (c *cluster) list(i int) []node.PluginRow {
	c.t.Helper()
	status, body := c.do(i, http.MethodGet, "/api/plugins", "", nil)
	if status != http.StatusOK {
		c.t.Fatalf("list on node %d: %d %s", i, status, body)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Code != 0 || env.Error != nil {
		c.t.Fatalf("list on node %d: not a success envelope: %s", i, body)
	}
	var page struct {
		Data       []node.PluginRow `json:"data"`
		TotalCount int              `json:"total_count"`
	}
	if err := json.Unmarshal(env.Data, &page); err != nil {
		c.t.Fatalf("list: %v: %s", err, body)
	}
	if page.TotalCount != len(page.Data) {
		c.t.Fatalf("total_count %d, %d rows", page.TotalCount, len(page.Data))
	}
	return page.Data
}

func (c *cluster) row(i int, name string) (node.PluginRow, bool) {
	for _, r := range c.list(i) {
		if r.Name == name {
			return r, true
		}
	}
	return node.PluginRow{}, false
}

// wantError checks a 4xx/5xx RobustMQ error envelope.
func wantError(t *testing.T, status int, body []byte, wantStatus int, contains string) {
	t.Helper()
	if status != wantStatus {
		t.Fatalf("status %d, want %d: %s", status, wantStatus, body)
	}
	var env envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Code != 100 || env.Error == nil {
		t.Fatalf("not an error envelope: %s", body)
	}
	if !strings.Contains(*env.Error, contains) {
		t.Fatalf("error %q does not contain %q", *env.Error, contains)
	}
}

// validate calls the plugin name of node i through its registry: the
// equals validator accepts a payload equal to the schema.
func (c *cluster) validate(i int, name string) error {
	p, release, err := c.tc.Node(i).Node.Plugins().Acquire(name)
	if err != nil {
		return err
	}
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := p.Validate(ctx, []byte("x"), [][]byte{[]byte("x"), []byte("y")})
	if err != nil {
		return err
	}
	if len(res) != 2 || !res[0].OK() || res[1].OK() {
		return fmt.Errorf("results %+v", res)
	}
	return nil
}

// stored counts the keys of the plugin namespace on node i.
func (c *cluster) stored(i int) int {
	c.t.Helper()
	ns, err := c.tc.Node(i).Node.Store().Namespace(node.PluginNamespace)
	if err != nil {
		c.t.Fatal(err)
	}
	res, err := ns.List(context.Background(), "", store.ListOptions{Serializable: true, CountOnly: true})
	if err != nil {
		c.t.Fatal(err)
	}
	return int(res.Count)
}
