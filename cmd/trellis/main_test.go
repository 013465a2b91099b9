package main

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildBinary builds the real trellis binary once for this package's tests.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "trellis")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestConfigErrorsStopStartup runs the binary with bad configuration: each
// case must exit non-zero with one line on stderr that names the key or file.
func TestConfigErrorsStopStartup(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	cases := []struct {
		name string
		args []string
		env  []string
		want string
	}{
		{"unknown key in file", []string{"--config", write("unknown.yaml", "http:\n  adr: 127.0.0.1:1\n")}, nil, "http.adr"},
		{"wrong type", []string{"--config", write("type.yaml", "raft:\n  snapshot_count: lots\n")}, nil, "raft.snapshot_count"},
		{"bad address flag", []string{"--http-addr", "localhost"}, nil, "http.addr"},
		{"missing file", []string{"--config", filepath.Join(dir, "nope.yaml")}, nil, "nope.yaml"},
		{"unknown env", nil, []string{"TRELLIS_HTTP_ADR=127.0.0.1:1"}, "TRELLIS_HTTP_ADR"},
		{"unknown module", []string{"--config", write("mod.yaml", "modules:\n  nosuch:\n    enabled: true\n")}, nil, "modules.nosuch"},
		{"bad extension", []string{"--config", write("conf.ini", "x=1\n")}, nil, "conf.ini"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"serve", "--data-dir", filepath.Join(dir, "data-"+strings.ReplaceAll(tc.name, " ", "-"))}, tc.args...)
			cmd := exec.Command(bin, args...)
			cmd.Env = append(os.Environ(), tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			err := cmd.Run()
			if err == nil {
				t.Fatalf("started despite bad config; stderr:\n%s", stderr.String())
			}
			msg := strings.TrimRight(stderr.String(), "\n")
			if strings.Count(msg, "\n") != 0 {
				t.Fatalf("want one line, got:\n%s", msg)
			}
			if !strings.Contains(msg, tc.want) {
				t.Fatalf("error %q does not name %q", msg, tc.want)
			}
		})
	}
}

// TestPortInUseStopsStartup checks a taken HTTP port is one clear line.
func TestPortInUseStopsStartup(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	ln, err := netListen()
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cmd := exec.Command(bin, "serve", "--data-dir", filepath.Join(dir, "b"), "--http-addr", ln.Addr().String(), "--raft-addr", "127.0.0.1:0")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("started on a port in use")
	}
	msg := strings.TrimSpace(stderr.String())
	if strings.Contains(msg, "\n") || !strings.Contains(msg, ln.Addr().String()) || !strings.Contains(msg, "in use") {
		t.Fatalf("want one line naming the address in use, got:\n%s", msg)
	}
}

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
