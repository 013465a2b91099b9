package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
)

// fakeHealth is the HealthSource boundary: each check fails with the error
// set for it. It records whether the checks got a deadline.
type fakeHealth struct {
	mu                   sync.Mutex
	ready, node, cluster error
	noDeadline           bool
}

func (f *fakeHealth) set(ready, node, cluster error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ready, f.node, f.cluster = ready, node, cluster
}

func (f *fakeHealth) get(ctx context.Context, which *error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := ctx.Deadline(); !ok || time.Until(d) > healthCheckTimeout {
		f.noDeadline = true
	}
	return *which
}

func (f *fakeHealth) Ready(ctx context.Context) error         { return f.get(ctx, &f.ready) }
func (f *fakeHealth) NodeHealth(ctx context.Context) error    { return f.get(ctx, &f.node) }
func (f *fakeHealth) ClusterHealth(ctx context.Context) error { return f.get(ctx, &f.cluster) }

// logBuffer collects log output written by server goroutines.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the JSON log lines containing every one of subs.
func (b *logBuffer) lines(subs ...string) []string {
	var out []string
	for _, l := range strings.Split(b.String(), "\n") {
		ok := l != ""
		for _, s := range subs {
			ok = ok && strings.Contains(l, s)
		}
		if ok {
			out = append(out, l)
		}
	}
	return out
}

// testServer starts a server on 127.0.0.1:0 with mount's routes and stops
// it when the test ends.
func testServer(t *testing.T, opts Options, mount func(r chi.Router)) (*Server, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s := New(opts)
	if mount != nil {
		mount(s.Router())
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, logs
}

// do sends a request and returns status, headers and body.
func do(t *testing.T, c *http.Client, method, url string, body io.Reader, hdr ...string) (int, http.Header, string) {
	t.Helper()
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, url, err)
	}
	return resp.StatusCode, resp.Header, string(b)
}

func get(t *testing.T, url string) (int, http.Header, string) {
	t.Helper()
	return do(t, nil, http.MethodGet, url, nil)
}

var errTest = errors.New("no leader")
