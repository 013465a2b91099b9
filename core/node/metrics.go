package node

import (
	"github.com/prometheus/client_golang/prometheus"
)

// registerStoreMetrics exposes storage figures: sizes, fsync count and
// total fsync time (rate(seconds)/rate(count) is the mean latency), and the
// store revision.
func (n *Node) registerStoreMetrics() {
	s := n.store
	n.metrics.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trellis_storage_raft_log_bytes", Help: "Raft log size on disk."},
			func() float64 { l, _ := s.Sizes(); return float64(l) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trellis_storage_state_bytes", Help: "State store size on disk."},
			func() float64 { _, st := s.Sizes(); return float64(st) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "trellis_storage_fsyncs_total", Help: "Raft log fsyncs."},
			func() float64 { c, _ := s.Fsyncs(); return float64(c) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "trellis_storage_fsync_seconds_total", Help: "Time spent in raft log fsyncs."},
			func() float64 { _, d := s.Fsyncs(); return d.Seconds() }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trellis_store_revision", Help: "Newest applied store revision."},
			func() float64 { return float64(s.Revision()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "trellis_store_compacted_revision", Help: "Oldest readable store revision."},
			func() float64 { return float64(s.CompactedRevision()) }),
	)
}
