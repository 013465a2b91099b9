// Package robustmq holds what every module serving RobustMQ's cluster
// management API shares: its envelope for errors, its request-body rules
// ("JSON parsing failed: ...", "Parameter validation failed: ..."), and its
// list queries (page, limit, sort_field, sort_by, filter_field,
// filter_values, exact_match) with the {data, total_count} page.
//
// Success bodies are written with httpx.RobustOK; this package adds the
// parts that are about RobustMQ's rules rather than its envelope.
package robustmq
