package plugins

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// TestUploadShadowsShipped: an upload (here over 4 MiB, above
// http.max_body_bytes, so it passes only by the route's own limit
// plugins.max_module_bytes, and is stored in several chunks) takes
// precedence over a shipped plugin of the same name; deleting it brings
// the shipped one back, loaded and callable.
func TestUploadShadowsShipped(t *testing.T) {
	shipped := t.TempDir()
	copyWasm(t, "json", filepath.Join(shipped, "json.wasm"))
	t.Setenv(node.EnvShippedPlugins, shipped)
	c := start(t, 2, nil)
	if n := len(readWasm(t, "json")); int64(n) <= c.tc.Node(1).Config.HTTP.MaxBodyBytes {
		t.Fatalf("json.wasm is %d bytes, not above http.max_body_bytes: the test proves nothing", n)
	}
	before, _ := c.row(1, "json")
	if before.Source != "shipped" || before.Status != "loaded" {
		t.Fatalf("row %+v", before)
	}
	status, body := c.do(2, http.MethodPost, "/api/plugins", "application/octet-stream", readWasm(t, "json"))
	if status != http.StatusOK {
		t.Fatalf("upload: %d %s", status, body)
	}
	for i := 1; i <= 2; i++ {
		testnode.Eventually(t, 30*time.Second, "upload shadows the shipped plugin", func() bool {
			r, _ := c.row(i, "json")
			return r.Source == "uploaded" && r.Status == "loaded" && r.SHA256 == before.SHA256
		})
	}
	if n := c.stored(1); n < 3 {
		t.Fatalf("%d keys stored, want the meta key and at least 2 chunks", n)
	}
	status, body = c.do(1, http.MethodDelete, "/api/plugins/json", "", nil)
	if status != http.StatusOK {
		t.Fatalf("delete: %d %s", status, body)
	}
	for i := 1; i <= 2; i++ {
		testnode.Eventually(t, 30*time.Second, "shipped plugin serves again", func() bool {
			r, _ := c.row(i, "json")
			return r.Source == "shipped" && r.Status == "loaded" && c.tc.Node(i).Node.Plugins().Get("json") != nil
		})
		p, release, err := c.tc.Node(i).Node.Plugins().Acquire("json")
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		_, err = p.Validate(ctx, []byte(`{"type":"object"}`), [][]byte{[]byte(`{}`)})
		cancel()
		release()
		if err != nil {
			t.Fatalf("node %d: validate on the shipped plugin: %v", i, err)
		}
	}
}

// TestCLI: trellis plugin build, upload, list and delete against a cluster.
func TestCLI(t *testing.T) {
	c := start(t, 3, nil)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(trellisBin, args...)
		cmd.Env = append(os.Environ(), "XDG_CONFIG_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("trellis %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	client := func(i int, args ...string) string {
		t.Helper()
		return run(append(args, "--endpoint", c.tc.URL(i, ""), "--token", c.token)...)
	}
	built := filepath.Join(t.TempDir(), "eq.wasm")
	run("plugin", "build", "../../sdk/plugintest/testdata/equals", "-o", built)
	out := client(1, "plugin", "upload", built)
	if !strings.Contains(out, "uploaded equals 1.0.0") {
		t.Fatalf("upload printed %q", out)
	}
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 30*time.Second, "CLI lists the upload", func() bool {
			out := client(i, "plugin", "list")
			return strings.Contains(out, "equals") && strings.Contains(out, "uploaded") && strings.Contains(out, "loaded")
		})
	}
	out = client(3, "plugin", "delete", "equals")
	if !strings.Contains(out, "deleted equals") {
		t.Fatalf("delete printed %q", out)
	}
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 30*time.Second, "CLI no longer lists it", func() bool {
			return !strings.Contains(client(i, "plugin", "list"), "equals")
		})
	}
	cmd := exec.Command(trellisBin, "plugin", "delete", "equals", "--endpoint", c.tc.URL(1, ""), "--token", c.token)
	out2, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out2), "404") {
		t.Fatalf("delete of an unknown plugin: %v %s", err, out2)
	}
}
