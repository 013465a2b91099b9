package plugins

import (
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// TestPluginsBadInput: with an uploaded plugin (equals) and a file plugin
// (json, in plugins.dir) in place, uploads that are not a module, are cut
// short, say the wrong content type or are too large, and deletes of
// names that are unknown, invalid or not uploaded, each answer a 4xx in
// RobustMQ's envelope; afterwards every node lists the same plugins (same
// sources, digests and status) and the store holds the same keys.
func TestPluginsBadInput(t *testing.T) {
	const limit = 4 << 20
	c := start(t, 2, func(_ int, dir string) { copyWasm(t, "json", filepath.Join(dir, "json.wasm")) },
		func(cfg *config.Config) { cfg.Plugins.MaxModuleBytes = limit })
	equals := readWasm(t, "equals")
	if status, body := c.do(1, http.MethodPost, "/api/plugins", "application/wasm", equals); status != http.StatusOK {
		t.Fatalf("upload equals: %d %s", status, body)
	}
	rows := func(i int) string {
		var b strings.Builder
		for _, r := range c.list(i) {
			fmt.Fprintf(&b, "%s %s %s %s %s %q\n", r.Name, r.Source, r.Status, r.Version, r.SHA256, r.Error)
		}
		return b.String()
	}
	for i := 1; i <= 2; i++ {
		testnode.Eventually(t, 30*time.Second, "every node loads the upload", func() bool {
			r, _ := c.row(i, "equals")
			return r.Source == "uploaded" && r.Status == "loaded"
		})
	}
	before, stored := rows(1), c.stored(1)
	if rows(2) != before {
		t.Fatalf("nodes disagree before the test:\n%s\n%s", before, rows(2))
	}

	for _, k := range []struct {
		name, method, path, ct string
		body                   []byte
		status                 int
		want                   string
	}{
		// Uploads: the body is the raw module, not JSON.
		{"upload garbage", "POST", "/api/plugins", "application/wasm", []byte("{\"name\":\"equals\"}"), 400, "not a valid WebAssembly"},
		{"upload truncated module", "POST", "/api/plugins", "application/wasm", equals[:len(equals)/2], 400, "WebAssembly"},
		{"upload magic only", "POST", "/api/plugins", "application/octet-stream", []byte("\x00asm"), 400, "WebAssembly"},
		{"upload empty", "POST", "/api/plugins", "application/wasm", nil, 400, "empty"},
		{"upload as text", "POST", "/api/plugins", "text/plain", equals, 415, "content type"},
		{"upload as JSON", "POST", "/api/plugins", "application/json", []byte(`{}`), 415, "content type"},
		{"upload malformed content type", "POST", "/api/plugins", "application/;;", equals, 415, "content type"},
		{"upload oversized", "POST", "/api/plugins", "application/wasm", make([]byte, limit+1), 413, "too large"},
		// Deletes: the name is in the path; there is no body.
		{"delete unknown", "DELETE", "/api/plugins/nope", "", nil, 404, `plugin "nope" not found`},
		{"delete a file plugin", "DELETE", "/api/plugins/json", "", nil, 409, "not uploaded"},
		{"delete a path", "DELETE", "/api/plugins/" + url.PathEscape("../equals"), "", nil, 404, "not found"},
		{"delete a long name", "DELETE", "/api/plugins/" + strings.Repeat("e", 300), "", nil, 404, "not found"},
		{"delete another case", "DELETE", "/api/plugins/EQUALS", "", nil, 404, "not found"},
	} {
		t.Run(k.name, func(t *testing.T) {
			for i := 1; i <= 2; i++ {
				status, body := c.do(i, k.method, k.path, k.ct, k.body)
				wantError(t, status, body, k.status, k.want)
			}
		})
	}

	// The upload still serves, nothing was added or removed.
	for i := 1; i <= 2; i++ {
		if got := rows(i); got != before {
			t.Fatalf("node %d lists\n%s\nafter refused requests, was\n%s", i, got, before)
		}
		if n := c.stored(i); n != stored {
			t.Fatalf("node %d stores %d plugin keys after refused requests, was %d", i, n, stored)
		}
		if err := c.validate(i, "equals"); err != nil {
			t.Fatalf("node %d: equals after refused requests: %v", i, err)
		}
	}
}
