package plugins

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/node"
	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/test/internal/testnode"
)

// TestManifestsFromConfig: plugins.manifests.<name> is what a plugin runs
// with, a pinned digest refuses another module, and a plugin without an
// entry gets the deny-by-default manifest.
func TestManifestsFromConfig(t *testing.T) {
	sum := sha256.Sum256(readWasm(t, "equals2"))
	pinned := hex.EncodeToString(sum[:])
	c := start(t, 1, func(_ int, dir string) {
		copyWasm(t, "equals", filepath.Join(dir, "equals.wasm"))
		copyWasm(t, "equals", filepath.Join(dir, "pinned.wasm"))
		copyWasm(t, "equals", filepath.Join(dir, "plain.wasm"))
	}, func(cfg *config.Config) {
		cfg.Plugins.Manifests = map[string]map[string]any{
			"equals": {
				"call_timeout":   "3s",
				"max_instances":  2,
				"warm_instances": "2",
				"allowed_hosts":  []any{"hooks.example.com"},
				"config":         map[string]any{"greeting": "hi"},
			},
			"pinned": {"sha256": pinned},
		}
	})
	p := c.tc.Node(1).Node.Plugins().Get("equals")
	if p == nil {
		t.Fatalf("equals not served: %+v", c.list(1))
	}
	m := p.Manifest()
	if m.CallTimeout != 3*time.Second || m.MaxInstances != 2 || m.WarmInstances != 2 ||
		len(m.AllowedHosts) != 1 || m.AllowedHosts[0] != "hooks.example.com" || m.Config["greeting"] != "hi" {
		t.Fatalf("equals runs with %+v, want the configured manifest", m)
	}
	if st := p.Stats(); st.Live != 2 {
		t.Fatalf("equals has %d live instances, want the 2 warm_instances", st.Live)
	}
	if err := c.validate(1, "equals"); err != nil {
		t.Fatal(err)
	}
	r, _ := c.row(1, "pinned")
	if r.Status != "error" || !strings.Contains(r.Error, "does not match the manifest") {
		t.Fatalf("pinned row %+v, want refused for its digest", r)
	}
	plain := c.tc.Node(1).Node.Plugins().Get("plain")
	if plain == nil {
		t.Fatal("plain not served")
	}
	if pm := plain.Manifest(); pm.CallTimeout != plugin.DefaultCallTimeout || len(pm.AllowedHosts) != 0 || len(pm.Config) != 0 {
		t.Fatalf("plain runs with %+v, want the default manifest", pm)
	}
}

// TestBadManifestStopsStart: a manifest the host would refuse stops the
// node at start-up with the key at fault, before it binds a port.
func TestBadManifestStopsStart(t *testing.T) {
	for _, bad := range []struct {
		manifest map[string]any
		want     string
	}{
		{map[string]any{"memory_pages": 70000}, "memory_pages 70000 exceeds 65536"},
		{map[string]any{"allowed_hosts": []any{"http://x.example"}}, "not a URL"},
		{map[string]any{"allowed_paths": []any{"relative/dir"}}, "allowed_paths"},
		{map[string]any{"call_timeout": "soon"}, "plugins.manifests.json.call_timeout"},
		{map[string]any{"memory": 1}, "plugins.manifests.json.memory: unknown key"},
	} {
		cfg := config.Defaults()
		cfg.Node.DataDir = t.TempDir()
		cfg.Modules = map[string]config.ModuleConfig{} // this test binary registers none
		cfg.Plugins.Manifests = map[string]map[string]any{"json": bad.manifest}
		n := node.New(&cfg, testnode.Logger())
		err := n.Start(context.Background())
		if err == nil {
			n.Stop(context.Background())
			t.Fatalf("%v: node started", bad.manifest)
		}
		if !strings.Contains(err.Error(), bad.want) || !strings.Contains(err.Error(), "plugins.manifests.json") {
			t.Errorf("%v: %v, want it to name plugins.manifests.json and %q", bad.manifest, err, bad.want)
		}
	}
}
