package plugin_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/sdk/plugintest"
)

// probe runs commands in the probe plugin and returns each verdict's
// message ("ok ...", "err ...", "denied ...").
func probe(t *testing.T, p *plugin.Plugin, cmds ...string) []string {
	t.Helper()
	res, err := p.Validate(ctxT(t), []byte("probe"), payloads(len(cmds), func(i int) string { return cmds[i] }))
	if err != nil {
		t.Fatalf("probe %q: %v", cmds, err)
	}
	out := make([]string, len(res))
	for i, r := range res {
		out[i] = r.Message
	}
	return out
}

func probe1(t *testing.T, p *plugin.Plugin, cmd string) string {
	t.Helper()
	return probe(t, p, cmd)[0]
}

func expect(t *testing.T, got, prefix string, words ...string) {
	t.Helper()
	if !strings.HasPrefix(got, prefix) {
		t.Fatalf("got %q, want prefix %q", got, prefix)
	}
	for _, w := range words {
		if !strings.Contains(got, w) {
			t.Fatalf("got %q, want it to mention %q", got, w)
		}
	}
}

// logCapture is a host whose log lines the test can search.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(b)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func capturingHost(t *testing.T) (*plugin.Host, *logCapture, *prometheus.Registry) {
	lc := &logCapture{}
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewTextHandler(io.MultiWriter(lc, testWriter{t}), &slog.HandlerOptions{Level: slog.LevelInfo}))
	return plugintest.NewHost(t, plugin.Options{Logger: logger, Metrics: reg}), lc, reg
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(b)))
	return len(b), nil
}

func TestConfigOnlyAsGranted(t *testing.T) {
	h, _ := testHost(t)
	p := load(t, h, "probe", plugin.Manifest{Config: map[string]string{"greeting": "hello", "long": strings.Repeat("z", 5000)}})
	got := probe(t, p, "config greeting", "config long", "config node.data_dir", "config ")
	expect(t, got[0], "ok hello")
	expect(t, got[1], "ok "+strings.Repeat("z", 5000)) // past the SDK's first 256-byte buffer: the retry path
	expect(t, got[2], "err ", "not granted")
	expect(t, got[3], "err ", "not granted")

	bare := load(t, h, "probe", plugin.Manifest{})
	expect(t, probe1(t, bare, "config greeting"), "err ", "not granted")
}

func TestHTTPAllowedAndDenied(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	allowed := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.Path+" "+r.Header.Get("X-Probe")+" "+string(b))
		mu.Unlock()
		w.Write([]byte("hello from " + r.URL.Path))
	}))
	defer allowed.Close()
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, "OTHER "+r.URL.Path)
		mu.Unlock()
		w.Write([]byte("should not be reached"))
	}))
	defer other.Close()
	redirector := http.NewServeMux()
	redirector.HandleFunc("/to-other", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/secret", http.StatusFound)
	})
	redirector.HandleFunc("/to-allowed", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, allowed.URL+"/landed", http.StatusFound)
	})
	redir := httptest.NewServer(redirector)
	defer redir.Close()

	h, logs, reg := capturingHost(t)
	port := func(s *httptest.Server) string { return s.Listener.Addr().(*net.TCPAddr).AddrPort().String() }
	p := load(t, h, "probe", plugin.Manifest{AllowedHosts: []string{port(allowed), port(redir)}})

	expect(t, probe1(t, p, "http POST "+allowed.URL+"/x"), "ok 200 hello from /x")
	mu.Lock()
	if len(seen) != 1 || seen[0] != "POST /x 1 body-from-plugin" {
		t.Fatalf("server saw %q", seen)
	}
	mu.Unlock()

	expect(t, probe1(t, p, "http GET "+other.URL+"/direct"), "denied ", "not in allowed_hosts")
	expect(t, probe1(t, p, "http GET "+redir.URL+"/to-other"), "denied ", "redirect", "/secret")
	expect(t, probe1(t, p, "http GET "+redir.URL+"/to-allowed"), "ok 200 hello from /landed")
	expect(t, probe1(t, p, "http GET file:///etc/passwd"), "err ")
	mu.Lock()
	for _, s := range seen {
		if strings.HasPrefix(s, "OTHER") {
			t.Fatalf("a denied host was reached: %q", seen)
		}
	}
	mu.Unlock()
	if n := strings.Count(logs.String(), "plugin access denied"); n != 2 {
		t.Fatalf("%d denial log lines, want 2:\n%s", n, logs)
	}
	if !strings.Contains(logs.String(), "plugin=probe") || !strings.Contains(logs.String(), "module=plugin") {
		t.Fatalf("denial lines lack module/plugin attributes:\n%s", logs)
	}
	if got := counterValue(t, reg, "trellis_plugin_denied_total", map[string]string{"plugin": "probe", "op": "http"}); got != 2 {
		t.Fatalf("denied_total = %v", got)
	}

	none := load(t, h, "probe", plugin.Manifest{})
	expect(t, probe1(t, none, "http GET "+allowed.URL+"/x"), "denied ")
}

func counterValue(t *testing.T, reg *prometheus.Registry, family string, want map[string]string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != family {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if labels[k] != v {
					continue next
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}

func TestTCPAllowedAndDenied(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64)
				n, _ := c.Read(buf)
				c.Write(append([]byte("echo:"), buf[:n]...))
			}()
		}
	}()
	addr := ln.Addr().String()
	h, _ := testHost(t)
	p := load(t, h, "probe", plugin.Manifest{AllowedHosts: []string{"127.0.0.1:" + strings.Split(addr, ":")[1]}})
	expect(t, probe1(t, p, "tcp "+addr+" ping"), "ok echo:ping")
	expect(t, probe1(t, p, "tcp 127.0.0.1:1 ping"), "denied ", "not in allowed_hosts")

	wild := load(t, h, "probe", plugin.Manifest{AllowedHosts: []string{"127.0.0.*"}})
	expect(t, probe1(t, wild, "tcp "+addr+" hi"), "ok echo:hi")
	expect(t, probe1(t, wild, "tcp localhost:"+strings.Split(addr, ":")[1]+" hi"), "denied ")
}

func TestFilesUnderAllowedPaths(t *testing.T) {
	root := t.TempDir()
	ro := filepath.Join(root, "in")
	rw := filepath.Join(root, "out")
	outside := filepath.Join(root, "secret")
	for _, d := range []string{ro, rw, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(ro, "a.txt"), []byte("alpha"), 0o644)
	os.WriteFile(filepath.Join(outside, "s.txt"), []byte("secret"), 0o644)
	if err := os.Symlink(outside, filepath.Join(ro, "escape")); err != nil {
		t.Fatal(err)
	}

	h, logs, _ := capturingHost(t)
	p := load(t, h, "probe", plugin.Manifest{AllowedPaths: []string{"ro:" + ro, "rw:" + rw}})
	got := probe(t, p,
		"read "+filepath.Join(ro, "a.txt"),
		"read "+filepath.Join(outside, "s.txt"),
		"read "+ro+"/../secret/s.txt",
		"read "+filepath.Join(ro, "escape", "s.txt"),
		"write "+filepath.Join(ro, "b.txt")+" nope",
		"write "+filepath.Join(rw, "c.txt")+" gamma",
		"read "+filepath.Join(rw, "c.txt"),
		"read "+filepath.Join(ro, "missing.txt"),
		"read relative.txt",
		"osopen "+filepath.Join(ro, "a.txt"),
	)
	expect(t, got[0], "ok alpha")
	expect(t, got[1], "denied ", "not under allowed_paths")
	expect(t, got[2], "denied ", "not under allowed_paths")
	expect(t, got[3], "denied ", "resolves outside")
	expect(t, got[4], "denied ", "read-only")
	expect(t, got[5], "ok written")
	expect(t, got[6], "ok gamma")
	expect(t, got[7], "err ", "no such file")
	expect(t, got[8], "err ", "absolute")
	expect(t, got[9], "err ") // WASI mounts nothing: os.Open never reaches the disk
	if b, err := os.ReadFile(filepath.Join(rw, "c.txt")); err != nil || string(b) != "gamma" {
		t.Fatalf("file written by the plugin: %q, %v", b, err)
	}
	if _, err := os.Stat(filepath.Join(ro, "b.txt")); !os.IsNotExist(err) {
		t.Fatalf("a read-only grant was written: %v", err)
	}
	if n := strings.Count(logs.String(), "plugin access denied"); n != 4 {
		t.Fatalf("%d denial lines, want 4:\n%s", n, logs)
	}
}

func TestLogsAndMetrics(t *testing.T) {
	h, logs, reg := capturingHost(t)
	p := load(t, h, "probe", plugin.Manifest{})
	// The host logs at info: the plugin's level check says debug is off.
	expect(t, probe1(t, p, "log hello from the plugin"), "ok false")
	if !strings.Contains(logs.String(), `msg="hello from the plugin"`) || !strings.Contains(logs.String(), "k=v") {
		t.Fatalf("plugin log line missing:\n%s", logs)
	}
	expect(t, probe1(t, p, "counter widgets"), "ok counted")
	expect(t, probe1(t, p, "counter Bad-Name"), "err ", "metric name")
	if v := guestMetric(t, reg, "trellis_plugin_guest_counter_total", "probe", "widgets"); v != 2 {
		t.Fatalf("guest counter = %v", v)
	}
	expect(t, probe1(t, p, "print to stderr"), "ok printed")
	if !strings.Contains(logs.String(), "stream=stderr") {
		t.Fatalf("stderr line missing:\n%s", logs)
	}
	now := probe1(t, p, "clock")
	expect(t, now, "ok 1")
}
