// Package tenant is the tenant module: RobustMQ's tenant, topic, user, ACL and blacklist APIs.
//
// It registers itself at init; modules.tenant.enabled decides whether it runs.
// Its routes are not built yet: the module starts, owns its namespace of the
// replicated store, and serves nothing until its issue lands.
package tenant

import (
	"context"

	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "tenant", New: func() module.Module { return new(Module) }, DefaultEnabled: true})
}

// Module is the tenant module.
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
