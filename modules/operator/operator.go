// Package operator is the operator module: Consul's operator raft API and etcdmonitor's ops API.
//
// It registers itself at init and modules.operator.enabled decides whether it
// runs; it serves no routes until its issue lands.
package operator

import (
	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "operator", New: func() module.Module { return Module{} }, DefaultEnabled: true})
}

// Module is the operator module.
type Module struct{}

// Routes mounts the module's routes: none yet.
func (Module) Routes(chi.Router) {}
