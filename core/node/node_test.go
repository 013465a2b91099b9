package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/config"
	"github.com/trellis-cp/trellis/core/module"
	"github.com/trellis-cp/trellis/internal/testutil"
)

// Test modules, registered once for this package's tests.
func init() {
	module.Register(module.Info{Name: "pinger", New: func() module.Module { return &pinger{} }, DefaultEnabled: true})
	module.Register(module.Info{Name: "broken", New: func() module.Module { return &broken{} }})
	module.Register(module.Info{Name: "tuned", New: func() module.Module { return &tuned{} }})
}

type pinger struct{}

func (pinger) Routes(r chi.Router) {
	r.Get("/api/kv/ping", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "pong") })
}

type broken struct{}

func (broken) Routes(chi.Router)           {}
func (broken) Start(context.Context) error { return errors.New("cannot reach its backend") }

type tunedOptions struct {
	Workers int           `koanf:"workers"`
	Period  time.Duration `koanf:"period"`
}

type tuned struct{ opts tunedOptions }

func (t *tuned) Defaults() any     { t.opts = tunedOptions{Workers: 1}; return &t.opts }
func (t *tuned) Routes(chi.Router) {}

func testConfig(t *testing.T) *config.Config {
	cfg := config.Defaults()
	cfg.Node.DataDir = t.TempDir()
	cfg.HTTP.Addr = testutil.FreeAddr(t)
	cfg.Raft.Addr = testutil.FreeAddr(t)
	cfg.Raft.TickInterval = 20 * time.Millisecond
	cfg.Modules = map[string]config.ModuleConfig{}
	cfg.Auth.AdminPassword = testAdminPassword
	return &cfg
}

const testAdminPassword = "node-test-admin-pw"

// adminToken logs in as admin once the first-boot user exists.
func adminToken(t *testing.T, n *Node) string {
	t.Helper()
	var token string
	testutil.Eventually(t, 10*time.Second, "admin login", func() bool {
		res, err := n.Auth().Login(context.Background(), "admin", testAdminPassword, "test")
		if err != nil {
			return false
		}
		token = res.Token
		return true
	})
	return token
}

func startNode(t *testing.T, cfg *config.Config) *Node {
	t.Helper()
	n := startNodeNoWait(t, cfg)
	testutil.Eventually(t, 10*time.Second, "leader", func() bool { return n.Store().Raft().Leader() != 0 })
	return n
}

func startNodeNoWait(t *testing.T, cfg *config.Config) *Node {
	t.Helper()
	n := New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := n.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { n.Stop(context.Background()) })
	return n
}

func httpGet(t *testing.T, url string, token ...string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for _, tok := range token {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestEnabledAndDisabledModules(t *testing.T) {
	cfg := testConfig(t)
	n := startNode(t, cfg)
	if code, body := httpGet(t, "http://"+n.HTTPAddr()+"/api/kv/ping"); code != http.StatusUnauthorized || !strings.Contains(body, `"error"`) {
		t.Fatalf("module route without a session: %d %q, want 401 in etcdmonitor's format", code, body)
	}
	if code, body := httpGet(t, "http://"+n.HTTPAddr()+"/api/kv/ping", adminToken(t, n)); code != 200 || body != "pong" {
		t.Fatalf("enabled module: %d %q", code, body)
	}
	n.Stop(context.Background())

	cfg = testConfig(t)
	cfg.Modules["pinger"] = config.ModuleConfig{Enabled: false}
	n = startNode(t, cfg)
	code, body := httpGet(t, "http://"+n.HTTPAddr()+"/api/kv/ping")
	if code != http.StatusNotFound || !strings.Contains(body, `"error"`) {
		t.Fatalf("disabled module route: %d %q (want 404 in etcdmonitor's format)", code, body)
	}
}

func TestModuleStartFailureStopsNode(t *testing.T) {
	cfg := testConfig(t)
	cfg.Modules["broken"] = config.ModuleConfig{Enabled: true}
	n := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	err := n.Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "module broken failed to start") || !strings.Contains(err.Error(), "cannot reach its backend") {
		t.Fatalf("start with a failing module: %v", err)
	}
	// The node let go of its ports and data dir: another node can start.
	n2 := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	cfg.Modules["broken"] = config.ModuleConfig{Enabled: false}
	if err := n2.Start(context.Background()); err != nil {
		t.Fatalf("restart after failure: %v", err)
	}
	n2.Stop(context.Background())
}

func TestModuleOptions(t *testing.T) {
	cfg := testConfig(t)
	cfg.Modules["tuned"] = config.ModuleConfig{Enabled: true, Options: map[string]any{"workers": 4, "period": "2s"}}
	startNode(t, cfg).Stop(context.Background())

	cfg = testConfig(t)
	cfg.Modules["tuned"] = config.ModuleConfig{Enabled: true, Options: map[string]any{"wrokers": 4}}
	err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "modules.tuned.wrokers") {
		t.Fatalf("unknown module option: %v", err)
	}
	cfg = testConfig(t)
	cfg.Modules["nosuch"] = config.ModuleConfig{Enabled: true}
	err = New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil))).Start(context.Background())
	if err == nil || !strings.Contains(err.Error(), "modules.nosuch") {
		t.Fatalf("unknown module: %v", err)
	}
}

func TestHealthAndMetricsOnARealNode(t *testing.T) {
	n := startNode(t, testConfig(t))
	base := "http://" + n.HTTPAddr()
	testutil.Eventually(t, 10*time.Second, "ready", func() bool {
		code, _ := httpGet(t, base+"/health/ready")
		return code == 200
	})
	for path, want := range map[string]string{
		"/admin/health":              "OK",
		"/health/node":               `"status":"ok"`,
		"/health/cluster":            `"check_type":"cluster"`,
		"/cluster/healthy":           `"data":true`,
		"/api/v2/health/":            `{}`,
		"/api/v2/health/?ready=true": `{}`,
	} {
		code, body := httpGet(t, base+path)
		if code != 200 || !strings.Contains(body, want) {
			t.Fatalf("%s: %d %q, want 200 with %q", path, code, body, want)
		}
	}
	if code, _ := httpGet(t, base+"/metrics"); code != http.StatusUnauthorized {
		t.Fatalf("/metrics without a session: %d, want 401", code)
	}
	_, metrics := httpGet(t, base+"/metrics", adminToken(t, n))
	for _, name := range []string{
		"trellis_raft_term", "trellis_raft_leader_changes_total", "trellis_raft_proposals_committed_total",
		"trellis_raft_proposals_failed_total", "trellis_raft_apply_lag_entries", "trellis_storage_fsyncs_total",
		"trellis_storage_fsync_seconds_total", "trellis_storage_state_bytes", "trellis_http_requests_total",
		"trellis_http_request_duration_seconds",
	} {
		if !strings.Contains(metrics, name) {
			t.Errorf("/metrics lacks %s", name)
		}
	}
}
