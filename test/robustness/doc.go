// Package robustness checks that Trellis keeps etcd's promises under
// faults: every acknowledged write survives, and every read is
// linearizable unless the caller asked for a stale one.
//
// The harness runs 3- and 5-node clusters of the real binary (built with
// the failpoints tag) as processes on loopback, each node behind a peer
// proxy that can partition, blackhole, delay or drop its raft traffic. It
// drives concurrent KV traffic over HTTP from several clients on different
// nodes, records every request with its call and return time, injects one
// fault per scenario, heals it, and then checks:
//
//   - the history with porcupine against a KV model (model.go); requests
//     whose outcome the client never learned count as possibly applied;
//   - stale (serializable) reads against their own, weaker guarantee
//     (check.go);
//   - convergence: every member at the same revision with the same hash,
//     the same value for every key, and every acknowledged write readable
//     at its revision on every member (converge.go).
//
// `go test ./test/robustness` runs a short pass; TRELLIS_ROBUSTNESS=full
// (make robustness) runs the whole matrix and writes a report to
// test/robustness/report-<timestamp>.md.
//
// Peer addresses: a node advertises the raft address it was bootstrapped
// with (raft.addr must equal its own entry in raft.initial_cluster), so a
// cluster is first started on the proxies' addresses, stopped, and then
// restarted with each node listening on a private port while its proxy
// takes over the advertised one (cluster.go). A restarted node takes its
// peers from the member table and never needs initial_cluster again.
package robustness
