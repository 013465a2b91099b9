// Package tenant is the tenant module: RobustMQ's tenant, topic, user, ACL and blacklist APIs.
//
// It registers itself at init and modules.tenant.enabled decides whether it
// runs; it serves no routes until its issue lands.
package tenant

import (
	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "tenant", New: func() module.Module { return Module{} }, DefaultEnabled: true})
}

// Module is the tenant module.
type Module struct{}

// Routes mounts the module's routes: none yet.
func (Module) Routes(chi.Router) {}
