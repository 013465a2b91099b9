// Package metrics holds a node's Prometheus registry.
//
// Every node owns its own *prometheus.Registry instead of using the client
// library's global DefaultRegisterer: tests start several nodes in one
// process, and a global registry would either panic on duplicate
// registration or mix the nodes' numbers together.
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric Trellis defines.
const Namespace = "trellis"

// Registry is a node's metrics registry with the HTTP metrics the server
// middleware records.
type Registry struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	// series caches each label set's counter and histogram (httpKey →
	// *httpSeries): a vector's lookup hashes every label value, and the
	// middleware observes every request. The label sets are bounded
	// (route patterns, normalised methods, status codes), as the
	// vectors' own are.
	series sync.Map
}

type httpKey struct {
	route, method string
	code          int
}

type httpSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// New returns a Registry with the Go runtime and process collectors and the
// HTTP request metrics registered.
func New() *Registry {
	reg := prometheus.NewRegistry()
	r := &Registry{
		reg: reg,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: Namespace,
			Subsystem: "http",
			Name:      "requests_total",
			Help:      "HTTP requests served, by route pattern, method and status code.",
		}, []string{"route", "method", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: Namespace,
			Subsystem: "http",
			Name:      "request_duration_seconds",
			Help:      "Time to serve an HTTP request, by route pattern and method.",
			Buckets:   prometheus.DefBuckets,
		}, []string{"route", "method"}),
	}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		r.requests,
		r.duration,
	)
	return r
}

// Registerer is where modules and subsystems register their own collectors.
// Names should be namespaced trellis_<module>_..., the CoreDNS way.
func (r *Registry) Registerer() prometheus.Registerer { return r.reg }

// Gatherer exposes the registry for tests and for custom exporters.
func (r *Registry) Gatherer() prometheus.Gatherer { return r.reg }

// MustRegister registers collectors and panics on a conflict, which is a
// programming error found at start-up.
func (r *Registry) MustRegister(cs ...prometheus.Collector) { r.reg.MustRegister(cs...) }

// Handler serves the registry in the Prometheus exposition formats.
func (r *Registry) Handler() http.Handler {
	return promhttp.HandlerFor(r.reg, promhttp.HandlerOpts{
		// Count scrape errors in the same registry so they are visible.
		Registry: r.reg,
		// A collector failing must not hide every other metric.
		ErrorHandling: promhttp.ContinueOnError,
	})
}

// ObserveHTTP records one served request. route must be a route pattern
// (e.g. /api/kv/v3/{op}), never a raw path, so the label set stays small;
// method is normalised to the standard methods (others become OTHER) for
// the same reason.
func (r *Registry) ObserveHTTP(route, method string, code int, d time.Duration) {
	k := httpKey{route: route, method: normaliseMethod(method), code: code}
	v, ok := r.series.Load(k)
	if !ok {
		v, _ = r.series.LoadOrStore(k, &httpSeries{
			requests: r.requests.WithLabelValues(k.route, k.method, strconv.Itoa(code)),
			duration: r.duration.WithLabelValues(k.route, k.method),
		})
	}
	s := v.(*httpSeries)
	s.requests.Inc()
	s.duration.Observe(d.Seconds())
}

// normaliseMethod bounds the method label: a client can send any token as
// a method, and each distinct value would be a new time series.
func normaliseMethod(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
		http.MethodPatch, http.MethodDelete, http.MethodOptions,
		http.MethodConnect, http.MethodTrace:
		return m
	}
	return "OTHER"
}
