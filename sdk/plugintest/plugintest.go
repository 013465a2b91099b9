// Package plugintest runs a plugin in the real Trellis host from a Go
// test, so an author tests the .wasm they ship, not a native build of the
// same code:
//
//	func TestWebhook(t *testing.T) {
//		wasm := plugintest.Build(t, ".")
//		p := plugintest.Load(t, wasm, plugin.Manifest{AllowedHosts: []string{"127.0.0.1:*"}})
//		c := p.Open(`{"url": "http://..."}`)
//		c.Write(plugintest.Records("a", "b")...)
//	}
//
// Build compiles a plugin package with the Go toolchain (GOOS=wasip1
// GOARCH=wasm -buildmode=c-shared); Go's build cache makes repeat builds
// fast. Load starts it in a host with the given manifest and closes it
// when the test ends. The helpers fail the test on an unexpected error;
// the underlying *plugin.Plugin is there for anything else.
package plugintest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/plugin"
)

// BuildTo compiles the plugin package in dir into outDir/<base>.wasm and
// returns the path. It is Build without a testing.TB, for TestMain.
func BuildTo(dir, outDir string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	out := filepath.Join(outDir, filepath.Base(abs)+".wasm")
	cmd := exec.Command(goTool(), "build", "-buildmode=c-shared", "-o", out, ".")
	cmd.Dir = abs
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("plugintest: build %s: %v\n%s", dir, err, b)
	}
	return out, nil
}

// Build compiles the plugin package in dir (relative to the test's
// package directory, e.g. "." or "./testdata/myplugin") and returns the
// .wasm path, in a directory removed after the test.
func Build(t testing.TB, dir string) string {
	t.Helper()
	path, err := BuildTo(dir, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// goTool is the go command: the one on PATH, or the toolchain's that is
// running the test (go test puts its GOROOT in the environment).
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	if root := os.Getenv("GOROOT"); root != "" {
		return filepath.Join(root, "bin", "go")
	}
	return "go"
}

var (
	cacheOnce sync.Once
	cachePath string
)

// cacheDir is the wazero compilation cache the test hosts share:
// <user cache dir>/trellis/plugintest, so a module is compiled once per
// machine rather than once per test run (a large Go plugin takes seconds
// to compile, a minute under the race detector). Entries are keyed by the
// module's digest, the wazero version and the CPU, and written atomically,
// so concurrent test processes can share it. Without a user cache dir it
// is a fresh temporary directory.
func cacheDir() string {
	cacheOnce.Do(func() {
		if d, err := os.UserCacheDir(); err == nil {
			p := filepath.Join(d, "trellis", "plugintest")
			if os.MkdirAll(p, 0o755) == nil {
				cachePath = p
				evictOld(p, 7*24*time.Hour)
				return
			}
		}
		cachePath, _ = os.MkdirTemp("", "trellis-plugintest-cache-")
	})
	return cachePath
}

// evictOld removes cache entries written more than age ago: every source
// change to a plugin makes a new entry, and nothing else cleans them.
func evictOld(dir string, age time.Duration) {
	filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		if info, err := d.Info(); err == nil && time.Since(info.ModTime()) > age {
			os.Remove(path)
		}
		return nil
	})
}

// NewHost returns a host for the test, closed when the test ends. Unset
// options get the shared compilation cache (see cacheDir) and a logger
// writing through t.Log.
func NewHost(t testing.TB, opts plugin.Options) *plugin.Host {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = Logger(t)
	}
	if opts.CacheDir == "" {
		opts.CacheDir = cacheDir()
	}
	h, err := plugin.NewHost(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		h.Close(ctx)
	})
	return h
}

// Plugin is a loaded plugin with test helpers.
type Plugin struct {
	*plugin.Plugin
	T testing.TB
}

// Load loads the .wasm at path in a new host under the manifest. The name
// is the file name without .wasm.
func Load(t testing.TB, path string, m plugin.Manifest) *Plugin {
	t.Helper()
	return LoadIn(t, NewHost(t, plugin.Options{}), path, m)
}

// LoadIn loads the .wasm at path in host h.
func LoadIn(t testing.TB, h *plugin.Host, path string, m plugin.Manifest) *Plugin {
	t.Helper()
	wasm, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.TrimSuffix(filepath.Base(path), ".wasm")
	p, err := h.Load(context.Background(), name, wasm, m)
	if err != nil {
		t.Fatalf("plugintest: load %s: %v", path, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return &Plugin{Plugin: p, T: t}
}

func ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), time.Minute)
}

// Validate checks payloads against schema and fails the test on a call
// error (not on invalid payloads: those are results).
func (p *Plugin) Validate(schema string, payloads ...string) []plugin.Result {
	p.T.Helper()
	bs := make([][]byte, len(payloads))
	for i, s := range payloads {
		bs[i] = []byte(s)
	}
	c, cancel := ctx()
	defer cancel()
	res, err := p.Plugin.Validate(c, []byte(schema), bs)
	if err != nil {
		p.T.Fatalf("plugintest: validate: %v", err)
	}
	return res
}

// Connector is an open connector with test helpers.
type Connector struct {
	*plugin.Connector
	T testing.TB
}

// Open opens a connector with a JSON config and closes it at test end.
func (p *Plugin) Open(config string) *Connector {
	p.T.Helper()
	c, cancel := ctx()
	defer cancel()
	conn, err := p.OpenConnector(c, []byte(config))
	if err != nil {
		p.T.Fatalf("plugintest: open: %v", err)
	}
	p.T.Cleanup(func() { conn.Close(context.Background()) })
	return &Connector{Connector: conn, T: p.T}
}

// Write writes a batch and fails the test unless every record is accepted.
func (c *Connector) Write(records ...plugin.Record) {
	c.T.Helper()
	cx, cancel := ctx()
	defer cancel()
	n, err := c.Connector.Write(cx, records)
	if err != nil {
		c.T.Fatalf("plugintest: write: %v (accepted %d of %d)", err, n, len(records))
	}
}

// Records makes records with the given values, offsets from 0.
func Records(values ...string) []plugin.Record {
	out := make([]plugin.Record, len(values))
	now := time.Now().UnixMilli()
	for i, v := range values {
		out[i] = plugin.Record{Offset: uint64(i), TimestampMs: now, Value: []byte(v)}
	}
	return out
}

// RunMain builds the plugin in dir once for a whole test binary, sets
// *path to the .wasm and runs the tests; the file is removed afterwards.
// Use it as TestMain:
//
//	var wasmPath string
//
//	func TestMain(m *testing.M) { os.Exit(plugintest.RunMain(m, ".", &wasmPath)) }
func RunMain(m *testing.M, dir string, path *string) int {
	tmp, err := os.MkdirTemp("", "plugintest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(tmp)
	if *path, err = BuildTo(dir, tmp); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}
