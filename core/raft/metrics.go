package raft

import "github.com/prometheus/client_golang/prometheus"

// metrics are the raft figures /metrics exposes, namespaced trellis_raft_*.
type metrics struct {
	term              prometheus.Gauge
	isLeader          prometheus.Gauge
	leaderChanges     prometheus.Counter
	proposalsCommited prometheus.Counter
	proposalsFailed   prometheus.Counter
	applyLag          prometheus.Gauge
	appliedIndex      prometheus.Gauge
	snapshots         prometheus.Counter
	readIndexBatches  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		term:              prometheus.NewGauge(prometheus.GaugeOpts{Name: "trellis_raft_term", Help: "Current raft term."}),
		isLeader:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "trellis_raft_is_leader", Help: "1 when this node is the leader."}),
		leaderChanges:     prometheus.NewCounter(prometheus.CounterOpts{Name: "trellis_raft_leader_changes_total", Help: "Leader changes seen by this node."}),
		proposalsCommited: prometheus.NewCounter(prometheus.CounterOpts{Name: "trellis_raft_proposals_committed_total", Help: "Proposals from this node applied."}),
		proposalsFailed:   prometheus.NewCounter(prometheus.CounterOpts{Name: "trellis_raft_proposals_failed_total", Help: "Proposals from this node that failed or timed out."}),
		applyLag:          prometheus.NewGauge(prometheus.GaugeOpts{Name: "trellis_raft_apply_lag_entries", Help: "Committed entries not yet applied."}),
		appliedIndex:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "trellis_raft_applied_index", Help: "Last applied raft index."}),
		snapshots:         prometheus.NewCounter(prometheus.CounterOpts{Name: "trellis_raft_snapshots_total", Help: "Raft snapshots taken or installed."}),
		readIndexBatches:  prometheus.NewCounter(prometheus.CounterOpts{Name: "trellis_raft_read_index_batches_total", Help: "ReadIndex rounds; each serves a batch of linearizable reads."}),
	}
	if reg != nil {
		reg.MustRegister(m.term, m.isLeader, m.leaderChanges, m.proposalsCommited, m.proposalsFailed,
			m.applyLag, m.appliedIndex, m.snapshots, m.readIndexBatches)
	}
	return m
}
