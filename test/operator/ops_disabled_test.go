package operatortest

import (
	"net/http"
	"testing"

	"github.com/trellis-cp/trellis/config"
)

// TestOpsDisabled checks that with ops off (modules.operator.ops_enabled:
// false) or the whole module off, every /api/ops/* route answers
// etcdmonitor's 403 and /api/auth/status says ops_enabled: false; with
// them on it says true.
func TestOpsDisabled(t *testing.T) {
	routes := []struct{ method, path string }{
		{http.MethodPost, "/api/ops/defragment"},
		{http.MethodGet, "/api/ops/snapshot"},
		{http.MethodGet, "/api/ops/alarms"},
		{http.MethodPost, "/api/ops/alarms/disarm"},
		{http.MethodPost, "/api/ops/move-leader"},
		{http.MethodPost, "/api/ops/hashkv"},
		{http.MethodGet, "/api/ops/hashkv/member?revision=1"},
		{http.MethodPost, "/api/ops/compact"},
		{http.MethodGet, "/api/ops/compact/revision"},
		{http.MethodGet, "/api/ops/audit-logs"},
	}
	status := func(c *opsCluster) any {
		r := c.do(1, http.MethodGet, "/api/auth/status", "", nil)
		if r.status != http.StatusOK {
			t.Fatalf("status: %s", r)
		}
		return r.json(t)["ops_enabled"]
	}
	for _, tc := range []struct {
		name string
		opts config.ModuleConfig
	}{
		{"OpsOff", config.ModuleConfig{Enabled: true, Options: map[string]any{"ops_enabled": false}}},
		{"ModuleOff", config.ModuleConfig{Enabled: false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := startOpsCluster(t, 1, func(cfg *config.Config) { cfg.Modules["operator"] = tc.opts })
			for _, rt := range routes {
				r := c.do(1, rt.method, rt.path, c.admin, `{"member_id":"1"}`)
				if m := opsWantError(t, r, http.StatusForbidden); m["error"] != "ops panel is disabled" {
					t.Fatalf("%s %s: %s", rt.method, rt.path, r)
				}
			}
			if got := status(c); got != false {
				t.Fatalf("ops_enabled = %v, want false", got)
			}
		})
	}
	t.Run("OpsOn", func(t *testing.T) {
		c := startOpsCluster(t, 1)
		if got := status(c); got != true {
			t.Fatalf("ops_enabled = %v, want true", got)
		}
		if r := c.do(1, http.MethodGet, "/api/ops/compact/revision", c.admin, nil); r.status != http.StatusOK {
			t.Fatalf("compact/revision with ops on: %s", r)
		}
	})
}
