package server

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/httpx"
)

// familyPaths has one path per family, with the error body each family
// writes for msg.
var familyPaths = []struct {
	prefix, ctype string
	body          func(msg string) string
}{
	{"/api/kv", "application/json; charset=utf-8", func(m string) string { return fmt.Sprintf(`{"error":%q}`, m) }},
	{"/v1/operator", "text/plain; charset=utf-8", func(m string) string { return m }},
	{"/api/v2", "text/plain; charset=utf-8", func(m string) string { return m + "\n" }},
	{"/api/cluster", "application/json; charset=utf-8", func(m string) string { return fmt.Sprintf(`{"code":100,"data":"","error":%q}`, m) }},
	{"/admin", "text/plain; charset=utf-8", func(m string) string { return m }},
	{"/core", "application/json; charset=utf-8", func(m string) string { return fmt.Sprintf(`{"error":%q}`, m) }},
}

func TestRecoveryPerFamily(t *testing.T) {
	s, logs := testServer(t, Options{}, func(r chi.Router) {
		for _, f := range familyPaths {
			r.Get(f.prefix+"/panic", func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/event-stream") // must not leak into the 500
				panic("handler bug")
			})
		}
		r.Get("/core/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "fine") })
	})
	for _, f := range familyPaths {
		status, hdr, body := do(t, nil, http.MethodGet, s.URL()+f.prefix+"/panic", nil, HeaderRequestID, "req-"+f.prefix)
		if want := f.body("internal server error"); status != 500 || body != want || hdr.Get("Content-Type") != f.ctype {
			t.Errorf("%s/panic = %d %q %q, want 500 %q %q", f.prefix, status, hdr.Get("Content-Type"), body, f.ctype, want)
		}
		if hdr.Get(HeaderRequestID) != "req-"+f.prefix {
			t.Errorf("%s/panic lost the request id: %q", f.prefix, hdr.Get(HeaderRequestID))
		}
		// The panic is logged with stack and request id, and the access
		// log records the 500.
		if l := logs.lines(`"msg":"panic serving request"`, `"request_id":"req-`+f.prefix+`"`, `"panic":"handler bug"`, "middleware_test.go"); len(l) != 1 {
			t.Errorf("%s: want one panic log line with stack, got %d:\n%s", f.prefix, len(l), logs)
		}
		if l := logs.lines(`"msg":"request"`, `"status":500`, `"route":"`+f.prefix+`/panic"`, `"module":"http"`); len(l) != 1 {
			t.Errorf("%s: want one access line with status 500, got %d", f.prefix, len(l))
		}
	}
	// Still serving.
	if status, _, body := get(t, s.URL()+"/core/ok"); status != 200 || body != "fine" {
		t.Fatalf("after panics: %d %q", status, body)
	}
	// The panics were counted under their route.
	_, _, metrics := get(t, s.URL()+"/metrics")
	if want := `trellis_http_requests_total{code="500",method="GET",route="/api/kv/panic"} 1`; !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %q", want)
	}
}

// A panic after the header is sent cannot become a 500; the connection is
// cut so the client sees an incomplete response rather than a clean one.
func TestRecoveryAfterHeadersSent(t *testing.T) {
	s, _ := testServer(t, Options{}, func(r chi.Router) {
		r.Get("/api/kv/late", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", "100")
			w.WriteHeader(http.StatusOK)
			_, _ = io.WriteString(w, "partial")
			w.(http.Flusher).Flush()
			panic("late bug")
		})
		r.Get("/api/kv/abort", func(w http.ResponseWriter, r *http.Request) {
			panic(http.ErrAbortHandler)
		})
	})
	resp, err := http.Get(s.URL() + "/api/kv/late")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || err == nil || strings.Contains(string(body), "internal server error") {
		t.Fatalf("late panic: %d %q err=%v; want 200, truncated body, read error", resp.StatusCode, body, err)
	}
	if _, err := http.Get(s.URL() + "/api/kv/abort"); err == nil {
		t.Fatal("ErrAbortHandler: want the connection aborted")
	}
	if status, _, _ := get(t, s.URL()+"/admin/health"); status != 200 {
		t.Fatalf("after aborts: %d", status)
	}
}

func TestBodyLimit(t *testing.T) {
	s, _ := testServer(t, Options{MaxBodyBytes: 64}, func(r chi.Router) {
		for _, f := range familyPaths {
			r.Post(f.prefix+"/echo", func(w http.ResponseWriter, r *http.Request) {
				var v map[string]any
				switch err := httpx.DecodeJSON(w, r, &v); {
				case errors.Is(err, httpx.ErrTooLarge):
					httpx.Error(w, r, http.StatusRequestEntityTooLarge, "request body too large")
				case err != nil:
					httpx.Error(w, r, http.StatusBadRequest, err.Error())
				default:
					httpx.JSON(w, http.StatusOK, v)
				}
			})
		}
	})
	big := `{"k":"` + strings.Repeat("x", 100) + `"}`
	for _, f := range familyPaths {
		url := s.URL() + f.prefix + "/echo"
		// Declared length over the limit: refused before the handler.
		status, hdr, body := do(t, nil, http.MethodPost, url, strings.NewReader(big))
		if want := f.body("request body too large: 108 bytes, limit is 64"); status != 413 || body != want || hdr.Get("Content-Type") != f.ctype {
			t.Errorf("%s: %d %q %q, want 413 %q", f.prefix, status, hdr.Get("Content-Type"), body, want)
		}
		// Chunked (no length): cut by MaxBytesReader, mapped by the handler.
		status, _, body = do(t, nil, http.MethodPost, url, io.MultiReader(strings.NewReader(big)))
		if want := f.body("request body too large"); status != 413 || body != want {
			t.Errorf("%s chunked: %d %q, want 413 %q", f.prefix, status, body, want)
		}
		// Within the limit.
		if status, _, body = do(t, nil, http.MethodPost, url, strings.NewReader(`{"k":"v"}`)); status != 200 || body != `{"k":"v"}` {
			t.Errorf("%s small: %d %q", f.prefix, status, body)
		}
	}
}

// TestBodyLimitPerRoute: a route listed in BodyLimits gets its own cap,
// matched on method and exact path; every other route keeps the default.
func TestBodyLimitPerRoute(t *testing.T) {
	s, _ := testServer(t, Options{MaxBodyBytes: 64, BodyLimits: map[string]int64{"POST /api/big": 1000}},
		func(r chi.Router) {
			count := func(w http.ResponseWriter, r *http.Request) {
				n, err := io.Copy(io.Discard, r.Body)
				if err != nil {
					httpx.Error(w, r, http.StatusRequestEntityTooLarge, "request body too large")
					return
				}
				httpx.JSON(w, http.StatusOK, map[string]int64{"n": n})
			}
			r.Post("/api/big", count)
			r.Put("/api/big", count)
			r.Post("/api/big/sub", count)
		})
	body := strings.Repeat("x", 500)
	for _, c := range []struct {
		method, path string
		status       int
	}{
		{http.MethodPost, "/api/big", 200},
		{http.MethodPut, "/api/big", 413},      // another method: the default
		{http.MethodPost, "/api/big/sub", 413}, // not a prefix match
	} {
		status, _, got := do(t, nil, c.method, s.URL()+c.path, strings.NewReader(body))
		if status != c.status {
			t.Errorf("%s %s with 500 bytes = %d %s, want %d", c.method, c.path, status, got, c.status)
		}
	}
	// Over the route's own cap, declared and chunked.
	big := strings.Repeat("x", 1001)
	if status, _, got := do(t, nil, http.MethodPost, s.URL()+"/api/big", strings.NewReader(big)); status != 413 ||
		!strings.Contains(got, "limit is 1000") {
		t.Errorf("declared 1001 bytes = %d %s, want 413 naming the limit", status, got)
	}
	if status, _, _ := do(t, nil, http.MethodPost, s.URL()+"/api/big", io.MultiReader(strings.NewReader(big))); status != 413 {
		t.Errorf("chunked 1001 bytes = %d, want 413", status)
	}
}

func TestNotFoundAndMethodNotAllowedPerFamily(t *testing.T) {
	s, _ := testServer(t, Options{}, func(r chi.Router) {
		// A module's sub-router inherits the family-aware 404/405.
		r.Route("/api/kv/v3", func(r chi.Router) {
			r.Put("/put", func(w http.ResponseWriter, r *http.Request) {})
		})
	})
	for _, f := range familyPaths {
		path := f.prefix + "/nope"
		status, hdr, body := get(t, s.URL()+path)
		if want := f.body("not found: " + path); status != 404 || body != want || hdr.Get("Content-Type") != f.ctype {
			t.Errorf("GET %s = %d %q %q, want 404 %q", path, status, hdr.Get("Content-Type"), body, want)
		}
	}
	status, hdr, body := get(t, s.URL()+"/api/kv/v3/put")
	if want := `{"error":"method GET not allowed on /api/kv/v3/put"}`; status != 405 || body != want || hdr.Get("Allow") != "PUT" {
		t.Errorf("GET /api/kv/v3/put = %d Allow=%q %q, want 405 PUT %q", status, hdr.Get("Allow"), body, want)
	}
	status, _, body = get(t, s.URL()+"/api/kv/v3/missing")
	if want := `{"error":"not found: /api/kv/v3/missing"}`; status != 404 || body != want {
		t.Errorf("sub-router 404 = %d %q", status, body)
	}
}

func TestRequestID(t *testing.T) {
	var (
		mu   sync.Mutex
		seen []string
	)
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		return seen[len(seen)-1]
	}
	s, logs := testServer(t, Options{}, func(r chi.Router) {
		r.Get("/core/id", func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, httpx.RequestID(r.Context()))
		})
	})
	_, hdr, _ := do(t, nil, http.MethodGet, s.URL()+"/core/id", nil, HeaderRequestID, "abc-123")
	if hdr.Get(HeaderRequestID) != "abc-123" || last() != "abc-123" {
		t.Errorf("incoming id: header %q, handler %q", hdr.Get(HeaderRequestID), last())
	}
	_, hdr, _ = get(t, s.URL()+"/core/id")
	if id := hdr.Get(HeaderRequestID); id == "" || id != last() {
		t.Errorf("generated id: header %q, handler %q", id, last())
	}
	// A forged id (control characters, overlong) is replaced.
	_, hdr, _ = do(t, nil, http.MethodGet, s.URL()+"/core/id", nil, HeaderRequestID, strings.Repeat("a", 200))
	if id := hdr.Get(HeaderRequestID); len(id) > maxRequestIDLen || id == "" || id != last() {
		t.Errorf("overlong id echoed: %q", id)
	}
	if l := logs.lines(`"request_id":"abc-123"`, `"route":"/core/id"`, `"level":"DEBUG"`); len(l) != 1 {
		t.Errorf("access line with request id: %d\n%s", len(l), logs)
	}
}

func TestAccessLogLevels(t *testing.T) {
	s, logs := testServer(t, Options{}, func(r chi.Router) {
		r.Get("/core/ok", func(w http.ResponseWriter, r *http.Request) {})
		r.Get("/core/fail", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusBadGateway) })
	})
	get(t, s.URL()+"/health/ready")
	get(t, s.URL()+"/metrics")
	get(t, s.URL()+"/api/kv/none")
	get(t, s.URL()+"/core/ok")
	get(t, s.URL()+"/core/fail")
	for route, level := range map[string]string{"/health/ready": "DEBUG", "/metrics": "DEBUG", unmatchedRoute: "INFO",
		"/core/ok": "DEBUG", "/core/fail": "ERROR"} {
		if l := logs.lines(`"msg":"request"`, `"route":"`+route+`"`, `"level":"`+level+`"`, `"remote":"127.0.0.1:`, `"duration":`, `"bytes":`); len(l) != 1 {
			t.Errorf("route %s: want one %s access line, got %d\n%s", route, level, len(l), logs)
		}
	}
}

func TestMetricsRoutePattern(t *testing.T) {
	s, _ := testServer(t, Options{}, func(r chi.Router) {
		r.Route("/api/kv/v3", func(r chi.Router) {
			r.Get("/items/{id}", func(w http.ResponseWriter, r *http.Request) {})
		})
	})
	for _, id := range []string{"abc", "def", "ghi"} {
		get(t, s.URL()+"/api/kv/v3/items/"+id)
	}
	get(t, s.URL()+"/random/scan/path")
	_, _, body := get(t, s.URL()+"/metrics")
	for _, want := range []string{
		`trellis_http_requests_total{code="200",method="GET",route="/api/kv/v3/items/{id}"} 3`,
		`trellis_http_request_duration_seconds_count{method="GET",route="/api/kv/v3/items/{id}"} 3`,
		`trellis_http_requests_total{code="404",method="GET",route="unmatched"} 1`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	for _, raw := range []string{"abc", "random/scan"} {
		if strings.Contains(body, raw) {
			t.Errorf("metrics contain raw path %q", raw)
		}
	}
}

// SSE handlers need Flush and the response controller through the
// recorder.
func TestStreamingThroughMiddleware(t *testing.T) {
	s, _ := testServer(t, Options{WriteTimeout: 50 * time.Millisecond}, func(r chi.Router) {
		r.Get("/api/kv/stream", func(w http.ResponseWriter, r *http.Request) {
			rc := http.NewResponseController(w)
			if err := rc.SetWriteDeadline(time.Time{}); err != nil {
				http.Error(w, err.Error(), 500)
				return
			}
			w.Header().Set("Content-Type", "text/event-stream")
			for i := 0; i < 3; i++ {
				fmt.Fprintf(w, "data: %d\n\n", i)
				w.(http.Flusher).Flush()
				time.Sleep(40 * time.Millisecond) // past WriteTimeout in total
			}
		})
	})
	conn, err := net.Dial("tcp", s.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/kv/stream HTTP/1.1\r\nHost: x\r\n\r\n")
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "data: 2") {
		t.Fatalf("stream: %d %q", resp.StatusCode, body)
	}
}
