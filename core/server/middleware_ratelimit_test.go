package server

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"testing"

	"github.com/go-chi/chi/v5"
)

// A bucket that refills once in a quarter hour: after the burst every
// request is over the limit however slow the test machine is.
const slowRate = 1.0 / 900

func TestRateLimitPerFamily(t *testing.T) {
	const burst = 4
	s, _ := testServer(t, Options{RateLimit: slowRate, RateBurst: burst}, func(r chi.Router) {
		ok := func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") }
		r.Get("/api/kv/thing", ok)
		r.Post("/api/cluster/thing", ok)
	})
	// The burst is shared by the node, whichever family spends it.
	okCount, limited := 0, 0
	for i := 0; i < 2*burst; i++ {
		status, _, _ := do(t, nil, http.MethodGet, s.URL()+"/api/kv/thing", nil)
		switch status {
		case http.StatusOK:
			okCount++
		case http.StatusTooManyRequests:
			limited++
		default:
			t.Fatalf("request %d: status %d", i, status)
		}
	}
	if okCount != burst || limited != burst {
		t.Fatalf("%d ok and %d refused, want %d and %d", okCount, limited, burst, burst)
	}

	// etcdmonitor's format: {"error": ...}.
	status, hdr, body := do(t, nil, http.MethodGet, s.URL()+"/api/kv/thing", nil)
	var etcdErr struct{ Error string }
	if status != http.StatusTooManyRequests || json.Unmarshal([]byte(body), &etcdErr) != nil || etcdErr.Error == "" {
		t.Fatalf("etcdmonitor 429: %d %q", status, body)
	}
	checkRetryAfter(t, hdr)

	// RobustMQ's envelope: {"code":100,"data":"","error":...}.
	status, hdr, body = do(t, nil, http.MethodPost, s.URL()+"/api/cluster/thing", nil)
	var env struct {
		Code  int     `json:"code"`
		Data  string  `json:"data"`
		Error *string `json:"error"`
	}
	if status != http.StatusTooManyRequests || json.Unmarshal([]byte(body), &env) != nil || env.Code != 100 || env.Error == nil || *env.Error == "" {
		t.Fatalf("robustmq 429: %d %q", status, body)
	}
	checkRetryAfter(t, hdr)

	// Consul's plain text, for good measure.
	status, hdr, body = do(t, nil, http.MethodGet, s.URL()+"/v1/operator/raft/configuration", nil)
	if status != http.StatusTooManyRequests || body == "" || body[0] == '{' {
		t.Fatalf("consul 429: %d %q", status, body)
	}
	checkRetryAfter(t, hdr)
}

func checkRetryAfter(t *testing.T, hdr http.Header) {
	t.Helper()
	secs, err := strconv.Atoi(hdr.Get("Retry-After"))
	if err != nil || secs < 1 {
		t.Fatalf("Retry-After = %q, want whole seconds >= 1", hdr.Get("Retry-After"))
	}
}

func TestRateLimitExemptsHealth(t *testing.T) {
	s, _ := testServer(t, Options{RateLimit: slowRate, RateBurst: 1}, nil)
	if status, _, _ := get(t, s.URL()+"/metrics"); status != http.StatusOK {
		t.Fatalf("first request: %d", status)
	}
	if status, _, _ := get(t, s.URL()+"/metrics"); status != http.StatusTooManyRequests {
		t.Fatalf("second request: %d, want 429", status)
	}
	for _, p := range []string{"/admin/health", "/health/ready", "/health/node", "/health/cluster",
		"/cluster/healthy", "/api/v2/health", "/api/v2/health/"} {
		for i := 0; i < 3; i++ {
			if status, _, body := get(t, s.URL()+p); status != http.StatusOK {
				t.Fatalf("%s while over the limit: %d %q", p, status, body)
			}
		}
	}
}

func TestRateLimitOff(t *testing.T) {
	s, _ := testServer(t, Options{}, func(r chi.Router) {
		r.Get("/api/kv/thing", func(w http.ResponseWriter, _ *http.Request) {})
	})
	for i := 0; i < 50; i++ {
		if status, _, _ := get(t, s.URL()+"/api/kv/thing"); status != http.StatusOK {
			t.Fatalf("request %d without a limit: %d", i, status)
		}
	}
}

func TestOptionsMiddlewareSeesEveryRoute(t *testing.T) {
	seen := make(chan string, 4)
	mw := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r)
			seen <- r.Method + " " + routePattern(r)
		})
	}
	s, _ := testServer(t, Options{Middleware: []func(http.Handler) http.Handler{mw}}, func(r chi.Router) {
		r.Route("/api/auth", func(r chi.Router) {
			r.Post("/login", func(w http.ResponseWriter, _ *http.Request) {})
		})
	})
	do(t, nil, http.MethodPost, s.URL()+"/api/auth/login", nil)
	if got := <-seen; got != "POST /api/auth/login" {
		t.Fatalf("middleware saw %q after routing", got)
	}
	get(t, s.URL()+"/admin/health")
	if got := <-seen; got != "GET /admin/health" {
		t.Fatalf("middleware saw %q after routing", got)
	}
}
