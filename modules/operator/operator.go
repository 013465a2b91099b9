// Package operator is the operator module: Consul's operator raft API
// (/v1/operator/raft/*) and etcdmonitor's ops API (/api/ops/*).
//
// Consul's routes answer in Consul's shapes (Go field names, plain-text
// errors) so the real Consul client (github.com/hashicorp/consul/api) works
// against a node; the ops routes answer in etcdmonitor's shapes
// (internal/ops/handler.go in domac/etcdmonitor). Operations that belong to
// one member (defragment, snapshot, a member's hash) are forwarded to that
// member; the raft configuration is answered by the leader unless the
// caller asks for ?stale. README.md lists the routes.
package operator

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/audit"
	"github.com/trellis-cp/trellis/core/auth"
	"github.com/trellis-cp/trellis/core/httpx"
	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{
		Name:           "operator",
		New:            func() module.Module { return &Module{} },
		DefaultEnabled: true,
		Disabled:       opsDisabledRoutes,
	})
}

// options are the module's config keys besides enabled.
type options struct {
	// OpsEnabled switches etcdmonitor's ops API (/api/ops/*) on; off, every
	// ops route answers 403 as etcdmonitor's does. Consul's routes stay.
	OpsEnabled bool `koanf:"ops_enabled"`
}

// Module is the operator module.
type Module struct {
	opts    options
	cluster module.Cluster
	maint   module.Maintenance
	peers   module.Peers
	audit   *audit.Log
	auth    *auth.Service
	self    uint64
	log     *slog.Logger
}

// Defaults implements module.Configurer.
func (m *Module) Defaults() any {
	m.opts = options{OpsEnabled: true}
	return &m.opts
}

// Provision implements module.Provisioner.
func (m *Module) Provision(_ context.Context, h module.Host) error {
	if h.Cluster == nil || h.Maintenance == nil || h.Peers == nil {
		return fmt.Errorf("operator: host lacks cluster, maintenance or peers")
	}
	m.cluster, m.maint, m.peers, m.audit, m.auth, m.self = h.Cluster, h.Maintenance, h.Peers, h.Audit, h.Auth, h.NodeID
	m.log = h.Logger
	if m.log == nil {
		m.log = slog.Default()
	}
	return nil
}

// Routes implements module.Module.
func (m *Module) Routes(r chi.Router) {
	m.consulRoutes(r)
	if m.opts.OpsEnabled {
		m.opsRoutes(r)
	} else {
		opsDisabledRoutes(r)
	}
}

// route mounts h with the permission it needs.
func (m *Module) route(r chi.Router, method, pattern string, perm auth.Permission, h http.HandlerFunc) {
	if m.auth == nil {
		r.Method(method, pattern, h)
		return
	}
	m.auth.Route(r, method, pattern, perm, h)
}

// opsDisabledRoutes answers every /api/ops/* route with etcdmonitor's 403.
func opsDisabledRoutes(r chi.Router) {
	r.HandleFunc("/api/ops/*", func(w http.ResponseWriter, _ *http.Request) {
		httpx.JSON(w, http.StatusForbidden, map[string]string{"error": "ops panel is disabled"})
	})
}
