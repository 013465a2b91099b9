package plugin

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/trellis-cp/trellis/core/metrics"
)

// hostMetrics are the host's collectors, registered once per Host in the
// node's registry; label plugin carries the plugin name.
type hostMetrics struct {
	calls        *prometheus.CounterVec
	callDuration *prometheus.HistogramVec
	records      *prometheus.CounterVec
	instances    *prometheus.GaugeVec
	replaced     *prometheus.CounterVec
	denied       *prometheus.CounterVec
	loads        *prometheus.CounterVec
	guestCounter *prometheus.CounterVec
	guestGauge   *prometheus.GaugeVec
}

func newHostMetrics(reg prometheus.Registerer) (*hostMetrics, error) {
	ns, sub := metrics.Namespace, "plugin"
	m := &hostMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "calls_total",
			Help: "Calls into plugins, by plugin, entry point and result (ok, error, timeout, trap)."},
			[]string{"plugin", "call", "result"}),
		callDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: ns, Subsystem: sub,
			Name:    "call_duration_seconds",
			Help:    "Time of one call into a plugin (a whole batch), by plugin and entry point.",
			Buckets: []float64{1e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1, 5, 10}},
			[]string{"plugin", "call"}),
		records: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "records_total",
			Help: "Records passed to plugins in batches, by plugin and entry point."},
			[]string{"plugin", "call"}),
		instances: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "instances",
			Help: "Live plugin instances (idle or in a call), by plugin."},
			[]string{"plugin"}),
		replaced: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "instances_discarded_total",
			Help: "Plugin instances discarded, by plugin and reason (trap, timeout, canceled, memory, protocol)."},
			[]string{"plugin", "reason"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "denied_total",
			Help: "Host function calls refused by the manifest, by plugin and operation."},
			[]string{"plugin", "op"}),
		loads: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "loads_total",
			Help: "Plugin loads, by result (ok, error)."},
			[]string{"result"}),
		guestCounter: prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: ns, Subsystem: sub,
			Name: "guest_counter_total",
			Help: "Counters a plugin keeps through metric_counter_add, by plugin and name."},
			[]string{"plugin", "name"}),
		guestGauge: prometheus.NewGaugeVec(prometheus.GaugeOpts{Namespace: ns, Subsystem: sub,
			Name: "guest_gauge",
			Help: "Gauges a plugin sets through metric_gauge_set, by plugin and name."},
			[]string{"plugin", "name"}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.callDuration, m.records, m.instances,
		m.replaced, m.denied, m.loads, m.guestCounter, m.guestGauge} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// callMetrics are one plugin's hot-path series, resolved once at load so a
// call does no label lookup.
type callMetrics struct {
	ok, guestErr, timeout, trap prometheus.Counter
	duration                    prometheus.Observer
	records                     prometheus.Counter
}

func (m *hostMetrics) forCall(plugin, call string) *callMetrics {
	return &callMetrics{
		ok:       m.calls.WithLabelValues(plugin, call, "ok"),
		guestErr: m.calls.WithLabelValues(plugin, call, "error"),
		timeout:  m.calls.WithLabelValues(plugin, call, "timeout"),
		trap:     m.calls.WithLabelValues(plugin, call, "trap"),
		duration: m.callDuration.WithLabelValues(plugin, call),
		records:  m.records.WithLabelValues(plugin, call),
	}
}
