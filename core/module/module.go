// Package module defines how an API family plugs into a Trellis node.
//
// A module declares itself in an init function with Register, the way Caddy
// modules and CoreDNS plugins do; the import list in cmd/trellis decides what
// is compiled in and modules.<name>.enabled decides what runs. A module never
// reaches into raft or Badger: it is given a Host with a store handle for its
// own namespace, a logger and its config section, and mounts its routes on a
// chi sub-router.
//
// Lifecycle, in order: New → Provision (optional) → Validate (optional) →
// Start (optional) → Routes → Stop (optional, on shutdown).
package module

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"sync"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/plugin"
	"github.com/trellis-cp/trellis/core/raft"
	"github.com/trellis-cp/trellis/core/store"
)

// Cluster is the view of the raft group a module may use. It is satisfied by
// *raft.Node; modules see this interface, never raft itself.
type Cluster interface {
	ID() uint64
	Leader() uint64
	Term() uint64
	AppliedIndex() uint64
	Members() []raft.Member
	AddMember(ctx context.Context, m raft.Member) ([]raft.Member, error)
	RemoveMember(ctx context.Context, id uint64) error
	TransferLeadership(ctx context.Context, to uint64) error
	IsLeader() bool
	// LastIndexes is the last raft index known for each member (all of
	// them on the leader, only this node elsewhere).
	LastIndexes() map[uint64]uint64
}

// Maintenance is the state store's maintenance side, for the operator
// module: revisions, compaction, consistency hashes, alarms, defragmenting
// and snapshots. It is satisfied by *store.Store.
type Maintenance interface {
	Revision() int64
	CompactedRevision() int64
	Compact(ctx context.Context, rev int64) error
	CompactPhysical(ctx context.Context, rev int64) error
	HashKV(ctx context.Context, rev int64) (store.HashResult, error)
	Alarms() []store.Alarm
	RaiseAlarm(ctx context.Context, a store.Alarm) error
	DisarmAlarm(ctx context.Context, a store.Alarm) error
	StateSize() int64
	Defragment(ctx context.Context) (before, after int64, err error)
	Snapshot(ctx context.Context, w io.Writer) (store.SnapshotInfo, error)
}

var _ Maintenance = (*store.Store)(nil)

// Peers reaches the other members' HTTP APIs, for requests that must be
// answered by one member in particular (the leader, or the member an
// operation names). Requests carry the caller's own credentials: sessions
// are replicated, so the member checks them itself.
type Peers interface {
	// Forward proxies r to member id and copies its answer to w. The
	// request is audited by the member that serves it, not by this one.
	// It answers 502 in the route family's format when the member cannot
	// be reached, 404 when id is not a member.
	Forward(w http.ResponseWriter, r *http.Request, id uint64)
	// Forwarded reports whether r came from another member's Forward, so a
	// handler never forwards twice.
	Forwarded(r *http.Request) bool
	// Do sends req to member id; req.URL holds only the path and query.
	// The caller closes the response body.
	Do(ctx context.Context, id uint64, req *http.Request) (*http.Response, error)
}

var _ Cluster = (*raft.Node)(nil)

// Module is the one interface every API family implements.
type Module interface {
	// Routes mounts the module's handlers. Paths are absolute (the families'
	// public paths, e.g. /api/kv/v3/put), so r is the node's root router
	// scoped to the module's middleware.
	Routes(r chi.Router)
}

// Info describes a module to the registry.
type Info struct {
	// Name is the module's config section: modules.<Name>.enabled.
	Name string
	// New returns a fresh, unconfigured module.
	New func() Module
	// DefaultEnabled is the value of modules.<Name>.enabled when the config
	// does not say.
	DefaultEnabled bool
	// Disabled, when set, mounts what the module's routes answer while it is
	// switched off (etcdmonitor answers 403 on /api/ops/* when ops are
	// disabled); without it they are 404.
	Disabled func(r chi.Router)
}

// Host is what a node hands each module.
type Host struct {
	// NodeID is this node's raft id.
	NodeID uint64
	// Store is the replicated store scoped to the module's own namespace.
	Store *store.Namespace
	// Auth is the session system: Route declares a route's permission,
	// FromContext (package auth) tells a handler who is calling.
	Auth *auth.Service
	// Audit is the replicated audit log (the operator module serves it).
	Audit *audit.Log
	// Maintenance is the state store's maintenance API (operator module).
	Maintenance Maintenance
	// Peers forwards requests to other members.
	Peers Peers
	// Cluster answers membership and leadership questions and makes
	// membership changes.
	Cluster Cluster
	// Logger carries a module attribute.
	Logger *slog.Logger
	// Options are the module's config keys other than enabled, already
	// checked by the module's Configurer if it has one.
	Options map[string]any
	// DataDir is a directory private to the module.
	DataDir string
	// Plugins serves the node's WebAssembly plugins by name (shipped,
	// dropped into plugins.dir, or uploaded); Acquire one to call it.
	Plugins *plugin.Registry
}

// Configurer is implemented by modules that take config keys besides
// enabled. Defaults returns a pointer to a struct with koanf tags; the config
// loader decodes the module's section into it strictly, so an unknown or
// mistyped key stops start-up with a line naming it.
type Configurer interface {
	Defaults() any
}

// Provisioner is implemented by modules that need the Host before Start.
type Provisioner interface {
	Provision(ctx context.Context, h Host) error
}

// Validator is implemented by modules that check their config after
// provisioning.
type Validator interface {
	Validate() error
}

// Starter is implemented by modules with background work.
type Starter interface {
	Start(ctx context.Context) error
}

// Stopper is implemented by modules that must release resources on shutdown.
type Stopper interface {
	Stop(ctx context.Context) error
}

var (
	mu       sync.RWMutex
	registry = map[string]Info{}
)

// Register adds a module to the registry. It panics on a duplicate or empty
// name, which is a programming error caught at init time.
func Register(info Info) {
	mu.Lock()
	defer mu.Unlock()
	if !validName(info.Name) || info.New == nil {
		panic(fmt.Sprintf("module: Register needs a name of [a-z0-9_] and a constructor, got %q", info.Name))
	}
	if _, dup := registry[info.Name]; dup {
		panic(fmt.Sprintf("module: %q registered twice", info.Name))
	}
	registry[info.Name] = info
}

// Lookup returns a registered module by name.
func Lookup(name string) (Info, bool) {
	mu.RLock()
	defer mu.RUnlock()
	info, ok := registry[name]
	return info, ok
}

// All returns every registered module, sorted by name so start order is
// deterministic.
func All() []Info {
	mu.RLock()
	defer mu.RUnlock()
	out := make([]Info, 0, len(registry))
	for _, info := range registry {
		out = append(out, info)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// validName keeps module names to [a-z0-9_]: they are config keys and store
// namespaces, and core's own namespaces (core.auth, core.audit) contain a
// dot so no module can take them.
func validName(name string) bool {
	if name == "" || len(name) > 32 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
