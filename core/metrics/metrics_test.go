package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// scrape returns r's exposition text.
func scrape(t *testing.T, r *Registry) string {
	t.Helper()
	w := httptest.NewRecorder()
	r.Handler().ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body, _ := io.ReadAll(w.Body)
	return string(body)
}

// Two registries in one process must not conflict: tests start several
// nodes side by side.
func TestNewTwice(t *testing.T) {
	a, b := New(), New()
	a.ObserveHTTP("/x", http.MethodGet, 200, time.Millisecond)
	if want := `trellis_http_requests_total{code="200",method="GET",route="/x"} 1`; !strings.Contains(scrape(t, a), want) {
		t.Fatalf("a lacks %q", want)
	}
	if strings.Contains(scrape(t, b), `route="/x"`) {
		t.Fatal("b shows a's request")
	}
}

func TestObserveHTTPNormalisesMethod(t *testing.T) {
	r := New()
	r.ObserveHTTP("/x", "BREW", 418, time.Millisecond)
	if want := `trellis_http_requests_total{code="418",method="OTHER",route="/x"} 1`; !strings.Contains(scrape(t, r), want) {
		t.Fatalf("metrics lack %q", want)
	}
}

func TestHandlerExposesRuntimeAndHTTP(t *testing.T) {
	r := New()
	r.ObserveHTTP("/api/kv/v3/{op}", http.MethodPost, 200, 5*time.Millisecond)
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "trellis_test_total", Help: "t"})
	r.MustRegister(c)
	c.Inc()
	body := scrape(t, r)
	for _, want := range []string{
		`trellis_http_requests_total{code="200",method="POST",route="/api/kv/v3/{op}"} 1`,
		`trellis_http_request_duration_seconds_bucket{method="POST",route="/api/kv/v3/{op}",le="0.005"} 1`,
		"go_goroutines",
		"process_cpu_seconds_total",
		"trellis_test_total 1",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}

// Observations of one label set add up in one series, however often they
// come, and another status or method is a series of its own.
func TestObserveHTTPAccumulates(t *testing.T) {
	r := New()
	for range 3 {
		r.ObserveHTTP("/api/kv/v3/{op}", http.MethodPut, 200, time.Millisecond)
	}
	r.ObserveHTTP("/api/kv/v3/{op}", http.MethodPut, 409, time.Millisecond)
	r.ObserveHTTP("/api/kv/v3/{op}", "BREW", 200, time.Millisecond)
	r.ObserveHTTP("/api/kv/v3/{op}", "MELT", 200, time.Millisecond)
	body := scrape(t, r)
	for _, want := range []string{
		`trellis_http_requests_total{code="200",method="PUT",route="/api/kv/v3/{op}"} 3`,
		`trellis_http_requests_total{code="409",method="PUT",route="/api/kv/v3/{op}"} 1`,
		`trellis_http_requests_total{code="200",method="OTHER",route="/api/kv/v3/{op}"} 2`,
		`trellis_http_request_duration_seconds_count{method="PUT",route="/api/kv/v3/{op}"} 4`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
