package plugins

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// TestShippedAndDirAtStart: shipped plugins and plugins.dir load at start;
// a bad file is listed with its error while the node serves.
func TestShippedAndDirAtStart(t *testing.T) {
	shipped := t.TempDir()
	copyWasm(t, "json", filepath.Join(shipped, "json.wasm"))
	t.Setenv(node.EnvShippedPlugins, shipped)
	c := start(t, 1, func(_ int, dir string) {
		copyWasm(t, "equals", filepath.Join(dir, "equals.wasm"))
		if err := os.WriteFile(filepath.Join(dir, "broken.wasm"), []byte("not webassembly"), 0o644); err != nil {
			t.Fatal(err)
		}
	})
	rows := c.list(1)
	if len(rows) != 3 {
		t.Fatalf("rows %+v, want broken, equals, json", rows)
	}
	byName := map[string]node.PluginRow{}
	for _, r := range rows {
		byName[r.Name] = r
	}
	js := byName["json"]
	if js.Source != "shipped" || js.Status != "loaded" || js.Kind != "validator" || js.ABIVersion != 1 ||
		len(js.SHA256) != 64 || js.Size == 0 || js.Version == "" {
		t.Fatalf("json row %+v", js)
	}
	if eq := byName["equals"]; eq.Source != "dir" || eq.Status != "loaded" {
		t.Fatalf("equals row %+v", eq)
	}
	if br := byName["broken"]; br.Source != "dir" || br.Status != "error" || br.Error == "" {
		t.Fatalf("broken row %+v", br)
	}
	if err := c.validate(1, "equals"); err != nil {
		t.Fatal(err)
	}
	status, body := c.do(1, http.MethodGet, "/api/plugins/json", "", nil)
	if status != http.StatusOK {
		t.Fatalf("get json: %d %s", status, body)
	}
	status, body = c.do(1, http.MethodGet, "/api/plugins/nope", "", nil)
	wantError(t, status, body, http.StatusNotFound, "not found")
	// File plugins are not deleted through the API.
	status, body = c.do(1, http.MethodDelete, "/api/plugins/json", "", nil)
	wantError(t, status, body, http.StatusConflict, "not uploaded")
	status, body = c.do(1, http.MethodDelete, "/api/plugins/nope", "", nil)
	wantError(t, status, body, http.StatusNotFound, "not found")
}

// TestDirWatch: files added, replaced and removed while the node runs.
func TestDirWatch(t *testing.T) {
	c := start(t, 1, nil)
	dir := c.dirs[0]
	path := filepath.Join(dir, "live.wasm")
	copyWasm(t, "equals", path)
	var first node.PluginRow
	testnode.Eventually(t, 30*time.Second, "live.wasm loaded", func() bool {
		r, ok := c.row(1, "live")
		first = r
		return ok && r.Status == "loaded"
	})
	if err := c.validate(1, "live"); err != nil {
		t.Fatal(err)
	}
	copyWasm(t, "equals2", path)
	var second node.PluginRow
	testnode.Eventually(t, 30*time.Second, "live.wasm replaced", func() bool {
		r, ok := c.row(1, "live")
		second = r
		return ok && r.Status == "loaded" && r.SHA256 != first.SHA256 && r.Version == "2.0.0"
	})
	// A bad replacement is listed with its error while the previous
	// version keeps serving.
	if err := os.WriteFile(path, []byte("\x00asm\x01\x00\x00\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	testnode.Eventually(t, 30*time.Second, "bad live.wasm listed with its error", func() bool {
		r, ok := c.row(1, "live")
		return ok && r.Status == "loaded" && r.SHA256 == second.SHA256 &&
			strings.Contains(r.Error, "previous version keeps serving") && strings.Contains(r.Error, "ABI")
	})
	if p := c.tc.Node(1).Node.Plugins().Get("live"); p == nil || p.Digest() != second.SHA256 {
		t.Fatalf("after a bad replacement the registry serves %v, want version 2", p)
	}
	if err := c.validate(1, "live"); err != nil {
		t.Fatal(err)
	}
	copyWasm(t, "equals", path)
	testnode.Eventually(t, 30*time.Second, "fixed live.wasm loaded", func() bool {
		r, ok := c.row(1, "live")
		return ok && r.Status == "loaded" && r.SHA256 == first.SHA256 && r.Error == ""
	})
	if err := c.validate(1, "live"); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	testnode.Eventually(t, 30*time.Second, "live.wasm removed", func() bool {
		_, ok := c.row(1, "live")
		return !ok && c.tc.Node(1).Node.Plugins().Get("live") == nil
	})
}

// TestUploadReachesEveryNode: an upload on node 1 is listed and callable on
// all three nodes with the same digest; delete removes it everywhere; bad
// uploads are refused with nothing stored.
func TestUploadReachesEveryNode(t *testing.T) {
	c := start(t, 3, nil, func(cfg *config.Config) { cfg.Plugins.MaxModuleBytes = 4 << 20 })
	for _, bad := range []struct {
		name, ct string
		body     []byte
		status   int
		contains string
	}{
		{"garbage", "application/wasm", []byte("definitely not wasm"), http.StatusBadRequest, "not a valid WebAssembly"},
		{"empty module (no ABI exports)", "application/wasm", []byte("\x00asm\x01\x00\x00\x00"), http.StatusBadRequest, "ABI"},
		{"empty body", "application/wasm", nil, http.StatusBadRequest, "empty"},
		{"json body", "application/json", []byte(`{}`), http.StatusUnsupportedMediaType, "content type"},
		{"oversized", "application/octet-stream", make([]byte, 5<<20), http.StatusRequestEntityTooLarge, "limit is 4194304"},
	} {
		status, body := c.do(1, http.MethodPost, "/api/plugins", bad.ct, bad.body)
		t.Logf("%s: %d %s", bad.name, status, body)
		wantError(t, status, body, bad.status, bad.contains)
	}
	// Oversized without a Content-Length: cut while reading.
	req, err := http.NewRequest(http.MethodPost, c.tc.URL(1, "/api/plugins"), io.MultiReader(bytes.NewReader(make([]byte, 5<<20))))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	chunked, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	wantError(t, resp.StatusCode, chunked, http.StatusRequestEntityTooLarge, "plugins.max_module_bytes")
	if n := c.stored(1); n != 0 {
		t.Fatalf("refused uploads left %d keys", n)
	}

	status, body := c.do(1, http.MethodPost, "/api/plugins", "application/wasm", readWasm(t, "equals"))
	if status != http.StatusOK {
		t.Fatalf("upload: %d %s", status, body)
	}
	up, _ := c.row(1, "equals")
	if up.Source != "uploaded" || up.Status != "loaded" || len(up.SHA256) != 64 {
		t.Fatalf("uploaded row %+v", up)
	}
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 30*time.Second, "node lists the upload", func() bool {
			r, ok := c.row(i, "equals")
			return ok && r.Status == "loaded" && r.SHA256 == up.SHA256 && r.Source == "uploaded"
		})
		if err := c.validate(i, "equals"); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	// The same module again: accepted, nothing more stored.
	c.tc.WaitApplied()
	keys := c.stored(1)
	status, body = c.do(3, http.MethodPost, "/api/plugins", "application/wasm", readWasm(t, "equals"))
	if status != http.StatusOK {
		t.Fatalf("upload again: %d %s", status, body)
	}
	c.tc.WaitApplied()
	if n := c.stored(1); n != keys {
		t.Fatalf("%d keys after the same upload, had %d", n, keys)
	}
	// Version 2 under the same name replaces version 1 everywhere, and
	// version 1's chunks go.
	status, body = c.do(2, http.MethodPost, "/api/plugins", "application/wasm", readWasm(t, "equals2"))
	if status != http.StatusOK {
		t.Fatalf("upload v2: %d %s", status, body)
	}
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 30*time.Second, "node serves version 2", func() bool {
			r, ok := c.row(i, "equals")
			return ok && r.Status == "loaded" && r.Version == "2.0.0" && r.SHA256 != up.SHA256
		})
		if err := c.validate(i, "equals"); err != nil {
			t.Fatalf("node %d: %v", i, err)
		}
	}
	c.tc.WaitApplied()
	// The meta key and the new module's 512 KiB chunks.
	if n, want := c.stored(1), 1+(len(readWasm(t, "equals2"))+512<<10-1)/(512<<10); n != want {
		t.Fatalf("%d keys after replacing, want %d (meta and the new chunks)", n, want)
	}
	status, body = c.do(2, http.MethodDelete, "/api/plugins/equals", "", nil)
	if status != http.StatusOK {
		t.Fatalf("delete: %d %s", status, body)
	}
	for i := 1; i <= 3; i++ {
		testnode.Eventually(t, 30*time.Second, "node drops the upload", func() bool {
			_, ok := c.row(i, "equals")
			return !ok && c.tc.Node(i).Node.Plugins().Get("equals") == nil
		})
	}
	c.tc.WaitApplied()
	if n := c.stored(3); n != 0 {
		t.Fatalf("delete left %d keys", n)
	}
}

// TestHotReplaceUnderLoad: a dropped-in plugin replaced three times while
// four callers use it without pause: no call fails, and the callers see
// each version as it comes in.
func TestHotReplaceUnderLoad(t *testing.T) {
	c := start(t, 1, func(_ int, dir string) { copyWasm(t, "equals", filepath.Join(dir, "live.wasm")) })
	path := filepath.Join(c.dirs[0], "live.wasm")
	reg := c.tc.Node(1).Node.Plugins()
	if reg.Get("live") == nil {
		t.Fatal("live not loaded at start")
	}
	var (
		stop    atomic.Bool
		calls   atomic.Int64
		mu      sync.Mutex
		failed  []error
		digests = map[string]int{}
		wg      sync.WaitGroup
	)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				p, release, err := reg.Acquire("live")
				if err == nil {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					var res []plugin.Result
					res, err = p.Validate(ctx, []byte("x"), [][]byte{[]byte("x"), []byte("y")})
					cancel()
					if err == nil && (len(res) != 2 || !res[0].OK() || res[1].OK()) {
						err = fmt.Errorf("version %s answered %+v", p.Describe().Version, res)
					}
					mu.Lock()
					digests[p.Digest()]++
					mu.Unlock()
					release()
				}
				calls.Add(1)
				if err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			}
		}()
	}
	for i, next := range []string{"equals2", "equals", "equals2"} {
		before := calls.Load()
		copyWasm(t, next, path)
		sum := sha256.Sum256(readWasm(t, next))
		want := hex.EncodeToString(sum[:])
		testnode.Eventually(t, 30*time.Second, "replacement serves", func() bool {
			p := reg.Get("live")
			return p != nil && p.Digest() == want
		})
		// Let calls run on the new version too.
		testnode.Eventually(t, 30*time.Second, "calls on the new version", func() bool {
			return calls.Load() > before+50
		})
		t.Logf("swap %d to %s: %d calls so far", i+1, next, calls.Load())
	}
	stop.Store(true)
	wg.Wait()
	if len(failed) > 0 {
		t.Fatalf("%d of %d calls failed across the swaps; first: %v", len(failed), calls.Load(), failed[0])
	}
	if len(digests) != 2 {
		t.Fatalf("calls saw %d module versions, want 2: %v", len(digests), digests)
	}
	t.Logf("%d calls, none failed, versions %v", calls.Load(), digests)
}
