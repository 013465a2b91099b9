// Package httpx holds the small HTTP helpers every module uses to answer in
// its API family's own format.
//
// Trellis serves the admin APIs of five systems on one port, and each of
// their clients parses errors its own way: etcdmonitor's frontend reads
// {"error": ...}, Consul's Go client shows the plain-text body, RobustMQ
// clients read an envelope with a numeric code. A 404 or a 500 produced by
// shared code (router, recovery, body limits) must therefore be written in
// the format of the family whose path was asked for, which is what Error
// does. httpx imports nothing from the rest of Trellis so any package can
// use it.
package httpx

import "strings"

// Family is an API family: the format its errors and envelopes take.
type Family int

const (
	// FamilyCore is Trellis's own format: JSON {"error": msg}.
	FamilyCore Family = iota
	// FamilyEtcdmonitor is etcdmonitor's dashboard, KV and ops API:
	// JSON {"error": msg} with an optional "code".
	FamilyEtcdmonitor
	// FamilyConsul is Consul's HTTP API: errors are a plain-text body.
	FamilyConsul
	// FamilyCockroach is CockroachDB's Cluster API v2: errors are plain
	// text, as http.Error writes them.
	FamilyCockroach
	// FamilyRobustMQ is RobustMQ's admin API: every answer is an envelope
	// {"code":..,"data":..,"error":..}.
	FamilyRobustMQ
	// FamilyGreptime is GreptimeDB's metasrv admin API: plain text.
	FamilyGreptime
)

// String names the family for logs.
func (f Family) String() string {
	switch f {
	case FamilyEtcdmonitor:
		return "etcdmonitor"
	case FamilyConsul:
		return "consul"
	case FamilyCockroach:
		return "cockroach"
	case FamilyRobustMQ:
		return "robustmq"
	case FamilyGreptime:
		return "greptime"
	default:
		return "core"
	}
}

// familyPrefixes maps the route prefixes of DESIGN.md's route table to
// families. A prefix ending in "/" matches anything below it; any other
// prefix matches itself and its sub-paths on a segment boundary, so
// /api/kv matches /api/kv/v3/put but not /api/kvx. /api/v2 is listed before
// the other /api prefixes only for readability: no two prefixes overlap.
var familyPrefixes = []struct {
	prefix string
	family Family
}{
	{"/api/v2", FamilyCockroach},
	{"/api/kv", FamilyEtcdmonitor},
	{"/api/ops", FamilyEtcdmonitor},
	{"/api/auth", FamilyEtcdmonitor},
	{"/api/members", FamilyEtcdmonitor},
	{"/api/current", FamilyEtcdmonitor},
	{"/api/range", FamilyEtcdmonitor},
	{"/api/status", FamilyEtcdmonitor},
	{"/api/debug", FamilyEtcdmonitor},
	{"/api/user", FamilyEtcdmonitor},
	{"/v1/", FamilyConsul},
	{"/api/cluster", FamilyRobustMQ},
	{"/api/tenant", FamilyRobustMQ},
	{"/api/plugins", FamilyRobustMQ},
	{"/cluster/", FamilyRobustMQ},
	{"/health/", FamilyRobustMQ},
	{"/admin", FamilyGreptime},
}

// FamilyFor returns the family whose routes include path. Paths outside
// every family (/metrics, /, unknown prefixes) are FamilyCore.
func FamilyFor(path string) Family {
	for _, p := range familyPrefixes {
		if hasPathPrefix(path, p.prefix) {
			return p.family
		}
	}
	return FamilyCore
}

// hasPathPrefix reports whether path is prefix or lies below it.
func hasPathPrefix(path, prefix string) bool {
	if !strings.HasPrefix(path, prefix) {
		return false
	}
	if strings.HasSuffix(prefix, "/") || len(path) == len(prefix) {
		return true
	}
	return path[len(prefix)] == '/'
}
