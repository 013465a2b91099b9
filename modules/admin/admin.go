// Package admin is the admin module: GreptimeDB's metasrv admin API, CockroachDB's Cluster API v2 nodes and ranges, and etcdmonitor's dashboard API.
//
// It registers itself at init; modules.admin.enabled decides whether it runs.
// Its routes are not built yet: the module starts, owns its namespace of the
// replicated store, and serves nothing until its issue lands.
package admin

import (
	"context"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "admin", New: func() module.Module { return new(Module) }, DefaultEnabled: true})
}

// Module is the admin module.
type Module struct {
	host module.Host
}

// Provision keeps the host for the handlers.
func (m *Module) Provision(_ context.Context, h module.Host) error {
	m.host = h
	return nil
}

// Routes mounts the module's routes (none yet).
func (m *Module) Routes(chi.Router) {}

var (
	_ module.Module      = (*Module)(nil)
	_ module.Provisioner = (*Module)(nil)
)
