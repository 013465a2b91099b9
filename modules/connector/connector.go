// Package connector is the connector module: RobustMQ's connector API, with connectors run as WebAssembly plugins.
//
// It registers itself at init and modules.connector.enabled decides whether it
// runs; it serves no routes until its issue lands.
package connector

import (
	"github.com/go-chi/chi/v5"

	"github.com/trellis-cp/trellis/core/module"
)

func init() {
	module.Register(module.Info{Name: "connector", New: func() module.Module { return Module{} }, DefaultEnabled: true})
}

// Module is the connector module.
type Module struct{}

// Routes mounts the module's routes: none yet.
func (Module) Routes(chi.Router) {}
