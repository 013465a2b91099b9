// Package operator is the operator module: Consul's operator raft API and etcdmonitor's ops API.
//
// It registers itself at init; modules.operator.enabled decides whether it runs.
// Its routes are not built yet: the module starts, owns its namespace of the
// replicated store, and serves nothing until its issue lands.
package operator

import (
	"context"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "operator", New: func() module.Module { return new(Module) }, DefaultEnabled: true})
}

// Module is the operator module.
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
